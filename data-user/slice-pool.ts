/**
 * A small pool of worker threads that open a fetch's slices (slice-open.ts) on the machine's other
 * cores while the main thread checks the answer against the chain (headers, anchors, signatures),
 * and the main thread joins in once it is free (assist): one worker per core but one, so the
 * threads that work at once never outnumber the cores. Created once per fetch (`mcps data fetch`)
 * and closed at its end. The slice keys reach the workers in messages inside this process only
 * (never on disk). A fetch of a few slices opens them inline, and so does a pool whose worker died
 * (the work is the same function either way).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { openSliceJob, type SliceJob, type SliceResult } from './slice-open';

type Chunk = { readonly n: number; readonly jobs: SliceJob[] };
type Reply = { readonly n: number; readonly results: SliceResult[] };

if (!isMainThread && parentPort && (workerData as { mcpsSliceWorker?: boolean } | null)?.mcpsSliceWorker) {
  const port = parentPort;
  port.on('message', (c: Chunk) => {
    const results = c.jobs.map(openSliceJob);
    port.postMessage({ n: c.n, results } satisfies Reply, results.flatMap((r) => (r.ok ? [r.leaves.buffer as ArrayBuffer] : [])));
  });
}

/** Slices per message: large enough that messaging costs little, small enough to spread the work. */
const CHUNK = 8;

interface Run {
  readonly jobs: readonly SliceJob[];
  readonly out: SliceResult[];
  readonly chunks: Array<[number, number]>;
  next: number;
  done: number;
  readonly onProgress: ((done: number) => void) | undefined;
  /** Called when the last chunk's results are in. */
  readonly finished: () => void;
}

export class SlicePool {
  readonly #workers: Worker[] = [];
  #failed = false;
  #run: Run | null = null;
  #assisting = false;
  #closed = false;

  /** `size` workers (default: one per core but one, at least one, at most 3); 0 opens everything inline. */
  constructor(size = Math.max(1, Math.min(3, availableParallelism() - 1))) {
    for (let i = 0; i < size; i++) {
      try {
        const w = new Worker(join(__dirname, 'slice-pool.js'), { workerData: { mcpsSliceWorker: true } });
        w.unref();
        this.#workers.push(w);
      } catch {
        this.#failed = true;
        break;
      }
    }
  }

  #take(r: Run): [number, number] | null {
    return r.next < r.chunks.length ? r.chunks[r.next++]! : null;
  }

  #inline(r: Run, [a, b]: [number, number]): void {
    for (let k = a; k < b; k++) r.out[k] = openSliceJob(r.jobs[k]!);
    this.#completed(r, b - a);
  }

  #completed(r: Run, n: number): void {
    r.done += n;
    r.onProgress?.(r.done);
    if (r.done === r.jobs.length) r.finished();
  }

  /** Opens every job; results in the jobs' order. `onProgress(done)` after each chunk. One run at a time. */
  open(jobs: readonly SliceJob[], onProgress?: (done: number) => void): Promise<SliceResult[]> {
    if (this.#run) return Promise.reject(new Error('slice pool: one run at a time'));
    const out = new Array<SliceResult>(jobs.length);
    if (jobs.length === 0) return Promise.resolve(out);
    return new Promise<SliceResult[]>((resolve) => {
      const chunks: Array<[number, number]> = [];
      for (let k = 0; k < jobs.length; k += CHUNK) chunks.push([k, Math.min(jobs.length, k + CHUNK)]);
      const r: Run = { jobs, out, chunks, next: 0, done: 0, onProgress, finished: () => {
        this.#run = null;
        for (const w of this.#workers) {
          w.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
          w.unref();
        }
        resolve(out);
      } };
      this.#run = r;
      if (this.#failed || this.#workers.length === 0 || jobs.length <= CHUNK) {
        for (let c = this.#take(r); c; c = this.#take(r)) this.#inline(r, c);
        return;
      }
      for (const w of this.#workers) {
        let inFlight: [number, number] | null = null;
        const send = (): void => {
          inFlight = this.#failed ? null : this.#take(r);
          if (!inFlight) return;
          const [a, b] = inFlight;
          // Each ciphertext copied out of its reply page: posting a view would copy the whole page.
          const part = jobs.slice(a, b).map((j) => ({ ...j, ciphertext: j.ciphertext.slice() }));
          w.postMessage({ n: a, jobs: part } satisfies Chunk, part.map((j) => j.ciphertext.buffer as ArrayBuffer));
        };
        w.on('message', (m: Reply) => {
          m.results.forEach((x, i) => (out[m.n + i] = x));
          inFlight = null;
          this.#completed(r, m.results.length);
          send();
        });
        const fail = (): void => {
          // A dead worker: its chunk, and whatever is left, opened here (unless the pool was closed).
          if (this.#closed || (this.#failed && inFlight === null)) return;
          this.#failed = true;
          const mine = inFlight;
          inFlight = null;
          if (mine) this.#inline(r, mine);
          for (let c = this.#take(r); c; c = this.#take(r)) this.#inline(r, c);
        };
        w.on('error', fail);
        w.on('exit', fail);
        w.ref();
        send();
      }
    });
  }

  /**
   * The main thread takes chunks of the current run too, until none is left (yielding to the event
   * loop between chunks, so the workers' results are taken in). For when it has nothing else to do.
   */
  async assist(): Promise<void> {
    if (this.#assisting) return;
    this.#assisting = true;
    try {
      for (;;) {
        const r = this.#run;
        const c = r ? this.#take(r) : null;
        if (!r || !c) return;
        this.#inline(r, c);
        await yieldToLoop();
      }
    } finally {
      this.#assisting = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#failed = true;
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
