/**
 * The outbox: sealed batches wait here until a chain node's verified receipt arrives.
 *
 * Batches are submitted strictly in sequence order (the anchor contract refuses gaps), retried with
 * exponential backoff and full jitter. A batch leaves only with its receipt; the gateway keeps
 * accepting and sealing while the node is away. The durable copy of every queued batch is in the
 * state database (OutboxStore); this is the queue that sends them.
 *
 * Window: the batches waiting at the head of the queue (up to `window`, and `windowBytes` of
 * submissions) go together in one request (`submit-batches`) when the client can, so a chain node
 * folds several of this gateway's batches into one anchor transaction instead of one per
 * transaction (docs/contracts.md, "Gas"). Their receipts are taken in order: the first batch the
 * node refused, and every batch after it, are sent again (a later receipt is not taken before an
 * earlier one, so the chain of receipts has no hole).
 *
 * Memory stays flat however long the node is away: given `envelopes` (where the store reads them
 * back), the outbox keeps in memory the envelopes of only the next few batches (`keep`, default 2)
 * and reads each other one back when its turn comes. An envelope is the bulk of a batch (about
 * 350 KB for a thousand readings), and a heap snapshot of a gateway whose chain node lagged held 54
 * of them, 19 MB: an hour away at 1000 readings/s would have outgrown the heap cap.
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
  client: Pick<ChainNodeClient, 'submit'> & { submitMany?(items: ReadonlyArray<{ sub: BatchSubmission; expect: { seq: number; headerHash: string; root: string } }>): Promise<Array<SignedReceipt | Error>> };
  /** At most this many batches in one request (default 16; 1 sends one at a time). */
  window?: number;
  /** ... and at most this many bytes of submissions, unless one batch alone is larger (default 8 MiB; envelopes read from the store for a request are held only while it is sent). */
  windowBytes?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  onError?: (item: OutboxItem, err: Error, attempt: number) => void;
  /**
   * The store's copy of queued envelopes. An item enqueued with an empty envelope (never a real
   * one: an envelope holds at least its slice directory) has its envelope read from here when it is
   * sent; beyond the first `keep` (default 2) queued batches, envelopes are dropped from memory.
   */
  envelopes?: { load(seq: number): string | undefined; keep?: number };
}

/** A queued batch; its envelope is in the store (empty here) when `onDisk`. */
interface Queued {
  readonly item: OutboxItem;
  readonly onDisk: boolean;
}

export interface OutboxEvents {
  receipt: [OutboxItem, SignedReceipt];
  /** The queue became empty, or the outbox was stopped. */
  idle: [];
}

export class Outbox extends EventEmitter<OutboxEvents> {
  readonly #queue: Queued[] = [];
  #running = false;
  #stopped = false;
  #wake: (() => void) | null = null;
  readonly #opts: Required<Omit<OutboxOptions, 'onError' | 'envelopes'>> & Pick<OutboxOptions, 'onError' | 'envelopes'>;

  constructor(opts: OutboxOptions) {
    super();
    this.#opts = { baseDelayMs: 200, maxDelayMs: 30_000, random: Math.random, window: 16, windowBytes: 8 * 1024 * 1024, ...opts };
  }

  get pending(): number {
    return this.#queue.length;
  }

  /**
   * The batch waiting longest (the next to go), if any: its age is the outbox's age. Its header is
   * there; its envelope may be empty (read from the store when sent).
   */
  get oldest(): OutboxItem | undefined {
    return this.#queue[0]?.item;
  }

  /** Queued batches whose envelopes are held in memory (the rest are read from the store when sent). */
  get envelopesInMemory(): number {
    return this.#queue.filter((q) => !q.onDisk).length;
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
    const last = this.#queue[this.#queue.length - 1]?.item;
    if (last && item.seq !== last.seq + 1) throw new Error(`outbox: batch ${item.seq} enqueued after ${last.seq}`);
    const store = this.#opts.envelopes;
    if (store && (item.submission.envelope === '' || this.#queue.length >= (store.keep ?? 2))) {
      this.#queue.push({ item: item.submission.envelope === '' ? item : { ...item, submission: { ...item.submission, envelope: '' } }, onDisk: true });
    } else {
      if (item.submission.envelope === '') throw new Error(`outbox: batch ${item.seq} has no envelope and no store to read it from`);
      this.#queue.push({ item, onDisk: false });
    }
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

  /** The batches of the next request, envelopes at hand: the head of the queue, up to the window. */
  #next(): OutboxItem[] {
    const max = this.#opts.client.submitMany ? Math.max(1, this.#opts.window) : 1;
    const out: OutboxItem[] = [];
    let bytes = 0;
    for (const queued of this.#queue) {
      if (out.length >= max) break;
      const item = queued.onDisk ? this.#withEnvelope(queued.item) : queued.item;
      const size = item.submission.envelope.length + item.submission.header.length;
      if (out.length > 0 && bytes + size > this.#opts.windowBytes) break;
      out.push(item);
      bytes += size;
    }
    return out;
  }

  /** Sends the batches; takes their receipts in order; throws the first batch's error if it got none. */
  async #send(items: OutboxItem[]): Promise<void> {
    const expect = (i: OutboxItem) => ({ seq: i.seq, headerHash: i.headerHash, root: i.root });
    const client = this.#opts.client;
    const results = items.length > 1 && client.submitMany ? await client.submitMany(items.map((i) => ({ sub: i.submission, expect: expect(i) }))) : [await client.submit(items[0]!.submission, expect(items[0]!))];
    for (const [k, r] of results.entries()) {
      if (r instanceof Error) {
        if (k === 0) throw r;
        return; // the rest go again, from this one
      }
      this.#queue.shift();
      this.emit('receipt', items[k]!, r);
    }
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      let attempt = 0;
      while (this.#queue.length > 0 && !this.#stopped) {
        let items: OutboxItem[] = [];
        try {
          items = this.#next();
          await this.#send(items);
          attempt = 0;
          if (this.#queue.length === 0) this.emit('idle');
        } catch (err) {
          attempt++;
          this.#opts.onError?.(items[0] ?? this.#queue[0]!.item, err as Error, attempt);
          if (this.#stopped) return;
          const cap = Math.min(this.#opts.maxDelayMs, this.#opts.baseDelayMs * 2 ** Math.min(attempt, 20));
          await this.#sleep(this.#opts.random() * cap);
          if (this.#stopped) return;
        }
      }
    } finally {
      this.#running = false;
    }
  }

  #withEnvelope(item: OutboxItem): OutboxItem {
    const envelope = this.#opts.envelopes?.load(item.seq);
    if (!envelope) throw new Error(`outbox: the envelope of batch ${item.seq} is not in the store`);
    return { ...item, submission: { ...item.submission, envelope } };
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
