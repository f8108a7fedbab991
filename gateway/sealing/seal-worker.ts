/**
 * The seal worker: a worker thread that runs buildSealedBatch, so the Merkle tree, the encryption and
 * the BLS signature of a batch use another core while the main thread keeps journaling and
 * acknowledging readings. The long-term keys arrive once, in workerData, the current epoch key with
 * each batch (same process, never on disk or in a message log). One request at a time (the sealer
 * serialises seals anyway). The worker's isolate holds only what seal-build.ts imports (about 6 MB
 * of V8 heap, most of it Node's own).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { buildSealedBatch, type SealInput, type SealKeys } from './seal-build';
import type { OutboxItem } from '../outbox/outbox';

type Request = { id: number; input: SealInput };
type Reply = { id: number; item?: OutboxItem; error?: string };

if (!isMainThread && parentPort && (workerData as { mcpsSealWorker?: boolean } | null)?.mcpsSealWorker) {
  const keys = (workerData as { keys: SealKeys }).keys;
  const port = parentPort;
  port.on('message', (req: Request) => {
    buildSealedBatch(req.input, keys).then(
      (item) => port.postMessage({ id: req.id, item } satisfies Reply),
      (err: unknown) => port.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) } satisfies Reply),
    );
  });
}

export class SealWorker {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (i: OutboxItem) => void; reject: (e: Error) => void }>();
  #next = 1;
  #failed: Error | null = null;

  constructor(keys: SealKeys) {
    this.#worker = new Worker(join(__dirname, 'seal-worker.js'), { workerData: { mcpsSealWorker: true, keys } });
    this.#worker.unref();
    this.#worker.on('message', (r: Reply) => {
      const w = this.#waiting.get(r.id);
      if (!w) return;
      this.#waiting.delete(r.id);
      if (r.item) w.resolve(r.item);
      else w.reject(new Error(`seal worker: ${r.error ?? 'no answer'}`));
    });
    const fail = (err: Error): void => {
      this.#failed = err;
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    };
    this.#worker.on('error', (err) => fail(new Error(`seal worker failed: ${err.message}`)));
    this.#worker.on('exit', (code) => fail(new Error(`seal worker exited (${code})`)));
  }

  build(input: SealInput): Promise<OutboxItem> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage({ id, input } satisfies Request);
    }).finally(() => {
      if (this.#waiting.size === 0) this.#worker.unref();
    }) as Promise<OutboxItem>;
  }

  /** Whether it can still take work (a dead worker makes the sealer build inline). */
  get alive(): boolean {
    return this.#failed === null;
  }

  async close(): Promise<void> {
    this.#failed ??= new Error('seal worker closed');
    await this.#worker.terminate();
  }
}
