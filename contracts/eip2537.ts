/**
 * EIP-2537 encodings of BLS12-381 points: what the Prague precompiles (and so the registry's
 * on-chain proof-of-possession check) take. Each field element is 64 bytes, big-endian, the top 16
 * bytes zero; G1 = x ‖ y (128 bytes), G2 = x.c0 ‖ x.c1 ‖ y.c0 ‖ y.c1 (256 bytes).
 */
import { decodeG1Signature, decodeG2PublicKey } from '../protocol/bls';

function fe(x: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from(x.toString(16).padStart(128, '0'), 'hex'));
}

/** A compressed (96-byte) public key, strictly decoded, in EIP-2537 G2 encoding. */
export function g2ToEip2537(compressed: Uint8Array): Uint8Array {
  const a = decodeG2PublicKey(compressed).toAffine();
  return new Uint8Array(Buffer.concat([fe(a.x.c0), fe(a.x.c1), fe(a.y.c0), fe(a.y.c1)]));
}

/** A compressed (48-byte) signature or proof of possession, strictly decoded, in EIP-2537 G1 encoding. */
export function g1ToEip2537(compressed: Uint8Array): Uint8Array {
  const a = decodeG1Signature(compressed).toAffine();
  return new Uint8Array(Buffer.concat([fe(a.x), fe(a.y)]));
}

/**
 * The sum of compressed (48-byte) signatures, each strictly decoded, in EIP-2537 G1 encoding: the
 * aggregate a trustless Anchor checks with one pairing call (distinct messages, so no rogue-key
 * concern beyond what the registry's proofs of possession already rule out).
 */
export function aggregateG1ToEip2537(signatures: readonly Uint8Array[]): Uint8Array {
  if (signatures.length === 0) throw new RangeError('no signatures to aggregate');
  let sum = decodeG1Signature(signatures[0]!);
  for (const s of signatures.slice(1)) sum = sum.add(decodeG1Signature(s));
  if (sum.is0()) return new Uint8Array(128);
  const a = sum.toAffine();
  return new Uint8Array(Buffer.concat([fe(a.x), fe(a.y)]));
}
