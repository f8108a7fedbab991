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

/**
 * V8's old-generation cap for the worker's isolate, in MB. Uncapped, the isolate grows its heap to
 * 18-25 MB under 1000-reading seals (each seal leaves several MB of garbage, and V8 raises the
 * limit geometrically before it collects); capped at 16 MB it collects sooner and stays at 13-15 MB
 * physical, seals no slower (measured with the seal worker alone, docs/raspberry-pi.md). A batch too
 * big for the cap (a flow whose batch node holds thousands of patients) is sealed inline instead:
 * see SealWorkerOutOfMemory.
 */
export const SEAL_WORKER_OLD_SPACE_MB = 16;

/**
 * The worker ran out of heap on this batch (its isolate was ended; a new one takes the next batch):
 * the sealer builds this batch inline, on the main thread, under the gateway's own heap cap.
 */
export class SealWorkerOutOfMemory extends Error {
  constructor() {
    super(`seal worker: the batch needs more than its ${SEAL_WORKER_OLD_SPACE_MB} MB heap`);
    this.name = 'SealWorkerOutOfMemory';
  }
}

/**
 * A worker that runs out of heap this many times without building a batch in between is not
 * started again (a cap too small for the isolate itself): the sealer then builds inline.
 */
const MAX_OOMS_IN_A_ROW = 3;

export interface SealWorkerOptions {
  /** Old-generation cap of the worker's isolate, MB (default SEAL_WORKER_OLD_SPACE_MB). */
  maxOldSpaceMb?: number;
  /** Told each time the worker ran out of heap and was started again. */
  onOutOfMemory?: () => void;
}

export class SealWorker {
  #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (i: OutboxItem) => void; reject: (e: Error) => void }>();
  #next = 1;
  #failed: Error | null = null;
  /** Times the worker ran out of heap and was started again. */
  restarts = 0;
  /** Out-of-heap ends since the last batch a worker built: past MAX_OOMS_IN_A_ROW it is not started again. */
  #oomsInARow = 0;

  constructor(readonly keys: SealKeys, readonly opts: SealWorkerOptions = {}) {
    this.#worker = this.#start();
  }

  #start(): Worker {
    // No Node options from the parent (execArgv: its --require/--import hooks, a test runner's
    // loaders, would load into the isolate too); V8's flags (the young generation's bound) are the
    // process's and apply all the same.
    const w = new Worker(join(__dirname, 'seal-worker.js'), { workerData: { mcpsSealWorker: true, keys: this.keys }, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: this.opts.maxOldSpaceMb ?? SEAL_WORKER_OLD_SPACE_MB } });
    w.unref();
    w.on('message', (r: Reply) => {
      const p = this.#waiting.get(r.id);
      if (!p) return;
      this.#waiting.delete(r.id);
      if (r.item) {
        this.#oomsInARow = 0;
        p.resolve(r.item);
      }
      else p.reject(new Error(`seal worker: ${r.error ?? 'no answer'}`));
    });
    const rejectWaiting = (err: Error): void => {
      for (const p of this.#waiting.values()) p.reject(err);
      this.#waiting.clear();
    };
    const fail = (err: Error): void => {
      this.#failed ??= err;
      rejectWaiting(err);
    };
    w.on('error', (err: Error & { code?: string }) => {
      if (w !== this.#worker) return;
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY' && this.#failed === null) {
        // Only this isolate is gone: the batches it held are built inline, the next ones by a new
        // one (unless it keeps running out of heap without building anything: inline from then on).
        rejectWaiting(new SealWorkerOutOfMemory());
        if (++this.#oomsInARow > MAX_OOMS_IN_A_ROW) {
          this.#failed = new Error(`seal worker: out of heap ${MAX_OOMS_IN_A_ROW + 1} times in a row, not started again`);
          return;
        }
        this.restarts++;
        this.#worker = this.#start();
        this.opts.onOutOfMemory?.();
        return;
      }
      fail(new Error(`seal worker failed: ${err.message}`));
    });
    w.on('exit', (code) => {
      if (w === this.#worker) fail(new Error(`seal worker exited (${code})`));
    });
    return w;
  }

  build(input: SealInput): Promise<OutboxItem> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    const w = this.#worker;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      w.ref();
      w.postMessage({ id, input } satisfies Request);
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
