/**
 * Batches, version 2: the header that is signed and anchored, the slice directory it commits to,
 * and one encrypted slice per patient and day. The full specification, with the reasons for each
 * field, is docs/protocol.md ("Batch layout"); vectors are protocol/vectors/batch-v2.json.
 *
 * Header (all integers big-endian; L = gateway id length):
 *
 * | offset | bytes | field                                                                  |
 * |--------|-------|------------------------------------------------------------------------|
 * | 0      | 1     | version = 0x02                                                         |
 * | 1      | 1     | L, 1..31                                                               |
 * | 2      | L     | gateway id, ASCII [A-Za-z0-9._-]                                       |
 * | 2+L    | 8     | sequence number (1, 2, 3, …; < 2^53)                                   |
 * | 10+L   | 32    | previous header hash (zeros for sequence 1)                            |
 * | 42+L   | 32    | Merkle root: MTH over the slice roots, in directory order              |
 * | 74+L   | 4     | reading count (≥ 1)                                                    |
 * | 78+L   | 8     | first receive time, ms since the epoch                                 |
 * | 86+L   | 8     | last receive time, ms                                                  |
 * | 94+L   | 8     | sealedAt: no reading of this or an earlier batch was received later    |
 * | 102+L  | 8     | watermark: no reading of a later batch was received earlier            |
 * | 110+L  | 2     | slice count (1..count)                                                 |
 * | 112+L  | 32    | directory hash = SHA-256("mcps/batch-directory/v2" ‖ directory)        |
 * | 144+L  |       | end: no trailing bytes                                                 |
 *
 * headerHash = SHA-256("mcps/batch-header/v2" ‖ header): what the gateway signs, what the next
 * header names as previous, and what the chain anchors.
 *
 * Directory: version (1: 0x02 or 0x03) ‖ epoch id (8) ‖ wrapped epoch key (80: HPKE enc ‖ ct) ‖ slice
 * count (2) ‖ one 124-byte entry per slice, strictly ascending by tag: tag (32) ‖ day (4) ‖ count (4)
 * ‖ first (8) ‖ last (8) ‖ slice root (32) ‖ ciphertext length (4) ‖ SHA-256(ciphertext) (32). The
 * version names how the leaves of its slices are salted (below); the layouts are otherwise the same,
 * and a verifier reads both.
 *
 * Envelope (what the chain node stores and serves): directory ‖ ciphertext of slice 1 ‖ … ‖ of slice k.
 *
 * A slice holds the readings of one patient tag (patient and UTC day), in arrival order; its
 * plaintext is 0x02 ‖ u32 n ‖ n × (u32 length ‖ canonical reading bytes). Leaf i of a slice is
 * H(0x00 ‖ salt_i ‖ reading bytes); in a version 2 directory's slices salt_i = HMAC(K_salt,
 * "mcps/leaf-salt/v1" ‖ u32(i)), in a version 3 directory's (what buildBatch seals now) salt_i is the
 * i-th 32 bytes of the ChaCha20 keystream under K_salt (protocol/merkle.ts: one call per slice instead
 * of one HMAC per reading; K_salt has its own label per version). The slice root is MTH of its
 * leaves; the batch root is MTH of the slice roots. Everything here is
 * pure: the epoch key (and its wrapping) are inputs, so a batch is a deterministic function of them.
 */
import { canonicalText, encodeReading, checkReading, readingFromCanonical } from './canonical';
import { ProtocolError } from './errors';
import { equalBytes, sha256, utf8 } from './hash';
import { leafHashesFlat, leafHashesWith, merkleRoot, merkleRootFlat, type LeafSaltScheme } from './merkle';
import type { Reading } from './reading';
import { dayOf, patientTag } from './sharing/tags';
import { openSlice, sealSlice, sliceKey, sliceSaltKey } from './sharing/slice-keys';

export const HEADER_VERSION = 2;
/** The directory version buildBatch writes; decoding reads 2 and 3 (DIRECTORY_VERSIONS). */
export const DIRECTORY_VERSION = 3;
export type DirectoryVersion = 2 | 3;
export const DIRECTORY_VERSIONS: readonly DirectoryVersion[] = [2, 3];

/** How the leaves of a directory version's slices are salted. */
export function leafSaltScheme(directoryVersion: DirectoryVersion): LeafSaltScheme {
  return directoryVersion === 2 ? 'hmac' : 'stream';
}
export const SLICE_VERSION = 2;
const HEADER_LABEL = utf8('mcps/batch-header/v2');
const DIRECTORY_LABEL = utf8('mcps/batch-directory/v2');
const GATEWAY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;
const MAX_COUNT = 1_000_000;
export const WRAPPED_EPOCH_KEY_LENGTH = 80;
export const DIRECTORY_ENTRY_LENGTH = 124;
const DIRECTORY_FIXED = 1 + 8 + WRAPPED_EPOCH_KEY_LENGTH + 2;
const MAX_SLICES = 0xffff;
const MAX_READING_BYTES = 4096;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export interface BatchHeader {
  readonly version: 2;
  readonly gatewayId: string;
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly root: Uint8Array;
  readonly count: number;
  readonly firstReceivedAt: number;
  readonly lastReceivedAt: number;
  readonly sealedAt: number;
  readonly watermark: number;
  readonly sliceCount: number;
  readonly directoryHash: Uint8Array;
}

export interface SliceEntry {
  readonly tag: Uint8Array;
  readonly day: number;
  readonly count: number;
  readonly firstReceivedAt: number;
  readonly lastReceivedAt: number;
  readonly sliceRoot: Uint8Array;
  readonly ciphertextLength: number;
  readonly ciphertextHash: Uint8Array;
}

export interface Directory {
  readonly version: DirectoryVersion;
  /** The gateway's epoch key this batch's slice keys derive from: its id (ms it was made) and its wrapping to the owner. */
  readonly epochId: number;
  readonly wrappedEpochKey: Uint8Array;
  readonly slices: readonly SliceEntry[];
}

function checkGatewayId(id: string): void {
  if (typeof id !== 'string' || !GATEWAY_ID.test(id)) throw new ProtocolError('batch.gateway-id', `gateway id "${id}" must be 1..31 characters of [A-Za-z0-9._-]`);
}

function check32(name: string, b: Uint8Array): void {
  if (!(b instanceof Uint8Array) || b.length !== 32) throw new ProtocolError('batch.hash-length', `${name} must be 32 bytes`);
}

function checkTime(where: string, k: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new ProtocolError(`${where}.time`, `${k} ${v} must be a non-negative integer (ms)`);
}

function checkHeader(h: BatchHeader): void {
  if (h.version !== HEADER_VERSION) throw new ProtocolError('header.version', `version ${String(h.version)}, expected ${HEADER_VERSION}`);
  checkGatewayId(h.gatewayId);
  if (!Number.isSafeInteger(h.seq) || h.seq < 1) throw new ProtocolError('header.seq', `sequence number ${h.seq} must be a positive integer below 2^53`);
  check32('prevHash', h.prevHash);
  check32('root', h.root);
  check32('directoryHash', h.directoryHash);
  if (!Number.isInteger(h.count) || h.count < 1 || h.count > MAX_COUNT) throw new ProtocolError('header.count', `count ${h.count} must be 1..${MAX_COUNT}`);
  if (!Number.isInteger(h.sliceCount) || h.sliceCount < 1 || h.sliceCount > Math.min(h.count, MAX_SLICES)) throw new ProtocolError('header.slice-count', `slice count ${h.sliceCount} must be 1..${Math.min(h.count, MAX_SLICES)}`);
  for (const [k, v] of [['firstReceivedAt', h.firstReceivedAt], ['lastReceivedAt', h.lastReceivedAt], ['sealedAt', h.sealedAt], ['watermark', h.watermark]] as const) checkTime('header', k, v);
  if (h.lastReceivedAt < h.firstReceivedAt) throw new ProtocolError('header.time', 'lastReceivedAt is before firstReceivedAt');
  if (h.sealedAt < h.lastReceivedAt) throw new ProtocolError('header.time', 'sealedAt is before lastReceivedAt');
  if (h.watermark > h.sealedAt) throw new ProtocolError('header.time', 'watermark is after sealedAt');
  if (h.seq === 1 && h.prevHash.some((b) => b !== 0)) throw new ProtocolError('header.prev-hash', 'the first batch must name an all-zero previous hash');
}

export function headerLength(gatewayIdLength: number): number {
  return 144 + gatewayIdLength;
}

export function encodeHeader(h: BatchHeader): Uint8Array {
  checkHeader(h);
  const id = utf8(h.gatewayId);
  const out = new Uint8Array(headerLength(id.length));
  const dv = new DataView(out.buffer);
  out[0] = HEADER_VERSION;
  out[1] = id.length;
  out.set(id, 2);
  const o = 2 + id.length;
  dv.setBigUint64(o, BigInt(h.seq));
  out.set(h.prevHash, o + 8);
  out.set(h.root, o + 40);
  dv.setUint32(o + 72, h.count);
  dv.setBigUint64(o + 76, BigInt(h.firstReceivedAt));
  dv.setBigUint64(o + 84, BigInt(h.lastReceivedAt));
  dv.setBigUint64(o + 92, BigInt(h.sealedAt));
  dv.setBigUint64(o + 100, BigInt(h.watermark));
  dv.setUint16(o + 108, h.sliceCount);
  out.set(h.directoryHash, o + 110);
  return out;
}

export function decodeHeader(bytes: Uint8Array): BatchHeader {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) throw new ProtocolError('header.truncated', `header of ${bytes?.length ?? 0} bytes`);
  if (bytes[0] !== HEADER_VERSION) throw new ProtocolError('header.version', `version ${bytes[0]}, expected ${HEADER_VERSION}`);
  const len = bytes[1]!;
  if (len < 1 || len > 31) throw new ProtocolError('header.gateway-id', `gateway id length ${len}`);
  const expected = headerLength(len);
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
    version: 2,
    gatewayId,
    seq: big(o, 'seq'),
    prevHash: bytes.slice(o + 8, o + 40),
    root: bytes.slice(o + 40, o + 72),
    count: dv.getUint32(o + 72),
    firstReceivedAt: big(o + 76, 'firstReceivedAt'),
    lastReceivedAt: big(o + 84, 'lastReceivedAt'),
    sealedAt: big(o + 92, 'sealedAt'),
    watermark: big(o + 100, 'watermark'),
    sliceCount: dv.getUint16(o + 108),
    directoryHash: bytes.slice(o + 110, o + 142),
  };
  checkHeader(h);
  return h;
}

export function headerHash(h: BatchHeader): Uint8Array {
  return sha256(HEADER_LABEL, encodeHeader(h));
}

/** The hash of an encoded header, without decoding it (the bytes must be a valid header). */
export function headerBytesHash(bytes: Uint8Array): Uint8Array {
  return sha256(HEADER_LABEL, bytes);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function checkEntry(e: SliceEntry, i: number): void {
  const w = `directory.slice`;
  if (!(e.tag instanceof Uint8Array) || e.tag.length !== 32) throw new ProtocolError(`${w}-tag`, `slice ${i}: tag must be 32 bytes`);
  check32(`slice ${i} root`, e.sliceRoot);
  check32(`slice ${i} ciphertext hash`, e.ciphertextHash);
  if (!Number.isInteger(e.count) || e.count < 1 || e.count > MAX_COUNT) throw new ProtocolError(`${w}-count`, `slice ${i}: count ${e.count}`);
  checkTime('directory', `slice ${i} firstReceivedAt`, e.firstReceivedAt);
  checkTime('directory', `slice ${i} lastReceivedAt`, e.lastReceivedAt);
  if (e.lastReceivedAt < e.firstReceivedAt) throw new ProtocolError('directory.time', `slice ${i}: last before first`);
  if (dayOf(e.firstReceivedAt) !== e.day || dayOf(e.lastReceivedAt) !== e.day) throw new ProtocolError('directory.day', `slice ${i}: day ${e.day} does not hold its time span`);
  if (!Number.isInteger(e.ciphertextLength) || e.ciphertextLength < 16 + 5) throw new ProtocolError('directory.slice-length', `slice ${i}: ciphertext length ${e.ciphertextLength}`);
}

export function encodeDirectory(d: Directory): Uint8Array {
  if (!DIRECTORY_VERSIONS.includes(d.version)) throw new ProtocolError('directory.version', `version ${String(d.version)}`);
  checkTime('directory', 'epochId', d.epochId);
  if (!(d.wrappedEpochKey instanceof Uint8Array) || d.wrappedEpochKey.length !== WRAPPED_EPOCH_KEY_LENGTH) throw new ProtocolError('directory.epoch-key', `wrapped epoch key must be ${WRAPPED_EPOCH_KEY_LENGTH} bytes`);
  if (d.slices.length < 1 || d.slices.length > MAX_SLICES) throw new ProtocolError('directory.slice-count', `${d.slices.length} slices`);
  const out = new Uint8Array(DIRECTORY_FIXED + d.slices.length * DIRECTORY_ENTRY_LENGTH);
  const dv = new DataView(out.buffer);
  out[0] = d.version;
  dv.setBigUint64(1, BigInt(d.epochId));
  out.set(d.wrappedEpochKey, 9);
  dv.setUint16(89, d.slices.length);
  d.slices.forEach((e, i) => {
    checkEntry(e, i);
    if (i > 0 && compareBytes(d.slices[i - 1]!.tag, e.tag) >= 0) throw new ProtocolError('directory.order', `slice ${i}: tags must be strictly ascending`);
    const o = DIRECTORY_FIXED + i * DIRECTORY_ENTRY_LENGTH;
    out.set(e.tag, o);
    dv.setUint32(o + 32, e.day);
    dv.setUint32(o + 36, e.count);
    dv.setBigUint64(o + 40, BigInt(e.firstReceivedAt));
    dv.setBigUint64(o + 48, BigInt(e.lastReceivedAt));
    out.set(e.sliceRoot, o + 56);
    dv.setUint32(o + 88, e.ciphertextLength);
    out.set(e.ciphertextHash, o + 92);
  });
  return out;
}

/** Decodes a directory at the start of `bytes`; returns it and its length (the envelope continues after it). */
export function decodeDirectoryPrefix(bytes: Uint8Array): { directory: Directory; length: number } {
  if (bytes.length < DIRECTORY_FIXED) throw new ProtocolError('directory.truncated', `${bytes.length} bytes`);
  const version = bytes[0] as DirectoryVersion;
  if (!DIRECTORY_VERSIONS.includes(version)) throw new ProtocolError('directory.version', `version ${bytes[0]}, expected one of ${DIRECTORY_VERSIONS.join(', ')}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const epoch = dv.getBigUint64(1);
  if (epoch > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('directory.range', 'epoch id above 2^53');
  const n = dv.getUint16(89);
  if (n < 1) throw new ProtocolError('directory.slice-count', 'no slices');
  const length = DIRECTORY_FIXED + n * DIRECTORY_ENTRY_LENGTH;
  if (bytes.length < length) throw new ProtocolError('directory.truncated', `${bytes.length} bytes, expected at least ${length}`);
  const slices: SliceEntry[] = [];
  for (let i = 0; i < n; i++) {
    const o = DIRECTORY_FIXED + i * DIRECTORY_ENTRY_LENGTH;
    const big = (at: number): number => {
      const v = dv.getBigUint64(at);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('directory.range', `slice ${i}: time above 2^53`);
      return Number(v);
    };
    const e: SliceEntry = {
      tag: bytes.slice(o, o + 32),
      day: dv.getUint32(o + 32),
      count: dv.getUint32(o + 36),
      firstReceivedAt: big(o + 40),
      lastReceivedAt: big(o + 48),
      sliceRoot: bytes.slice(o + 56, o + 88),
      ciphertextLength: dv.getUint32(o + 88),
      ciphertextHash: bytes.slice(o + 92, o + 124),
    };
    checkEntry(e, i);
    if (i > 0 && compareBytes(slices[i - 1]!.tag, e.tag) >= 0) throw new ProtocolError('directory.order', `slice ${i}: tags must be strictly ascending`);
    slices.push(e);
  }
  return { directory: { version, epochId: Number(epoch), wrappedEpochKey: bytes.slice(9, 89), slices }, length };
}

export function decodeDirectory(bytes: Uint8Array): Directory {
  const { directory, length } = decodeDirectoryPrefix(bytes);
  if (length !== bytes.length) throw new ProtocolError('directory.trailing-bytes', `${bytes.length - length} bytes after the directory`);
  return directory;
}

export function directoryHash(directoryBytes: Uint8Array): Uint8Array {
  return sha256(DIRECTORY_LABEL, directoryBytes);
}

/** The batch root implied by a directory: MTH over its slice roots, in order. */
export function directoryRoot(d: Directory): Uint8Array {
  return merkleRoot(d.slices.map((s) => s.sliceRoot));
}

export interface ParsedEnvelope {
  readonly directory: Directory;
  readonly directoryBytes: Uint8Array;
  /** One ciphertext per directory entry, in order. */
  readonly ciphertexts: readonly Uint8Array[];
}

/**
 * Splits an envelope and checks it against its header: directory hash, slice count, total reading
 * count, time spans inside the header's, batch root = MTH(slice roots), and every slice ciphertext's
 * length and hash. This is all a chain node can check without any key; it is also where a data
 * user starts. Throws ProtocolError naming the first mismatch.
 */
export function checkEnvelope(header: BatchHeader, envelope: Uint8Array): ParsedEnvelope {
  const { directory, length } = decodeDirectoryPrefix(envelope);
  const directoryBytes = envelope.slice(0, length);
  if (!equalBytes(directoryHash(directoryBytes), header.directoryHash)) throw new ProtocolError('envelope.directory-hash', 'the directory does not hash to the header\'s directoryHash');
  checkDirectoryAgainstHeader(header, directory);
  let o = length;
  const out: Uint8Array[] = [];
  directory.slices.forEach((e, i) => {
    if (o + e.ciphertextLength > envelope.length) throw new ProtocolError('envelope.truncated', `slice ${i} runs past the end of the envelope`);
    const ct = envelope.subarray(o, o + e.ciphertextLength);
    if (!equalBytes(sha256(ct), e.ciphertextHash)) throw new ProtocolError('envelope.slice-hash', `slice ${i} does not hash to its directory entry`);
    out.push(ct);
    o += e.ciphertextLength;
  });
  if (o !== envelope.length) throw new ProtocolError('envelope.trailing-bytes', `${envelope.length - o} bytes after the last slice`);
  return { directory, directoryBytes, ciphertexts: out };
}

/** The checks between a header and a directory that need no ciphertext (a user checks them on every header of a range). */
export function checkDirectoryAgainstHeader(header: BatchHeader, d: Directory): number {
  if (d.slices.length !== header.sliceCount) throw new ProtocolError('envelope.slice-count', `directory has ${d.slices.length} slices, header says ${header.sliceCount}`);
  let total = 0;
  for (const e of d.slices) {
    total += e.count;
    if (e.firstReceivedAt < header.firstReceivedAt || e.lastReceivedAt > header.lastReceivedAt) throw new ProtocolError('envelope.time', 'a slice\'s time span lies outside the header\'s');
  }
  if (total !== header.count) throw new ProtocolError('envelope.count', `slices hold ${total} readings, header says ${header.count}`);
  if (!equalBytes(directoryRoot(d), header.root)) throw new ProtocolError('envelope.root', 'MTH of the slice roots is not the header\'s root');
  return total;
}

/** A slice's plaintext: its readings as canonical bytes, in order. */
export function encodeSlicePayload(readingBytes: readonly Uint8Array[]): Uint8Array {
  const total = readingBytes.reduce((n, b) => n + 4 + b.length, 5);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out[0] = SLICE_VERSION;
  dv.setUint32(1, readingBytes.length);
  let o = 5;
  for (const b of readingBytes) {
    dv.setUint32(o, b.length);
    out.set(b, o + 4);
    o += 4 + b.length;
  }
  return out;
}

/** The reading byte strings of a slice plaintext (not yet parsed). */
export function decodeSlicePayload(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length < 5) throw new ProtocolError('slice.truncated', `${bytes.length} bytes`);
  if (bytes[0] !== SLICE_VERSION) throw new ProtocolError('slice.version', `version ${bytes[0]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(1);
  if (n < 1 || n > MAX_COUNT) throw new ProtocolError('slice.count', `${n} readings`);
  const out: Uint8Array[] = [];
  let o = 5;
  for (let i = 0; i < n; i++) {
    if (o + 4 > bytes.length) throw new ProtocolError('slice.truncated', `reading ${i}`);
    const len = dv.getUint32(o);
    if (len < 2 || len > MAX_READING_BYTES || o + 4 + len > bytes.length) throw new ProtocolError('slice.truncated', `reading ${i} of ${len} bytes`);
    out.push(bytes.subarray(o + 4, o + 4 + len));
    o += 4 + len;
  }
  if (o !== bytes.length) throw new ProtocolError('slice.trailing-bytes', `${bytes.length - o} bytes after the last reading`);
  return out;
}

/** Leaf hashes of a slice's readings (their canonical bytes), salted from the slice's salt key as its directory version says. */
export function sliceLeaves(directoryVersion: DirectoryVersion, saltKey: Uint8Array, readingBytes: readonly Uint8Array[]): Uint8Array[] {
  return leafHashesWith(leafSaltScheme(directoryVersion), saltKey, readingBytes);
}

export interface OpenedSlice {
  readonly readings: Reading[];
  readonly readingBytes: Uint8Array[];
  /** The leaf hashes, back to back: leaf i at [32·i, 32·i + 32). */
  readonly leafHashes: Uint8Array;
  readonly saltKey: Uint8Array;
}

/**
 * Decrypts one slice with its key and checks it against its directory entry: it opens (so it is
 * this batch's slice for this tag), holds `count` readings, every one on the entry's day and inside
 * its time span (the first and last exactly), and its leaves — salted as the directory's version
 * says — hash to the entry's slice root.
 *
 * The readings are parsed from one latin1 string of the plaintext (readingFromCanonical: the
 * canonical form, ASCII strings); any reading not in that form is decoded as UTF-8 and parsed with
 * JSON.parse and checked as before. Either way the same readings, or the same refusal.
 */
export function openAndCheckSlice(key: Uint8Array, gatewayId: string, seq: number, entry: SliceEntry, ciphertext: Uint8Array, directoryVersion: DirectoryVersion): OpenedSlice {
  const plain = openSlice(key, gatewayId, seq, entry.tag, ciphertext);
  const readingBytes = decodeSlicePayload(plain);
  if (readingBytes.length !== entry.count) throw new ProtocolError('slice.count', `slice holds ${readingBytes.length} readings, directory says ${entry.count}`);
  const saltKey = sliceSaltKey(key, directoryVersion);
  const leafHashes = leafHashesFlat(leafSaltScheme(directoryVersion), saltKey, readingBytes);
  if (!equalBytes(merkleRootFlat(leafHashes), entry.sliceRoot)) throw new ProtocolError('slice.root', 'the readings do not hash to the slice root');
  const text = canonicalText(plain);
  const readings = new Array<Reading>(readingBytes.length);
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < readingBytes.length; i++) {
    const b = readingBytes[i]!;
    const at = b.byteOffset - plain.byteOffset;
    const r = readingFromCanonical(text, at, at + b.length) ?? parseReading(b, i);
    if (r.receivedAt < entry.firstReceivedAt || r.receivedAt > entry.lastReceivedAt) throw new ProtocolError('slice.time', `reading ${i} lies outside the slice's time span`);
    if (r.receivedAt < first) first = r.receivedAt;
    if (r.receivedAt > last) last = r.receivedAt;
    readings[i] = r;
  }
  if (first !== entry.firstReceivedAt || last !== entry.lastReceivedAt) throw new ProtocolError('slice.time', 'the slice\'s first or last reading is not the directory\'s');
  return { readings, readingBytes, leafHashes, saltKey };
}

/** A slice reading not in the canonical ASCII form: UTF-8, JSON.parse, checkReading. */
function parseReading(b: Uint8Array, i: number): Reading {
  let parsed: unknown;
  try {
    parsed = JSON.parse(UTF8.decode(b));
  } catch (err) {
    throw new ProtocolError('slice.reading', `reading ${i}: ${(err as Error).message}`);
  }
  return checkReading(parsed, `slice reading ${i}`);
}

export interface EpochKey {
  /** ms since the epoch when the gateway made the key; names it in the directory. */
  readonly id: number;
  /** 32 bytes; secret. */
  readonly key: Uint8Array;
  /** HPKE wrapping of `key` to the data owner (info = epochKeyInfo(gatewayId, id)), 80 bytes. */
  readonly wrapped: Uint8Array;
}

export interface BuiltSlice {
  readonly entry: SliceEntry;
  readonly key: Uint8Array;
  readonly readings: readonly Reading[];
}

export interface BuiltBatch {
  readonly header: BatchHeader;
  readonly envelope: Uint8Array;
  readonly directory: Directory;
  readonly slices: readonly BuiltSlice[];
}

export interface BuildBatchInput {
  readonly gatewayId: string;
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly readings: readonly Reading[];
  /** The hospital's patient tag key. */
  readonly tagKey: Uint8Array;
  /**
   * The patient tag of a pseudonym on a day under `tagKey` (patientTag), when the caller keeps the
   * tags it computed before (the seal worker: the same patients in every batch); must return
   * exactly patientTag(tagKey, patient, day).
   */
  readonly tagOf?: (patient: string, day: number) => Uint8Array;
  readonly epoch: EpochKey;
  /** The gateway's clock when sealing (raised to the last receive time if the clock is behind it). */
  readonly sealedAt: number;
  /** A lower bound of the receive time of every reading a later batch will hold (≤ sealedAt). */
  readonly watermark: number;
  /** The directory version (how leaves are salted); DIRECTORY_VERSION (3) unless given. */
  readonly directoryVersion?: DirectoryVersion;
}

/**
 * Builds a batch: readings grouped into slices by patient tag (slices ordered by tag, readings in
 * arrival order), each slice encrypted under its derived key, the directory, the root and the
 * header. Deterministic in its inputs.
 */
export function buildBatch(a: BuildBatchInput): BuiltBatch {
  const steps = buildBatchSteps(a);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * Runs buildBatchSteps (or any such generator) to its end, awaiting `pause` between its steps (null:
 * no pause). The caller decides what a pause is (yield to I/O, count it); nothing here waits itself.
 */
export async function driveSteps<T>(steps: Generator<void, T, void>, pause: (() => Promise<void> | void) | null): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (pause) await pause();
  }
}

/**
 * buildBatch in steps: the generator yields after every `slicesPerStep` slices (key derivation,
 * encryption, leaf hashes: the costly part), so a caller on a busy thread can let other work run in
 * between; its return value is buildBatch's. Same batch, byte for byte.
 */
export function* buildBatchSteps(a: BuildBatchInput, slicesPerStep = 64): Generator<void, BuiltBatch, void> {
  checkGatewayId(a.gatewayId);
  check32('prevHash', a.prevHash);
  check32('epoch key', a.epoch.key);
  if (a.readings.length === 0) throw new ProtocolError('batch.empty', 'a batch has at least one reading');
  if (a.readings.length > MAX_COUNT) throw new ProtocolError('batch.count', `${a.readings.length} readings`);
  const version = a.directoryVersion ?? DIRECTORY_VERSION;
  if (!DIRECTORY_VERSIONS.includes(version)) throw new ProtocolError('directory.version', `version ${String(version)}`);
  // Slices by tag; the tag is computed once per patient and day in the batch (byPatientDay), not
  // once per reading.
  const groups = new Map<string, { tag: Uint8Array; day: number; readings: Reading[] }>();
  const byPatientDay = new Map<string, { tag: Uint8Array; day: number; readings: Reading[] }>();
  const tagOf = a.tagOf ?? ((patient: string, day: number) => patientTag(a.tagKey, patient, day));
  let first = Infinity;
  let last = -Infinity;
  for (const r of a.readings) {
    const day = dayOf(r.receivedAt);
    const pd = `${day}\u0000${r.patient}`;
    let g = byPatientDay.get(pd);
    if (!g) {
      const tag = tagOf(r.patient, day);
      const k = Buffer.from(tag).toString('hex');
      g = groups.get(k);
      if (!g) groups.set(k, (g = { tag, day, readings: [] }));
      byPatientDay.set(pd, g);
    }
    g.readings.push(r);
    first = Math.min(first, r.receivedAt);
    last = Math.max(last, r.receivedAt);
  }
  if (groups.size > MAX_SLICES) throw new ProtocolError('batch.slices', `${groups.size} patient-days in one batch (at most ${MAX_SLICES})`);
  const ordered = [...groups.values()].sort((x, y) => compareBytes(x.tag, y.tag));
  const slices: BuiltSlice[] = [];
  const ciphertexts: Uint8Array[] = [];
  for (const [n, g] of ordered.entries()) {
    if (n > 0 && n % Math.max(1, slicesPerStep) === 0) yield;
    const bytes = g.readings.map((r) => encodeReading(r));
    let f = Infinity;
    let l = -Infinity;
    for (const r of g.readings) {
      f = Math.min(f, r.receivedAt);
      l = Math.max(l, r.receivedAt);
    }
    const binding = { gatewayId: a.gatewayId, seq: a.seq, tag: g.tag, day: g.day, count: g.readings.length, firstReceivedAt: f, lastReceivedAt: l };
    const key = sliceKey(a.epoch.key, binding);
    const ct = sealSlice(key, a.gatewayId, a.seq, g.tag, encodeSlicePayload(bytes));
    const entry: SliceEntry = { tag: g.tag, day: g.day, count: g.readings.length, firstReceivedAt: f, lastReceivedAt: l, sliceRoot: merkleRootFlat(leafHashesFlat(leafSaltScheme(version), sliceSaltKey(key, version), bytes)), ciphertextLength: ct.length, ciphertextHash: sha256(ct) };
    slices.push({ entry, key, readings: g.readings });
    ciphertexts.push(ct);
  }
  const directory: Directory = { version, epochId: a.epoch.id, wrappedEpochKey: a.epoch.wrapped, slices: slices.map((s) => s.entry) };
  const directoryBytes = encodeDirectory(directory);
  const envelope = new Uint8Array(directoryBytes.length + ciphertexts.reduce((n, c) => n + c.length, 0));
  envelope.set(directoryBytes, 0);
  let o = directoryBytes.length;
  for (const c of ciphertexts) {
    envelope.set(c, o);
    o += c.length;
  }
  const sealedAt = Math.max(a.sealedAt, last);
  const header: BatchHeader = {
    version: 2,
    gatewayId: a.gatewayId,
    seq: a.seq,
    prevHash: a.prevHash,
    root: directoryRoot(directory),
    count: a.readings.length,
    firstReceivedAt: first,
    lastReceivedAt: last,
    sealedAt,
    watermark: Math.min(a.watermark, sealedAt),
    sliceCount: slices.length,
    directoryHash: directoryHash(directoryBytes),
  };
  checkHeader(header);
  return { header, envelope, directory, slices };
}

/**
 * The data owner's full check of a stored batch with the batch's epoch key (unwrapped by the
 * caller): every slice opens under its derived key and matches its entry, and every reading's tag
 * is the entry's (the owner holds the tag key). Returns the readings in leaf order.
 */
export function openBatchAsOwner(header: BatchHeader, envelope: Uint8Array, epochKey: Uint8Array, tagKey: Uint8Array): Reading[] {
  const { directory, ciphertexts } = checkEnvelope(header, envelope);
  const out: Reading[] = [];
  directory.slices.forEach((e, i) => {
    const key = sliceKey(epochKey, { gatewayId: header.gatewayId, seq: header.seq, tag: e.tag, day: e.day, count: e.count, firstReceivedAt: e.firstReceivedAt, lastReceivedAt: e.lastReceivedAt });
    const opened = openAndCheckSlice(key, header.gatewayId, header.seq, e, ciphertexts[i]!, directory.version);
    for (const r of opened.readings) {
      if (!equalBytes(patientTag(tagKey, r.patient, e.day), e.tag)) throw new ProtocolError('slice.tag', `slice ${i}: a reading of another patient (tag mismatch)`);
      out.push(r);
    }
  });
  return out;
}
