/**
 * The outbox: sealed batches wait here until a chain node's verified receipt arrives.
 *
 * Batches are submitted strictly in sequence order (the anchor contract refuses gaps), one at a
 * time, retried with exponential backoff and full jitter. A batch leaves only with its receipt; the
 * gateway keeps accepting and sealing while the node is away. This first version keeps the queue in
 * memory; the durable on-disk outbox replaces it behind the same interface.
 */
import { EventEmitter } from 'node:events';
import type { BatchSubmission, SignedReceipt } from '../../protocol/submission';
import type { ChainNodeClient } from '../chain/chain-client';

export interface OutboxItem {
  readonly seq: number;
  readonly count: number;
  readonly headerHash: string;
  readonly root: string;
  readonly submission: BatchSubmission;
}

export interface OutboxOptions {
  client: Pick<ChainNodeClient, 'submit'>;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  onError?: (item: OutboxItem, err: Error, attempt: number) => void;
}

export interface OutboxEvents {
  receipt: [OutboxItem, SignedReceipt];
  /** The queue became empty, or the outbox was stopped. */
  idle: [];
}

export class Outbox extends EventEmitter<OutboxEvents> {
  readonly #queue: OutboxItem[] = [];
  #running = false;
  #stopped = false;
  #wake: (() => void) | null = null;
  readonly #opts: Required<Omit<OutboxOptions, 'onError'>> & Pick<OutboxOptions, 'onError'>;

  constructor(opts: OutboxOptions) {
    super();
    this.#opts = { baseDelayMs: 200, maxDelayMs: 30_000, random: Math.random, ...opts };
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** The batch waiting longest (the next to go), if any: its age is the outbox's age. */
  get oldest(): OutboxItem | undefined {
    return this.#queue[0];
  }

  /** Where batches go from the next attempt on (a flow's chain-node configuration, or back to the default). */
  setClient(client: OutboxOptions['client']): void {
    this.#opts.client = client;
  }

  get client(): OutboxOptions['client'] {
    return this.#opts.client;
  }

  enqueue(item: OutboxItem): void {
    if (this.#stopped) throw new Error(`outbox stopped: batch ${item.seq} not accepted`);
    const last = this.#queue[this.#queue.length - 1];
    if (last && item.seq !== last.seq + 1) throw new Error(`outbox: batch ${item.seq} enqueued after ${last.seq}`);
    this.#queue.push(item);
    if (!this.#running) void this.#run();
  }

  /** Resolves when every enqueued batch has its receipt (or the outbox is stopped). */
  async drained(): Promise<void> {
    if (this.#queue.length === 0 || this.#stopped) return;
    await new Promise<void>((resolve) => this.once('idle', resolve));
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.();
    this.emit('idle');
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0 && !this.#stopped) {
        const item = this.#queue[0]!;
        let attempt = 0;
        for (;;) {
          try {
            const receipt = await this.#opts.client.submit(item.submission, { seq: item.seq, headerHash: item.headerHash, root: item.root });
            this.#queue.shift();
            this.emit('receipt', item, receipt);
            if (this.#queue.length === 0) this.emit('idle');
            break;
          } catch (err) {
            attempt++;
            this.#opts.onError?.(item, err as Error, attempt);
            if (this.#stopped) return;
            const cap = Math.min(this.#opts.maxDelayMs, this.#opts.baseDelayMs * 2 ** Math.min(attempt, 20));
            await this.#sleep(this.#opts.random() * cap);
            if (this.#stopped) return;
          }
        }
      }
    } finally {
      this.#running = false;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
