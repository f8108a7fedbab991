/**
 * Batch verification of many BLS signatures (distinct keys, distinct messages), for a node that
 * receives many M3 at once: with random 64-bit weights r_i (injected randomness),
 *
 *   e(Σ r_i·σ_i, −g2) · Π e(r_i·H(m_i), P_i) = 1
 *
 * costs n + 1 Miller loops and one final exponentiation instead of 2n and n. Without the weights
 * an attacker could submit two invalid signatures whose errors cancel. If the combined check fails,
 * the set is split in halves and each half checked again, so the bad signatures are found and the
 * good ones still accepted.
 */
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { decodeG1Signature, decodeG2PublicKey, decodeG2PublicKeyCached } from '../bls';
import { ProtocolError } from '../errors';

export interface SignatureCheck {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
  readonly dst: string;
  /** The signature already decoded (strictly) by the caller, to avoid decoding it twice. */
  readonly signaturePoint?: ReturnType<typeof decodeG1Signature>;
}

const sigs = bls12_381.shortSignatures;
const Fp12 = bls12_381.fields.Fp12;
const NEG_G2 = bls12_381.G2.Point.BASE.negate();

type G1 = ReturnType<typeof decodeG1Signature>;
type G2 = ReturnType<typeof decodeG2PublicKey>;
interface Decoded {
  index: number;
  pk: G2;
  h: G1;
  sig: G1;
}

function weight(random: (n: number) => Uint8Array): bigint {
  for (;;) {
    const b = random(8);
    let r = 0n;
    for (const x of b) r = (r << 8n) | BigInt(x);
    if (r !== 0n) return r;
  }
}

function combinedOk(items: Decoded[], random: (n: number) => Uint8Array): boolean {
  if (items.length === 1) {
    const it = items[0]!;
    return Fp12.eql(bls12_381.pairingBatch([{ g1: it.sig, g2: NEG_G2 }, { g1: it.h, g2: it.pk }]), Fp12.ONE);
  }
  let S = bls12_381.G1.Point.ZERO;
  const pairs: Array<{ g1: G1; g2: G2 }> = [];
  for (const it of items) {
    const r = weight(random);
    S = S.add(it.sig.multiply(r));
    pairs.push({ g1: it.h.multiply(r), g2: it.pk });
  }
  if (S.is0()) return false;
  pairs.unshift({ g1: S, g2: NEG_G2 });
  return Fp12.eql(bls12_381.pairingBatch(pairs), Fp12.ONE);
}

function bisect(items: Decoded[], random: (n: number) => Uint8Array, out: boolean[]): void {
  if (items.length === 0) return;
  if (combinedOk(items, random)) {
    for (const it of items) out[it.index] = true;
    return;
  }
  if (items.length === 1) return;
  const mid = Math.floor(items.length / 2);
  bisect(items.slice(0, mid), random, out);
  bisect(items.slice(mid), random, out);
}

/** Per signature: valid, malformed (encoding, identity, off curve, outside the subgroup), or invalid. */
export type SignatureVerdict = 'ok' | 'bad-encoding' | 'bad-signature';

/**
 * Where the pairing arithmetic runs. The chain node may choose a faster one (mcl-wasm, see
 * chain-node/mcl-pairing.ts); every backend must classify inputs exactly as the noble one does.
 */
export interface PairingBackend {
  readonly name: string;
  verifyBatch(items: readonly SignatureCheck[], random: (n: number) => Uint8Array): SignatureVerdict[];
}

/** One verdict per item, with noble. Malformed keys count as bad signatures (keys come from the registry). */
export function verifySignaturesBatch(items: readonly SignatureCheck[], random: (n: number) => Uint8Array): SignatureVerdict[] {
  const ok: boolean[] = items.map(() => false);
  const out: SignatureVerdict[] = items.map(() => 'bad-signature');
  const decoded: Decoded[] = [];
  items.forEach((it, index) => {
    let sig: G1;
    try {
      sig = it.signaturePoint ?? decodeG1Signature(it.signature);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      out[index] = 'bad-encoding';
      return;
    }
    try {
      decoded.push({ index, pk: decodeG2PublicKeyCached(it.publicKey), sig, h: sigs.hash(it.message, it.dst) });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
    }
  });
  bisect(decoded, random, ok);
  return out.map((v, i) => (ok[i] ? 'ok' : v));
}

export const noblePairing: PairingBackend = { name: 'noble', verifyBatch: verifySignaturesBatch };

/** One signature under `dst` (default: the batch/receipt DST) checked with the given backend. */
export type SignatureVerifier = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

export function signatureVerifier(backend: PairingBackend, random: (n: number) => Uint8Array, dst: string): SignatureVerifier {
  return (publicKey, message, signature) => backend.verifyBatch([{ publicKey, message, signature, dst }], random)[0] === 'ok';
}
