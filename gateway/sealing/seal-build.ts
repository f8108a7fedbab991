/**
 * The CPU-heavy half of sealing, as one pure-ish function (its randomness is the batch's salt key
 * and the HPKE ephemeral key): salted Merkle tree, encryption for the data owner, header, BLS
 * signature. Runs in the seal worker (gateway/sealing/seal-worker.ts) so ingest never waits behind it, or
 * inline where no worker is available.
 */
import { randomBytes } from 'node:crypto';
import { buildBatch, encodeHeader, headerHash, makeHeader } from '../../protocol/batch';
import { blsSign } from '../../protocol/bls';
import { sha256 } from '../../protocol/hash';
import type { Reading } from '../../protocol/reading';
import type { BatchSubmission } from '../../protocol/submission';
import { sealEnvelope } from './envelope';
import type { OutboxItem } from '../outbox/outbox';

export interface SealInput {
  readonly gatewayId: string;
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly readings: readonly Reading[];
}

export interface SealKeys {
  readonly blsSecretKey: Uint8Array;
  readonly ownerPublicKey: Uint8Array;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export async function buildSealedBatch(input: SealInput, keys: SealKeys): Promise<OutboxItem> {
  const { gatewayId, seq } = input;
  const built = buildBatch({ gatewayId, seq, prevHash: input.prevHash, readings: [...input.readings], saltKey: randomBytes(32) });
  const envelope = await sealEnvelope(keys.ownerPublicKey, gatewayId, seq, built.payloadBytes);
  const header = makeHeader(built, sha256(envelope));
  const hh = headerHash(header);
  const submission: BatchSubmission = {
    v: 1,
    gatewayId,
    header: hex(encodeHeader(header)),
    headerSignature: hex(blsSign(keys.blsSecretKey, hh)),
    envelope: Buffer.from(envelope).toString('base64'),
  };
  return { seq, count: built.count, headerHash: hex(hh), root: hex(built.root), submission };
}
