/**
 * Sealing: turns a closed batch window into a signed, encrypted batch ready for the outbox.
 *
 * Steps, in this order: assign the next sequence number, the previous header hash, sealedAt and the
 * watermark; group the readings into patient-day slices, encrypt each under its key, build the
 * salted Merkle trees, the directory and the header; sign the header hash with the gateway's BLS key; take the readings out of the journal,
 * advance the chain head and queue the batch in one durable transaction; hand the batch to the
 * sender. Seals run one at a time so sequence numbers never race.
 *
 * Each reading may carry its journal entry id. A reading whose entry is already gone was sealed
 * before (a flow that wired one input to two batch nodes, or a recovery sweep that got there first):
 * it is left out of this batch and counted, so no reading is ever sealed twice.
 */
import type { Reading } from '../../protocol/reading';
import type { OutboxItem } from '../outbox/outbox';
import { buildSealedBatchInSteps } from './seal-build';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { SealWorkerOutOfMemory, type SealWorker } from './seal-worker';
import { SIG_DST, type BlsSigner } from '../../protocol/bls';
import type { ChainHead } from '../outbox/outbox-store';
import { EpochKeyRing } from './epoch-keys';
import { randomBytes } from 'node:crypto';

export interface SealerOptions {
  gatewayId: string;
  blsSecretKey: Uint8Array;
  ownerPublicKey: Uint8Array;
  /** The hospital's patient tag key (docs/protocol.md, "Patient tags"). */
  patientTagKey: Uint8Array;
  /**
   * Durable batch state: the head to build on, and the atomic seal-and-queue (resolving once it is
   * on disk: the batch is not handed on before).
   */
  state: { readonly head: ChainHead; commit(item: OutboxItem, journalIds: readonly number[]): void | Promise<void> };
  /**
   * Whether a journal entry is still unsealed, and the earliest receive time among unsealed entries
   * other than `exclude` (null when there are none): the watermark's source.
   */
  journal: { holds(id: number): boolean; holding?(ids: readonly number[]): ReadonlySet<number>; oldestReceivedAt?(exclude: ReadonlySet<number>): number | null };
  /** Injected for tests (default Date.now). */
  now?: () => number;
  onSealed: (item: OutboxItem) => void;
  /** Builds batches on another thread when given (the gateway with memory.sealWorker); inline otherwise, in slices that yield to I/O. */
  worker?: Pick<SealWorker, 'build' | 'alive'>;
  /**
   * Signs the headers here instead of with noble in seal-build (the gateway passes mcl-wasm's
   * signer, loaded on the main thread anyway: a fraction of noble's cost, same bytes), for the
   * worker's batches and those built inline alike.
   */
  signer?: BlsSigner;
}

/** A reading to seal and, when it was journaled, its journal entry. */
export interface SealEntry {
  readonly reading: Reading;
  readonly journalId?: number;
}

/**
 * How long a reading may take from its receive time to its journal entry: the watermark stays this
 * far behind the clock, so a reading stamped but not yet journaled when a batch is sealed is still
 * above the watermark of that batch.
 */
export const WATERMARK_GRACE_MS = 10_000;

/**
 * Between slices of an inline seal (every 64 patient slices, a few ms of work here): the event
 * loop's I/O and timers run, so MQTT packets and PUBACKs do not wait behind a whole batch.
 */
const yieldToIo = (): Promise<void> => nextTurn();

export class Sealer {
  #chain: Promise<unknown> = Promise.resolve();
  #lastSealedAt = 0;
  /**
   * The epoch keys, made and wrapped to the owner here (HPKE) and given to the worker with each
   * batch: the worker's isolate then never loads HPKE (gateway/sealing/seal-build.ts).
   */
  readonly #epochs: EpochKeyRing;

  constructor(readonly opts: SealerOptions) {
    this.#epochs = new EpochKeyRing({ gatewayId: opts.gatewayId, ownerPublicKey: opts.ownerPublicKey, now: Date.now, random: (n) => new Uint8Array(randomBytes(n)) });
  }

  /** Resolves when no seal is running or queued. */
  idle(): Promise<void> {
    return this.#chain.then(() => undefined);
  }

  /** Readings left out of a batch because their journal entry was already sealed. */
  alreadySealed = 0;

  /**
   * Seals the readings as the next batch. Resolves with the outbox item once it is queued, or with
   * null when every reading had been sealed already.
   */
  seal(entries: readonly SealEntry[]): Promise<OutboxItem | null> {
    const next = this.#chain.then(() => this.#sealNow(entries));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #sealNow(entries: readonly SealEntry[]): Promise<OutboxItem | null> {
    const { gatewayId, state } = this.opts;
    const journal = this.opts.journal;
    const held = journal.holding?.(entries.flatMap((e) => (e.journalId === undefined ? [] : [e.journalId])));
    const fresh = entries.filter((e) => e.journalId === undefined || (held ? held.has(e.journalId) : journal.holds(e.journalId)));
    this.alreadySealed += entries.length - fresh.length;
    if (fresh.length === 0) return null;
    const readings = fresh.map((e) => e.reading);
    const journalIds = fresh.flatMap((e) => (e.journalId === undefined ? [] : [e.journalId]));
    const head = state.head;
    // sealedAt never goes back (a clock stepped back mid-run); the watermark is the earliest receive
    // time still waiting in the journal outside this batch, and never later than now - grace.
    const now = (this.opts.now ?? Date.now)();
    let sealedAt = Math.max(now, this.#lastSealedAt);
    for (const r of readings) if (r.receivedAt > sealedAt) sealedAt = r.receivedAt;
    this.#lastSealedAt = sealedAt;
    const waiting = this.opts.journal.oldestReceivedAt?.(new Set(journalIds)) ?? null;
    const watermark = Math.max(0, Math.min(now - WATERMARK_GRACE_MS, waiting ?? Infinity));
    const epoch = await this.#epochs.current();
    const input = { gatewayId, seq: head.seq + 1, prevHash: head.headerHash, readings, sealedAt, watermark, epoch };
    const keys = { blsSecretKey: this.opts.blsSecretKey, ownerPublicKey: this.opts.ownerPublicKey, patientTagKey: this.opts.patientTagKey };
    const worker = this.opts.worker;
    const signer = this.opts.signer;
    const toBuild = signer ? { ...input, unsigned: true } : input;
    let item: OutboxItem;
    if (worker && worker.alive) {
      try {
        item = await worker.build(toBuild);
      } catch (err) {
        // Too big for the worker's heap (it was started again for the next batches): built here.
        if (!(err instanceof SealWorkerOutOfMemory)) throw err;
        item = await buildSealedBatchInSteps(toBuild, keys, yieldToIo);
      }
    } else item = await buildSealedBatchInSteps(toBuild, keys, yieldToIo);
    if (signer && item.submission.headerSignature === '') {
      const hh = Uint8Array.from(Buffer.from(item.headerHash, 'hex'));
      item = { ...item, submission: { ...item.submission, headerSignature: Buffer.from(signer.sign(this.opts.blsSecretKey, hh, SIG_DST)).toString('hex') } };
    }
    if (item.submission.headerSignature === '') throw new Error(`batch ${item.seq} came back unsigned`);
    await state.commit(item, journalIds);
    this.opts.onSealed(item);
    return item;
  }
}
