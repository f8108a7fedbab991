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
  return new Uint8Array(h.digest());
}

/**
 * SHA-256 of one byte string with node:crypto's one-shot hash() (no Hash object: about half the
 * cost for the short inputs of Merkle leaves and nodes). Same digest as sha256(data).
 */
export function sha256Once(data: Uint8Array): Uint8Array {
  const d = hash('sha256', data, 'buffer');
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
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
