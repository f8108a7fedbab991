/**
 * BLS12-381 signatures for gateways, chain nodes and data users, over @noble/curves.
 *
 * Min-sig ("short signatures"): signatures in G1 (48 bytes compressed), public keys in G2 (96
 * bytes) — the signer is the weak edge device, and short signatures keep batches and transcripts
 * small. Messages are hashed to G1 with RFC 9380 (SSWU, random oracle) under our own DSTs, one for
 * signatures and another for proofs of possession, so a proof of possession can never be replayed
 * as a signature and no signature made for another protocol verifies here.
 *
 * Every key and signature from outside is decoded strictly: exact compressed length, a valid field
 * element on the curve, in the prime-order subgroup, and not the identity (noble accepts the
 * infinity encoding; a zero public key or signature would make verification vacuous).
 */
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { ProtocolError } from './errors';

export const SIG_DST = 'MCPS-EDGE-V1-BLS-SIG-BLS12381G1_XMD:SHA-256_SSWU_RO_';
export const POP_DST = 'MCPS-EDGE-V1-BLS-POP-BLS12381G1_XMD:SHA-256_SSWU_RO_';

const sigs = bls12_381.shortSignatures;
const G1 = bls12_381.G1.Point;
const G2 = bls12_381.G2.Point;
const R = bls12_381.fields.Fr.ORDER;

type G1Point = ReturnType<typeof G1.fromBytes>;
type G2Point = ReturnType<typeof G2.fromBytes>;

export const SECRET_KEY_LENGTH = 32;
export const PUBLIC_KEY_LENGTH = 96;
export const SIGNATURE_LENGTH = 48;

function bytesToBigInt(b: Uint8Array): bigint {
  let x = 0n;
  for (const v of b) x = (x << 8n) | BigInt(v);
  return x;
}

/** Checks a 32-byte big-endian secret scalar: 0 < k < r. Out-of-range values are refused, not reduced. */
export function checkSecretKey(sk: Uint8Array): Uint8Array {
  if (!(sk instanceof Uint8Array) || sk.length !== SECRET_KEY_LENGTH) throw new ProtocolError('bls.secret-key-length', `secret key must be ${SECRET_KEY_LENGTH} bytes`);
  const k = bytesToBigInt(sk);
  if (k === 0n || k >= R) throw new ProtocolError('bls.secret-key-range', 'secret key scalar out of range');
  return sk;
}

/**
 * A secret key from injected randomness (at least 48 bytes, e.g. randomBytes(48)): hashed to a
 * scalar with negligible bias (noble's mapHashToField, as in the IETF BLS KeyGen).
 */
export function blsKeygen(seed: Uint8Array): Uint8Array {
  if (!(seed instanceof Uint8Array) || seed.length < 48) throw new ProtocolError('bls.seed-length', 'key generation needs at least 48 bytes of randomness');
  return checkSecretKey(bls12_381.utils.randomSecretKey(seed));
}

export function blsPublicKey(sk: Uint8Array): Uint8Array {
  return sigs.getPublicKey(checkSecretKey(sk)).toBytes(true);
}

export function decodeG2PublicKey(bytes: Uint8Array): G2Point {
  if (!(bytes instanceof Uint8Array) || bytes.length !== PUBLIC_KEY_LENGTH) throw new ProtocolError('bls.public-key-length', `public key must be ${PUBLIC_KEY_LENGTH} bytes (compressed G2)`);
  if ((bytes[0]! & 0x80) === 0) throw new ProtocolError('bls.public-key-uncompressed', 'public key must use the compressed encoding');
  let p: G2Point;
  try {
    p = G2.fromBytes(bytes);
  } catch (err) {
    throw new ProtocolError('bls.public-key-invalid', (err as Error).message);
  }
  if (p.is0()) throw new ProtocolError('bls.public-key-identity', 'public key is the identity point');
  try {
    p.assertValidity();
  } catch (err) {
    throw new ProtocolError('bls.public-key-invalid', (err as Error).message);
  }
  if (!p.isTorsionFree()) throw new ProtocolError('bls.public-key-subgroup', 'public key is not in the prime-order subgroup');
  return p;
}

/**
 * decodeG2PublicKey, memoised: the subgroup check on G2 costs ~4 ms with noble, and a node sees the
 * same registered keys again and again. Bounded (oldest entries dropped); keys are immutable bytes,
 * so a hit returns exactly what decoding would.
 */
const g2Cache = new Map<string, G2Point>();
const G2_CACHE_MAX = 4096;

export function decodeG2PublicKeyCached(bytes: Uint8Array): G2Point {
  const k = Buffer.from(bytes).toString('hex');
  const hit = g2Cache.get(k);
  if (hit) return hit;
  const p = decodeG2PublicKey(bytes);
  if (g2Cache.size >= G2_CACHE_MAX) g2Cache.delete(g2Cache.keys().next().value as string);
  g2Cache.set(k, p);
  return p;
}

export function decodeG1Signature(bytes: Uint8Array): G1Point {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SIGNATURE_LENGTH) throw new ProtocolError('bls.signature-length', `signature must be ${SIGNATURE_LENGTH} bytes (compressed G1)`);
  if ((bytes[0]! & 0x80) === 0) throw new ProtocolError('bls.signature-uncompressed', 'signature must use the compressed encoding');
  let p: G1Point;
  try {
    p = G1.fromBytes(bytes);
  } catch (err) {
    throw new ProtocolError('bls.signature-invalid', (err as Error).message);
  }
  if (p.is0()) throw new ProtocolError('bls.signature-identity', 'signature is the identity point');
  try {
    p.assertValidity();
  } catch (err) {
    throw new ProtocolError('bls.signature-invalid', (err as Error).message);
  }
  if (!p.isTorsionFree()) throw new ProtocolError('bls.signature-subgroup', 'signature is not in the prime-order subgroup');
  return p;
}

/** Signs under `dst` (default: the batch/receipt signature DST). Each protocol use has its own DST. */
export function blsSign(sk: Uint8Array, msg: Uint8Array, dst: string = SIG_DST): Uint8Array {
  return sigs.sign(sigs.hash(msg, dst), checkSecretKey(sk)).toBytes(true);
}

/**
 * Who computes BLS signatures: noble here; mcl-wasm in common/mcl-pairing.ts (same bytes, tested
 * side by side). Signing is deterministic, so any two correct signers agree byte for byte.
 */
export interface BlsSigner {
  readonly name: string;
  sign(sk: Uint8Array, msg: Uint8Array, dst: string): Uint8Array;
}

export const nobleSigner: BlsSigner = { name: 'noble', sign: (sk, msg, dst) => blsSign(sk, msg, dst) };

/** True only for a valid signature; malformed keys or signatures give false (use the decoders for reasons). */
export function blsVerify(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array, dst: string = SIG_DST): boolean {
  try {
    return sigs.verify(decodeG1Signature(sig), sigs.hash(msg, dst), decodeG2PublicKeyCached(pk));
  } catch (err) {
    if (err instanceof ProtocolError) return false;
    throw err;
  }
}

/** Proof of possession: the key signs its own encoding under the PoP DST. */
export function blsPopProve(sk: Uint8Array): Uint8Array {
  const pk = blsPublicKey(sk);
  return sigs.sign(sigs.hash(pk, POP_DST), sk).toBytes(true);
}

export function blsPopVerify(pk: Uint8Array, pop: Uint8Array): boolean {
  try {
    return sigs.verify(decodeG1Signature(pop), sigs.hash(pk, POP_DST), decodeG2PublicKey(pk));
  } catch (err) {
    if (err instanceof ProtocolError) return false;
    throw err;
  }
}
