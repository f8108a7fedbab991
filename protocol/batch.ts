/**
 * Batches: the header that is signed and anchored, and the payload that is encrypted.
 *
 * Header layout, version 1 (all integers big-endian; L = gateway id length):
 *
 * | offset    | bytes | field                                            |
 * |-----------|-------|--------------------------------------------------|
 * | 0         | 1     | version = 0x01                                   |
 * | 1         | 1     | L, 1..31                                         |
 * | 2         | L     | gateway id, ASCII [A-Za-z0-9._-]                 |
 * | 2+L       | 8     | sequence number (1, 2, 3, …; < 2^53)             |
 * | 10+L      | 32    | previous header hash (zeros for sequence 1)      |
 * | 42+L      | 32    | Merkle root                                      |
 * | 74+L      | 4     | reading count (≥ 1)                              |
 * | 78+L      | 8     | first receive time, ms since the epoch           |
 * | 86+L      | 8     | last receive time, ms since the epoch            |
 * | 94+L      | 32    | SHA-256 of the ciphertext (the envelope)         |
 * | 126+L     |       | end: no trailing bytes                           |
 *
 * headerHash = SHA-256("mcps/batch-header/v1" ‖ header bytes): what the gateway signs, what the
 * next header names as previous, and what the chain anchors.
 *
 * The payload (canonical JSON, then encrypted for the data owner) carries the readings and the salt
 * key, so only those who can decrypt can recompute leaves and check inclusion proofs.
 */
import { canonicalJson, checkReading, encodeReading } from './canonical';
import { ProtocolError } from './errors';
import { sha256, utf8 } from './hash';
import { leafHash, leafSalt, merkleRoot } from './merkle';
import type { Reading } from './reading';

export const HEADER_VERSION = 1;
const HEADER_LABEL = utf8('mcps/batch-header/v1');
const GATEWAY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;
const MAX_COUNT = 1_000_000;

export interface BatchHeader {
  readonly version: 1;
  readonly gatewayId: string;
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly root: Uint8Array;
  readonly count: number;
  readonly firstReceivedAt: number;
  readonly lastReceivedAt: number;
  readonly ciphertextHash: Uint8Array;
}

function checkGatewayId(id: string): void {
  if (!GATEWAY_ID.test(id)) throw new ProtocolError('batch.gateway-id', `gateway id "${id}" must be 1..31 characters of [A-Za-z0-9._-]`);
}

function check32(name: string, b: Uint8Array): void {
  if (!(b instanceof Uint8Array) || b.length !== 32) throw new ProtocolError('batch.hash-length', `${name} must be 32 bytes`);
}

function checkHeader(h: BatchHeader): void {
  if (h.version !== HEADER_VERSION) throw new ProtocolError('header.version', `version ${String(h.version)}, expected ${HEADER_VERSION}`);
  checkGatewayId(h.gatewayId);
  if (!Number.isSafeInteger(h.seq) || h.seq < 1) throw new ProtocolError('header.seq', `sequence number ${h.seq} must be a positive integer below 2^53`);
  check32('prevHash', h.prevHash);
  check32('root', h.root);
  check32('ciphertextHash', h.ciphertextHash);
  if (!Number.isInteger(h.count) || h.count < 1 || h.count > MAX_COUNT) throw new ProtocolError('header.count', `count ${h.count} must be 1..${MAX_COUNT}`);
  for (const [k, v] of [['firstReceivedAt', h.firstReceivedAt], ['lastReceivedAt', h.lastReceivedAt]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new ProtocolError('header.time', `${k} ${v} must be a non-negative integer (ms)`);
  }
  if (h.lastReceivedAt < h.firstReceivedAt) throw new ProtocolError('header.time', 'lastReceivedAt is before firstReceivedAt');
  if (h.seq === 1 && h.prevHash.some((b) => b !== 0)) throw new ProtocolError('header.prev-hash', 'the first batch must name an all-zero previous hash');
}

export function encodeHeader(h: BatchHeader): Uint8Array {
  checkHeader(h);
  const id = utf8(h.gatewayId);
  const out = new Uint8Array(126 + id.length);
  const dv = new DataView(out.buffer);
  out[0] = HEADER_VERSION;
  out[1] = id.length;
  out.set(id, 2);
  let o = 2 + id.length;
  dv.setBigUint64(o, BigInt(h.seq));
  out.set(h.prevHash, o + 8);
  out.set(h.root, o + 40);
  dv.setUint32(o + 72, h.count);
  dv.setBigUint64(o + 76, BigInt(h.firstReceivedAt));
  dv.setBigUint64(o + 84, BigInt(h.lastReceivedAt));
  out.set(h.ciphertextHash, o + 92);
  return out;
}

export function decodeHeader(bytes: Uint8Array): BatchHeader {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) throw new ProtocolError('header.truncated', `header of ${bytes?.length ?? 0} bytes`);
  if (bytes[0] !== HEADER_VERSION) throw new ProtocolError('header.version', `version ${bytes[0]}, expected ${HEADER_VERSION}`);
  const len = bytes[1]!;
  if (len < 1 || len > 31) throw new ProtocolError('header.gateway-id', `gateway id length ${len}`);
  const expected = 126 + len;
  if (bytes.length < expected) throw new ProtocolError('header.truncated', `${bytes.length} bytes, expected ${expected}`);
  if (bytes.length > expected) throw new ProtocolError('header.trailing-bytes', `${bytes.length - expected} bytes after the header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let gatewayId: string;
  try {
    gatewayId = new TextDecoder('ascii', { fatal: true }).decode(bytes.subarray(2, 2 + len));
  } catch {
    throw new ProtocolError('header.gateway-id', 'gateway id is not ASCII');
  }
  const o = 2 + len;
  const big = (at: number, name: string): number => {
    const v = dv.getBigUint64(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('header.range', `${name} above 2^53`);
    return Number(v);
  };
  const h: BatchHeader = {
    version: 1,
    gatewayId,
    seq: big(o, 'seq'),
    prevHash: bytes.slice(o + 8, o + 40),
    root: bytes.slice(o + 40, o + 72),
    count: dv.getUint32(o + 72),
    firstReceivedAt: big(o + 76, 'firstReceivedAt'),
    lastReceivedAt: big(o + 84, 'lastReceivedAt'),
    ciphertextHash: bytes.slice(o + 92, o + 124),
  };
  checkHeader(h);
  return h;
}

export function headerHash(h: BatchHeader): Uint8Array {
  return sha256(HEADER_LABEL, encodeHeader(h));
}

export interface BatchPayload {
  readonly version: 1;
  readonly gatewayId: string;
  readonly seq: number;
  readonly saltKey: Uint8Array;
  readonly readings: readonly Reading[];
}

export function encodePayload(p: BatchPayload): Uint8Array {
  return utf8(
    canonicalJson({
      v: p.version,
      gatewayId: p.gatewayId,
      seq: p.seq,
      saltKey: Buffer.from(p.saltKey).toString('hex'),
      readings: p.readings.map((r, i) => checkReading({ ...r }, `reading ${i}`)),
    }),
  );
}

export function decodePayload(bytes: Uint8Array): BatchPayload {
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ProtocolError('payload.not-json', (err as Error).message);
  }
  const p = o as { v?: unknown; gatewayId?: unknown; seq?: unknown; saltKey?: unknown; readings?: unknown };
  if (p === null || typeof p !== 'object') throw new ProtocolError('payload.not-object');
  if (p.v !== 1) throw new ProtocolError('payload.version', `version ${String(p.v)}`);
  if (typeof p.gatewayId !== 'string') throw new ProtocolError('payload.gateway-id');
  checkGatewayId(p.gatewayId);
  if (typeof p.seq !== 'number' || !Number.isSafeInteger(p.seq) || p.seq < 1) throw new ProtocolError('payload.seq');
  if (typeof p.saltKey !== 'string' || !/^[0-9a-f]{64}$/.test(p.saltKey)) throw new ProtocolError('payload.salt-key', 'saltKey must be 64 hex digits');
  if (!Array.isArray(p.readings) || p.readings.length === 0) throw new ProtocolError('payload.readings', 'readings must be a non-empty array');
  return {
    version: 1,
    gatewayId: p.gatewayId,
    seq: p.seq,
    saltKey: Uint8Array.from(Buffer.from(p.saltKey, 'hex')),
    readings: p.readings.map((r, i) => checkReading(r, `reading ${i}`)),
  };
}

/** Leaf hashes of a payload's readings, in order. */
export function leafHashes(saltKey: Uint8Array, readings: readonly Reading[]): Uint8Array[] {
  return readings.map((r, i) => leafHash(leafSalt(saltKey, i), encodeReading(r)));
}

export function recomputeRoot(p: BatchPayload): Uint8Array {
  return merkleRoot(leafHashes(p.saltKey, p.readings));
}

export interface BuiltBatch {
  readonly gatewayId: string;
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly payload: BatchPayload;
  readonly payloadBytes: Uint8Array;
  readonly leafHashes: Uint8Array[];
  readonly root: Uint8Array;
  readonly count: number;
  readonly firstReceivedAt: number;
  readonly lastReceivedAt: number;
}

export function buildBatch(a: { gatewayId: string; seq: number; prevHash: Uint8Array; readings: readonly Reading[]; saltKey: Uint8Array }): BuiltBatch {
  checkGatewayId(a.gatewayId);
  check32('prevHash', a.prevHash);
  check32('saltKey', a.saltKey);
  if (a.readings.length === 0) throw new ProtocolError('batch.empty', 'a batch has at least one reading');
  const payload: BatchPayload = { version: 1, gatewayId: a.gatewayId, seq: a.seq, saltKey: a.saltKey, readings: a.readings };
  const leaves = leafHashes(a.saltKey, a.readings);
  let first = Infinity;
  let last = -Infinity;
  for (const r of a.readings) {
    first = Math.min(first, r.receivedAt);
    last = Math.max(last, r.receivedAt);
  }
  return {
    gatewayId: a.gatewayId,
    seq: a.seq,
    prevHash: a.prevHash,
    payload,
    payloadBytes: encodePayload(payload),
    leafHashes: leaves,
    root: merkleRoot(leaves),
    count: a.readings.length,
    firstReceivedAt: first,
    lastReceivedAt: last,
  };
}

export function makeHeader(b: BuiltBatch, ciphertextHash: Uint8Array): BatchHeader {
  const h: BatchHeader = {
    version: 1,
    gatewayId: b.gatewayId,
    seq: b.seq,
    prevHash: b.prevHash,
    root: b.root,
    count: b.count,
    firstReceivedAt: b.firstReceivedAt,
    lastReceivedAt: b.lastReceivedAt,
    ciphertextHash,
  };
  checkHeader(h);
  return h;
}
