/**
 * SHA-256 over one or more byte strings, as used by the Merkle tree, headers and transcripts.
 *
 * node:crypto rather than @noble/hashes: `npm run bench -- merkle` measures both on the Merkle
 * workload (64–300-byte inputs) in the same run; node:crypto's OpenSSL implementation is the faster
 * one there (the figures are in docs/architecture.md). It is pure computation, so protocol/ stays
 * free of I/O.
 */
import { createHash, createHmac, hash } from 'node:crypto';

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return fromBinary(h.digest('binary'));
}

/** A 32-byte digest given as a 'binary' string (one character per byte) as a fresh Uint8Array. */
function fromBinary(s: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * SHA-256 of `data` written into out[at, at + 32). node:crypto's one-shot hash() gives the digest as
 * a 32-character 'binary' (latin1) string, one character per byte, copied in here: no ArrayBuffer is
 * made per digest. A Buffer digest costs more than the hashing of a short input (an off-heap
 * backing store each time: about 2.4 µs against 0.8 µs for a 65-byte input on the 2-core machine),
 * and leaves and Merkle nodes are hashed once per reading. Same digest as sha256(data).
 */
export function sha256Into(data: Uint8Array, out: Uint8Array, at: number): void {
  const s = hash('sha256', data, 'binary');
  for (let i = 0; i < 32; i++) out[at + i] = s.charCodeAt(i);
}

/**
 * SHA-256 of one byte string with node:crypto's one-shot hash() (no Hash object), into a fresh
 * 32-byte array (small enough for V8 to keep on its heap). Same digest as sha256(data).
 */
export function sha256Once(data: Uint8Array): Uint8Array {
  return fromBinary(hash('sha256', data, 'binary'));
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return fromBinary(h.digest('binary'));
}

const UTF8 = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return UTF8.encode(s);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
