/**
 * The CPU-heavy half of sealing, as one function: patient tags, slices and their encryption, the
 * directory, the Merkle root, the header and its BLS signature (protocol/batch.ts). Its randomness
 * is the epoch key (gateway/sealing/epoch-keys.ts), given with the input by the sealer. Runs in the
 * seal worker (gateway/sealing/seal-worker.ts) so ingest never waits behind it, or inline where no
 * worker is available.
 *
 * The worker's isolate loads this module and what it imports, so it imports little: protocol/batch
 * and node:crypto. HPKE (the epoch key's wrapping) and noble's BLS (a header signature made here
 * rather than by the sealer's signer) are required only when used; the gateway never uses them in
 * the worker (the sealer brings the wrapped epoch key and signs with mcl-wasm), about 10 MB of
 * resident memory it does not load (docs/raspberry-pi.md).
 */
import { randomBytes } from 'node:crypto';
import { buildBatchSteps, driveSteps, encodeHeader, headerHash, type EpochKey } from '../../protocol/batch';
import { patientTag } from '../../protocol/sharing/tags';
import type { Reading } from '../../protocol/reading';
import type { BatchSubmission } from '../../protocol/submission';
import type { EpochKeyRing } from './epoch-keys';
import type { OutboxItem } from '../outbox/outbox';

export interface SealInput {
  readonly gatewayId: string;
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly readings: readonly Reading[];
  /** The gateway's clock at sealing (never below the previous batch's). */
  readonly sealedAt: number;
  /** No reading sealed after this batch was received before this time (see Sealer). */
  readonly watermark: number;
  /**
   * Leave the header signature empty: the caller signs the header hash itself (the sealer, with
   * mcl-wasm on the main thread, instead of noble here) before the batch is committed or sent.
   */
  readonly unsigned?: boolean;
  /** The epoch key to seal under (the sealer's ring); absent: this thread's own ring for the gateway. */
  readonly epoch?: EpochKey;
}

export interface SealKeys {
  readonly blsSecretKey: Uint8Array;
  /** The data owner's X25519 key: epoch keys are wrapped to it. */
  readonly ownerPublicKey: Uint8Array;
  /** The hospital's patient tag key (32 bytes, shared by the owner and its gateways). */
  readonly patientTagKey: Uint8Array;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// One epoch-key ring per gateway and owner key in this thread.
const rings = new Map<string, EpochKeyRing>();

function ringFor(gatewayId: string, keys: SealKeys): EpochKeyRing {
  const k = `${gatewayId}\u0000${hex(keys.ownerPublicKey)}`;
  let r = rings.get(k);
  // Required here, not at the top: the seal worker is given its epoch keys and never loads HPKE.
  const { EpochKeyRing: Ring } = require('./epoch-keys') as typeof import('./epoch-keys');
  if (!r) rings.set(k, (r = new Ring({ gatewayId, ownerPublicKey: keys.ownerPublicKey, now: Date.now, random: (n) => new Uint8Array(randomBytes(n)) })));
  return r;
}

/**
 * Patient tags computed before in this thread, per tag key: a ward's batches hold the same patients
 * batch after batch, and a tag (one HMAC) only changes with the day. Bounded: emptied when it
 * reaches TAG_CACHE_MAX entries (a day's roll-over fills it with the new day's tags).
 */
const TAG_CACHE_MAX = 8192;
const tagCaches = new Map<string, Map<string, Uint8Array>>();

function tagCacheFor(tagKey: Uint8Array): (patient: string, day: number) => Uint8Array {
  const id = hex(tagKey);
  let cache = tagCaches.get(id);
  if (!cache) tagCaches.set(id, (cache = new Map()));
  const c = cache;
  return (patient, day) => {
    const k = `${day}\u0000${patient}`;
    let t = c.get(k);
    if (t === undefined) {
      if (c.size >= TAG_CACHE_MAX) c.clear();
      c.set(k, (t = patientTag(tagKey, patient, day)));
    }
    return t;
  };
}

export async function buildSealedBatch(input: SealInput, keys: SealKeys): Promise<OutboxItem> {
  return buildSealedBatchInSteps(input, keys, null);
}

/**
 * buildSealedBatch in slices of work: `pause` is awaited between them (every 64 patient slices),
 * so sealing on a thread that also serves the broker leaves room for it. null: in one go.
 */
export async function buildSealedBatchInSteps(input: SealInput, keys: SealKeys, pause: (() => Promise<void>) | null): Promise<OutboxItem> {
  const { gatewayId, seq } = input;
  const epoch = input.epoch ?? (await ringFor(gatewayId, keys).current());
  const steps = buildBatchSteps({ gatewayId, seq, prevHash: input.prevHash, readings: input.readings, tagKey: keys.patientTagKey, tagOf: tagCacheFor(keys.patientTagKey), epoch, sealedAt: input.sealedAt, watermark: input.watermark });
  const built = await driveSteps(steps, pause);
  const hh = headerHash(built.header);
  const submission: BatchSubmission = {
    v: 2,
    gatewayId,
    header: hex(encodeHeader(built.header)),
    // noble's BLS, required only when this thread signs (the gateway's sealer signs with mcl-wasm).
    headerSignature: input.unsigned ? '' : hex((require('../../protocol/bls') as typeof import('../../protocol/bls')).blsSign(keys.blsSecretKey, hh)),
    envelope: Buffer.from(built.envelope).toString('base64'),
  };
  return { seq, count: built.header.count, headerHash: hex(hh), root: hex(built.header.root), submission };
}
