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
import { buildBatch, checkEnvelope, WRAPPED_EPOCH_KEY_LENGTH } from '../protocol/batch';
import type { Reading, ReadingKind, ReadingSource } from '../protocol/reading';
import { openSliceJob, type SliceJob, type SliceResult } from './slice-open';

/**
 * A slice's readings as they cross from a worker: their strings once each in a table, and per
 * reading seven indexes into it (deviceId, patient, kind, mdc, loinc, unit, source) and four numbers
 * (value, deviceTime — NaN for null —, receivedAt, deviceSeq), in two transferred arrays. Cloning
 * the reading objects themselves cost about 1 µs a reading to write on the worker and 2–3 µs to
 * read on the main thread, whose time is the fetch's critical path; rebuilding them from this is a
 * small part of that. unpackReadings gives the same objects (same fields, same order, same values).
 */
export interface PackedReadings {
  readonly strings: string[];
  readonly refs: Uint32Array;
  readonly nums: Float64Array;
}

export function packReadings(rs: readonly Reading[]): PackedReadings {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const refs = new Uint32Array(7 * rs.length);
  const nums = new Float64Array(4 * rs.length);
  const ref = (s: string): number => {
    let k = index.get(s);
    if (k === undefined) {
      k = strings.length;
      strings.push(s);
      index.set(s, k);
    }
    return k;
  };
  for (let i = 0; i < rs.length; i++) {
    const r = rs[i]!;
    refs[7 * i] = ref(r.deviceId);
    refs[7 * i + 1] = ref(r.patient);
    refs[7 * i + 2] = ref(r.kind);
    refs[7 * i + 3] = ref(r.mdc);
    refs[7 * i + 4] = ref(r.loinc);
    refs[7 * i + 5] = ref(r.unit);
    refs[7 * i + 6] = ref(r.source);
    nums[4 * i] = r.value;
    nums[4 * i + 1] = r.deviceTime === null ? NaN : r.deviceTime;
    nums[4 * i + 2] = r.receivedAt;
    nums[4 * i + 3] = r.deviceSeq;
  }
  return { strings, refs, nums };
}

export function unpackReadings(p: PackedReadings): Reading[] {
  const { strings: s, refs, nums } = p;
  const out = new Array<Reading>(refs.length / 7);
  for (let i = 0; i < out.length; i++) {
    const t = nums[4 * i + 1]!;
    // The field order of checkReading's result (protocol/canonical.ts), so the objects print the same.
    out[i] = {
      deviceId: s[refs[7 * i]!]!,
      patient: s[refs[7 * i + 1]!]!,
      kind: s[refs[7 * i + 2]!]! as ReadingKind,
      mdc: s[refs[7 * i + 3]!]!,
      loinc: s[refs[7 * i + 4]!]!,
      value: nums[4 * i]!,
      unit: s[refs[7 * i + 5]!]!,
      deviceTime: Number.isNaN(t) ? null : t,
      receivedAt: nums[4 * i + 2]!,
      deviceSeq: nums[4 * i + 3]!,
      source: s[refs[7 * i + 6]!]! as ReadingSource,
    };
  }
  return out;
}

type Chunk = { readonly n: number; readonly jobs: SliceJob[] };
type Packed = Exclude<SliceResult, { ok: true }> | (Omit<Extract<SliceResult, { ok: true }>, 'readings'> & { readonly packed: PackedReadings });
type Reply = { readonly n: number; readonly results: Packed[] };

function openPacked(j: SliceJob): Packed {
  const r = openSliceJob(j);
  if (!r.ok) return r;
  return { id: r.id, ok: true, saltKey: r.saltKey, leaves: r.leaves, packed: packReadings(r.readings) };
}

/**
 * Slices made up here (fixed keys, 125 readings each, as a ward's batch holds of one patient) for a
 * new worker to open while the fetch still waits for its first keys: the JIT has compiled the
 * per-reading code by the time the real slices come (opened cold, the first few hundred slices of a
 * fresh worker cost about 1.6 times as much a reading). Nothing of them leaves the worker.
 */
function warmUpJobs(): SliceJob[] {
  const t0 = Date.UTC(2026, 0, 1);
  const readings: Reading[] = [];
  for (let i = 0; i < 250; i++) readings.push({ deviceId: `warm-${i % 2}`, patient: `warm-${i % 2}`, kind: 'heart_rate', mdc: '147842', loinc: '8867-4', value: 60 + (i % 40), unit: '/min', deviceTime: t0 + i * 1000, receivedAt: t0 + i * 1000, deviceSeq: i, source: 'mqtt' });
  const epoch = { id: t0, key: new Uint8Array(32).fill(1), wrapped: new Uint8Array(WRAPPED_EPOCH_KEY_LENGTH) };
  const b = buildBatch({ gatewayId: 'warm-up', seq: 1, prevHash: new Uint8Array(32), readings, tagKey: new Uint8Array(32).fill(2), epoch, sealedAt: t0 + 250_000, watermark: t0 });
  const { ciphertexts } = checkEnvelope(b.header, b.envelope);
  return b.slices.map((s, i) => ({ id: i, key: s.key, gatewayId: 'warm-up', seq: 1, entry: s.entry, directoryVersion: b.directory.version, ciphertext: ciphertexts[i]! }));
}

/** Rounds of warm-up (each opens the two made-up slices; one round per turn of the event loop, so a real chunk never waits for more than one). 16 rounds (4,000 readings, ~50 ms of CPU) warm as well as 40 did. */
const WARM_UP_ROUNDS = 16;

if (!isMainThread && parentPort && (workerData as { mcpsSliceWorker?: boolean } | null)?.mcpsSliceWorker) {
  const port = parentPort;
  port.on('message', (c: Chunk) => {
    const results = c.jobs.map(openPacked);
    port.postMessage({ n: c.n, results } satisfies Reply, results.flatMap((r) => (r.ok ? [r.leaves.buffer as ArrayBuffer, r.packed.refs.buffer as ArrayBuffer, r.packed.nums.buffer as ArrayBuffer] : [])));
  });
  if ((workerData as { warmUp?: boolean }).warmUp !== false) {
    let jobs: SliceJob[] | null = null;
    let round = 0;
    const step = (): void => {
      try {
        jobs ??= warmUpJobs();
        for (const j of jobs) openPacked(j);
      } catch {
        return; // a warm-up that fails only leaves the JIT cold
      }
      if (++round < WARM_UP_ROUNDS) setImmediate(step);
    };
    setImmediate(step);
  }
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
  readonly resolve: (out: SliceResult[]) => void;
}

interface Slot {
  readonly w: Worker;
  /** Chunks posted and not yet answered, in order (a worker answers its messages in order). */
  readonly inFlight: Array<{ readonly r: Run; readonly c: [number, number] }>;
}

/**
 * Chunks a worker may hold at once: enough for the longest stretch the main thread is busy without
 * handing out more (a part of the signature checks, ~0.1 s: verify-range.ts checks them in parts),
 * few enough that what is left when the main thread is free is still untaken, so it can help.
 */
const AHEAD = 12;

export class SlicePool {
  #slots: Slot[] = [];
  /** Runs not yet complete, oldest first (their chunks are taken in that order). */
  readonly #runs: Run[] = [];
  #assisting = false;
  #closed = false;

  /** `size` workers (default: one per core but one, at least one, at most 3); 0 opens everything inline. */
  constructor(size = Math.max(1, Math.min(3, availableParallelism() - 1))) {
    for (let i = 0; i < size; i++) {
      let w: Worker;
      try {
        w = new Worker(join(__dirname, 'slice-pool.js'), { workerData: { mcpsSliceWorker: true } });
      } catch {
        break;
      }
      w.unref();
      const slot: Slot = { w, inFlight: [] };
      this.#slots.push(slot);
      w.on('message', (m: Reply) => {
        const f = slot.inFlight.shift();
        if (!f) return;
        m.results.forEach((x, k) => (f.r.out[f.c[0] + k] = x.ok ? { id: x.id, ok: true, readings: unpackReadings(x.packed), saltKey: x.saltKey, leaves: x.leaves } : x));
        this.#completed(f.r, m.results.length);
        this.#pump();
      });
      const fail = (): void => {
        // A dead worker: its chunk opened here, the others (or this thread) take the rest.
        if (this.#closed || !this.#slots.includes(slot)) return;
        this.#slots = this.#slots.filter((x) => x !== slot);
        for (const f of slot.inFlight.splice(0)) this.#inline(f.r, f.c);
        if (this.#slots.length === 0) for (let t = this.#take(); t; t = this.#take()) this.#inline(t.r, t.c);
      };
      w.on('error', fail);
      w.on('exit', fail);
    }
  }

  #take(): { r: Run; c: [number, number] } | null {
    for (const r of this.#runs) if (r.next < r.chunks.length) return { r, c: r.chunks[r.next++]! };
    return null;
  }

  #inline(r: Run, [a, b]: [number, number]): void {
    for (let k = a; k < b; k++) r.out[k] = openSliceJob(r.jobs[k]!);
    this.#completed(r, b - a);
  }

  #completed(r: Run, n: number): void {
    r.done += n;
    r.onProgress?.(r.done);
    if (r.done < r.jobs.length) return;
    this.#runs.splice(this.#runs.indexOf(r), 1);
    if (this.#runs.length === 0) for (const s of this.#slots) s.w.unref();
    r.resolve(r.out);
  }

  /** Gives every idle worker a chunk. */
  #pump(): void {
    // Round robin, so that the workers share what there is.
    for (let more = true; more; ) {
      more = false;
      for (const slot of this.#slots) {
        if (slot.inFlight.length >= AHEAD) continue;
        const t = this.#take();
        if (!t) return;
        slot.inFlight.push(t);
        more = true;
        const [a, b] = t.c;
        // Each ciphertext copied out of its reply page: posting a view would copy the whole page.
        const part = t.r.jobs.slice(a, b).map((j) => ({ ...j, ciphertext: j.ciphertext.slice() }));
        slot.w.postMessage({ n: a, jobs: part } satisfies Chunk, part.map((j) => j.ciphertext.buffer as ArrayBuffer));
      }
    }
  }

  /** Opens every job; results in the jobs' order. `onProgress(done)` after each chunk. Runs may overlap (taken in order). */
  open(jobs: readonly SliceJob[], onProgress?: (done: number) => void): Promise<SliceResult[]> {
    const out = new Array<SliceResult>(jobs.length);
    if (jobs.length === 0) return Promise.resolve(out);
    if (this.#closed) return Promise.reject(new Error('slice pool closed'));
    return new Promise<SliceResult[]>((resolve) => {
      const chunks: Array<[number, number]> = [];
      for (let k = 0; k < jobs.length; k += CHUNK) chunks.push([k, Math.min(jobs.length, k + CHUNK)]);
      const r: Run = { jobs, out, chunks, next: 0, done: 0, onProgress, resolve };
      this.#runs.push(r);
      if (this.#slots.length === 0 || jobs.length <= CHUNK) {
        for (let c = r.chunks[r.next]; c; c = r.chunks[r.next]) {
          r.next++;
          this.#inline(r, c);
        }
        return;
      }
      for (const s of this.#slots) s.w.ref();
      this.#pump();
    });
  }

  /**
   * The main thread takes chunks too, until none is left untaken (yielding to the event loop
   * between chunks, so the workers' results are taken in). For when it has nothing else to do.
   */
  async assist(): Promise<void> {
    if (this.#assisting) return;
    this.#assisting = true;
    try {
      for (let t = this.#take(); t; t = this.#take()) {
        this.#inline(t.r, t.c);
        await yieldToLoop();
      }
    } finally {
      this.#assisting = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map((s) => s.w.terminate()));
  }
}
