/**
 * Merkle trees over batch readings: RFC 6962 / RFC 9162 shape with salted leaves.
 *
 *   leaf hash  = SHA-256(0x00 ‖ salt ‖ leaf data)        (salt: 32 bytes)
 *   inner node = SHA-256(0x01 ‖ left ‖ right)
 *   MTH(D[n])  = MTH(D[0:k]) and MTH(D[k:n]) joined, k the largest power of two < n
 *
 * The 0x00/0x01 prefixes separate leaves from inner nodes (no second-preimage by reinterpreting a
 * node as a leaf). Odd counts need no duplicated leaves, so no two different batches share a root.
 * Salts come from a per-batch secret key that travels only inside the encrypted batch: a public
 * root does not let anyone confirm a guessed vital sign by hashing candidates. Two derivations of
 * the salts from that key, named by the batch directory's version (protocol/batch.ts):
 *
 *   'hmac'   (directory v2): salt_i = HMAC-SHA256(K, "mcps/leaf-salt/v1" ‖ u32be(i)), one HMAC per leaf;
 *   'stream' (directory v3): salt_i = bytes [32·i, 32·i + 32) of the ChaCha20 keystream (RFC 8439,
 *            key K, nonce 0¹², initial block counter 0), all of a slice's salts in one call.
 *
 * Both are pseudorandom functions of the secret key and the leaf index; a key salts one slice only.
 */
import { ProtocolError } from './errors';
import { createCipheriv, createHmac } from 'node:crypto';
import { hmacSha256, sha256, sha256Into, sha256Once, utf8 } from './hash';

const LEAF = new Uint8Array([0x00]);
const NODE = new Uint8Array([0x01]);
const SALT_LABEL = utf8('mcps/leaf-salt/v1');

/** The salt of leaf `index`: HMAC-SHA256(batch salt key, label ‖ uint32be(index)). */
export function leafSalt(saltKey: Uint8Array, index: number): Uint8Array {
  if (saltKey.length !== 32) throw new ProtocolError('merkle.salt-key-length', `salt key of ${saltKey.length} bytes, expected 32`);
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new ProtocolError('merkle.bad-index', `leaf index ${index}`);
  const m = new Uint8Array(SALT_LABEL.length + 4);
  m.set(SALT_LABEL, 0);
  new DataView(m.buffer).setUint32(SALT_LABEL.length, index);
  return hmacSha256(saltKey, m);
}

export function leafHash(salt: Uint8Array, data: Uint8Array): Uint8Array {
  if (salt.length !== 32) throw new ProtocolError('merkle.salt-length', `salt of ${salt.length} bytes, expected 32`);
  const m = new Uint8Array(33 + data.length);
  m[0] = LEAF[0]!;
  m.set(salt, 1);
  m.set(data, 33);
  return sha256Once(m);
}

/**
 * leafHash(leafSalt(saltKey, i), data[i]) for every i, the same digests with less per-leaf work
 * (one salt message reused, each salt written straight into its leaf's input): a slice's leaves on
 * the data user's side, where it runs once per reading fetched.
 */
export function saltedLeafHashes(saltKey: Uint8Array, data: readonly Uint8Array[]): Uint8Array[] {
  return split32(leafHashesFlat('hmac', saltKey, data));
}

/** The 32-byte digests of a flat buffer, each in its own array. */
function split32(flat: Uint8Array): Uint8Array[] {
  const out = new Array<Uint8Array>(flat.length / 32);
  for (let i = 0; i < out.length; i++) out[i] = flat.slice(32 * i, 32 * i + 32);
  return out;
}

/** A DataView of exactly the bytes of `b` (copies of 32 and 64 bytes go four bytes at a time: several times faster than byte by byte). */
function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export type LeafSaltScheme = 'hmac' | 'stream';

/** OpenSSL's 16-byte ChaCha20 IV: the 32-bit little-endian block counter (0), then the 96-bit nonce (0). */
const STREAM_IV = new Uint8Array(16);
/** At most 2^32 keystream blocks of 64 bytes under one key: 2^33 salts; far above a slice's 10^6 readings. */
const MAX_STREAM_SALTS = 2 ** 33;

/** Salts 0..count-1 of the 'stream' scheme, concatenated (32·count bytes). */
export function streamLeafSalts(saltKey: Uint8Array, count: number): Uint8Array {
  if (saltKey.length !== 32) throw new ProtocolError('merkle.salt-key-length', `salt key of ${saltKey.length} bytes, expected 32`);
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_STREAM_SALTS) throw new ProtocolError('merkle.bad-index', `${count} leaves`);
  const c = createCipheriv('chacha20', saltKey, STREAM_IV);
  const out = c.update(new Uint8Array(32 * count));
  c.final();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The salt of leaf `index` under either scheme (one leaf: a verifier of a single reading). */
export function leafSaltOf(scheme: LeafSaltScheme, saltKey: Uint8Array, index: number): Uint8Array {
  if (scheme === 'hmac') return leafSalt(saltKey, index);
  if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_STREAM_SALTS) throw new ProtocolError('merkle.bad-index', `leaf index ${index}`);
  return streamLeafSalts(saltKey, index + 1).slice(32 * index);
}

/** leafHash(salt_i, data[i]) for every i, with the salts of `scheme`. */
export function leafHashesWith(scheme: LeafSaltScheme, saltKey: Uint8Array, data: readonly Uint8Array[]): Uint8Array[] {
  return split32(leafHashesFlat(scheme, saltKey, data));
}

/**
 * leafHashesWith's digests written back to back into one buffer (leaf i at [32·i, 32·i + 32)): every
 * leaf's input (0x00 ‖ salt ‖ data) is written into one buffer and hashed in place, and each digest
 * copied into the result (protocol/hash.ts sha256Into), with no array made per leaf. A slice's leaves
 * on both sides: sealed once per reading, checked once per reading fetched.
 */
export function leafHashesFlat(scheme: LeafSaltScheme, saltKey: Uint8Array, data: readonly Uint8Array[]): Uint8Array {
  if (saltKey.length !== 32) throw new ProtocolError('merkle.salt-key-length', `salt key of ${saltKey.length} bytes, expected 32`);
  if (data.length > 0xffffffff + 1) throw new ProtocolError('merkle.bad-index', `${data.length} leaves`);
  const n = data.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += 33 + data[i]!.length;
  const buf = new Uint8Array(total);
  const out = new Uint8Array(32 * n);
  if (scheme === 'stream') {
    const salts = streamLeafSalts(saltKey, n);
    const sv = viewOf(salts);
    const bv = viewOf(buf);
    let o = 0;
    for (let i = 0; i < n; i++) {
      const d = data[i]!;
      // buf[o] stays 0x00 (the leaf prefix); the salt (copied four bytes at a time) and the data follow it.
      for (let j = 0; j < 32; j += 4) bv.setUint32(o + 1 + j, sv.getUint32(32 * i + j));
      buf.set(d, o + 33);
      sha256Into(buf.subarray(o, o + 33 + d.length), out, 32 * i);
      o += 33 + d.length;
    }
    return out;
  }
  const m = Buffer.alloc(SALT_LABEL.length + 4);
  m.set(SALT_LABEL, 0);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const d = data[i]!;
    m.writeUInt32BE(i, SALT_LABEL.length);
    const salt = createHmac('sha256', saltKey).update(m).digest('binary');
    for (let j = 0; j < 32; j++) buf[o + 1 + j] = salt.charCodeAt(j);
    buf.set(d, o + 33);
    sha256Into(buf.subarray(o, o + 33 + d.length), out, 32 * i);
    o += 33 + d.length;
  }
  return out;
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== 32 || right.length !== 32) return sha256(NODE, left, right);
  const m = new Uint8Array(65);
  m[0] = NODE[0]!;
  m.set(left, 1);
  m.set(right, 33);
  return sha256Once(m);
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Root of the tree over `leaves` (leaf hashes). Computed bottom-up in O(n): pairing adjacent nodes
 * level by level and carrying an odd last node up unchanged gives exactly the RFC 6962 shape.
 */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) throw new ProtocolError('merkle.empty', 'a batch has at least one reading');
  let level: Uint8Array[] = leaves.slice();
  // One 65-byte input reused for every inner node (the hash reads it before the next is written).
  const m = new Uint8Array(65);
  m[0] = NODE[0]!;
  const join = (l: Uint8Array, r: Uint8Array): Uint8Array => {
    if (l.length !== 32 || r.length !== 32) return nodeHash(l, r);
    m.set(l, 1);
    m.set(r, 33);
    return sha256Once(m);
  };
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(join(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/**
 * merkleRoot over the leaf hashes of a flat buffer (leaf i at [32·i, 32·i + 32), as leafHashesFlat
 * writes them): the same root, computed level by level in one work buffer (each node's input
 * 0x01 ‖ left ‖ right copied into one reused 65-byte array, each digest written back in place),
 * with no array made per node. `leaves` is not changed.
 */
export function merkleRootFlat(leaves: Uint8Array): Uint8Array {
  if (leaves.length === 0 || leaves.length % 32 !== 0) throw new ProtocolError(leaves.length === 0 ? 'merkle.empty' : 'merkle.leaf-length', `${leaves.length} bytes of leaf hashes`);
  let count = leaves.length / 32;
  if (count === 1) return leaves.slice(0, 32);
  const work = new Uint8Array(32 * Math.ceil(count / 2));
  const m = new Uint8Array(65);
  m[0] = NODE[0]!;
  const mv = viewOf(m);
  let src = leaves;
  while (count > 1) {
    const half = count >> 1;
    // Node k of the next level from nodes 2k and 2k+1 (64 adjacent bytes); written at 32·k, which
    // is never past what is still to be read when src is work itself.
    const sv = viewOf(src);
    for (let k = 0; k < half; k++) {
      const at = 64 * k;
      for (let j = 0; j < 64; j += 4) mv.setUint32(1 + j, sv.getUint32(at + j));
      sha256Into(m, work, 32 * k);
    }
    // An odd last node is carried up unchanged (RFC 6962 shape).
    if (count % 2 === 1) {
      if (src === work) work.copyWithin(32 * half, 32 * (count - 1), 32 * count);
      else work.set(src.subarray(32 * (count - 1), 32 * count), 32 * half);
    }
    count = half + (count % 2);
    src = work;
  }
  return work.slice(0, 32);
}

/** The audit path for leaf `index` (RFC 9162 §2.1.3.1), from the leaf's sibling up to the root. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) throw new ProtocolError('merkle.bad-index', `leaf ${index} of ${leaves.length}`);
  const path: Uint8Array[] = [];
  const walk = (lo: number, hi: number, m: number): void => {
    const n = hi - lo;
    if (n === 1) return;
    const k = largestPowerOfTwoBelow(n);
    if (m < k) {
      walk(lo, lo + k, m);
      path.push(merkleRoot(leaves.slice(lo + k, hi)));
    } else {
      walk(lo + k, hi, m - k);
      path.push(merkleRoot(leaves.slice(lo, lo + k)));
    }
  };
  walk(0, leaves.length, index);
  return path;
}

/** RFC 9162 §2.1.3.2 verification. Returns false for any wrong input; never throws on bad proofs. */
export function verifyInclusion(root: Uint8Array, leaf: Uint8Array, index: number, count: number, proof: readonly Uint8Array[]): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || index < 0 || index >= count) return false;
  let fn = index;
  let sn = count - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0 || r.length !== root.length) return false;
  let d = 0;
  for (let i = 0; i < r.length; i++) d |= r[i]! ^ root[i]!;
  return d === 0;
}
