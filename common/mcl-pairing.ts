/**
 * A faster pairing backend (chain node: handshakes and batch signatures; gateway: receipts): mcl (WebAssembly build from the npm package
 * mcl-wasm), behind protocol/handshake's PairingBackend interface.
 *
 * Same answers as the noble backend (the shared test suite runs both): hash-to-G1 is RFC 9380 —
 * mcl's own hash_to_curve under our DST (mclBnG1_hashAndMapToWithDst: expand_message_xmd, SSWU in
 * IRTF mode, cofactor clearing), checked against noble's when the module loads; else noble's
 * expand_message_xmd, each 64-byte half reduced mod p by mcl, then mcl's SSWU map;
 * points are read in the ZCash compressed encoding (mcl's "ETH serialization") with subgroup checks
 * on, and the identity is refused explicitly. Batch verification weights each signature with a
 * random 64-bit scalar, checks one product of n + 1 Miller loops with one final exponentiation, and
 * bisects on failure; signatures under one public key share one Miller loop (Σ r_i·H(m_i) against
 * that key, one multi-scalar multiplication). Decoded public keys are memoised (they come from the
 * registry).
 *
 * The gateway also signs with it (`mclSigner`): BLS signing is deterministic, so its bytes equal
 * noble's exactly (test/mcl-pairing.test.ts checks them side by side).
 */
import * as mcl from 'mcl-wasm';
import { sha256 } from '@noble/hashes/sha2.js';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import type { PairingBackend, SignatureCheck, SignatureVerdict } from '../protocol/handshake';
import { checkSecretKey, type BlsSigner } from '../protocol/bls';

interface Item {
  index: number;
  pk: mcl.PrecomputedG2;
  sig: mcl.G1;
  h: mcl.G1;
}

let loaded: Promise<void> | null = null;

/** Loads the wasm module once, in the modes every use here needs. */
function load(): Promise<void> {
  return (loaded ??= (async () => {
    await mcl.init(mcl.BLS12_381);
    mcl.setETHserialization(true);
    mcl.setMapToMode(mcl.IRTF);
    // deserialize() then refuses points outside the prime-order subgroup (checked by the tests).
    mcl.verifyOrderG1(true);
    mcl.verifyOrderG2(true);
    chooseHashToG1();
  })());
}

/** RFC 9380 hash_to_curve to G1: noble's expand_message_xmd under `dst`, then mcl's reduction and SSWU map of each element. */
function hashToG1ViaXmd(msg: Uint8Array, dst: string): mcl.G1 {
  // hash_to_field (RFC 9380 §5.2) with m = 1, L = 64: u_i = OS2IP(uniform[64i .. 64i+64]) mod p,
  // the reduction done by mcl (setBigEndianMod) rather than in JS big integers.
  const uniform = expand_message_xmd(msg, dst, 128, sha256);
  const f0 = new mcl.Fp();
  f0.setBigEndianMod(uniform.subarray(0, 64));
  const f1 = new mcl.Fp();
  f1.setBigEndianMod(uniform.subarray(64, 128));
  // mcl's map clears the cofactor of each point; clear_cofactor is a homomorphism, so the sum equals RFC 9380's.
  return mcl.add(f0.mapToG1(), f1.mapToG1());
}

/**
 * The wasm module's own entry point that mcl-wasm 2.4 exports without a typed wrapper
 * (mclBnG1_hashAndMapToWithDst), its heap, and the point class's limb array.
 */
interface McWasm {
  _malloc(n: number): number;
  _free(p: number): void;
  HEAP8: Int8Array;
  HEAP32: Int32Array;
  _mclBnG1_hashAndMapToWithDst?: (out: number, msg: number, msgLen: number, dst: number, dstLen: number) => number;
}
const wasm = (): McWasm => (mcl as unknown as { mod: McWasm }).mod;

/**
 * RFC 9380 hash_to_curve to G1 entirely in mcl (expand_message_xmd with SHA-256 under `dst`, SSWU
 * in IRTF mode, cofactor clearing): about 1.5x cheaper than hashToG1ViaXmd. Used only once load()
 * has checked it against noble's hash_to_curve.
 */
function hashToG1InMcl(msg: Uint8Array, dst: string): mcl.G1 {
  const m = wasm();
  const d = Buffer.from(dst, 'latin1');
  const out = new mcl.G1();
  const limbs = (out as unknown as { a_: Uint32Array }).a_;
  const mp = m._malloc(Math.max(msg.length, 1));
  const dp = m._malloc(d.length);
  const op = m._malloc(limbs.length * 4);
  try {
    m.HEAP8.set(msg, mp);
    m.HEAP8.set(d, dp);
    if (m._mclBnG1_hashAndMapToWithDst!(op, mp, msg.length, dp, d.length) !== 0) throw new Error('mcl: hash to G1 failed');
    limbs.set(new Uint32Array(m.HEAP32.buffer, op, limbs.length));
    return out;
  } finally {
    m._free(op);
    m._free(dp);
    m._free(mp);
  }
}

let hashInMcl = false;

/** mcl's own hash-to-G1 when this build exports it and it equals noble's hash_to_curve on a few inputs. */
function chooseHashToG1(): void {
  if (typeof wasm()._mclBnG1_hashAndMapToWithDst !== 'function') return;
  const dst = 'MCPS-EDGE-V1-SELFTEST_XMD:SHA-256_SSWU_RO_';
  for (const msg of [new Uint8Array(0), Uint8Array.of(0x61), new Uint8Array(300).fill(7)]) {
    const expected = bls12_381.G1.hashToCurve(msg, { DST: dst }).toBytes(true);
    if (Buffer.compare(Buffer.from(hashToG1InMcl(msg, dst).serialize()), Buffer.from(expected)) !== 0) return;
  }
  hashInMcl = true;
}

/** RFC 9380 hash_to_curve to G1 (mcl's own when it passed the load-time check, else via noble's expand_message_xmd). */
export function hashToG1(msg: Uint8Array, dst: string): mcl.G1 {
  return hashInMcl ? hashToG1InMcl(msg, dst) : hashToG1ViaXmd(msg, dst);
}

/** Which hash-to-G1 is in use (for the tests and the bench). */
export async function mclHashToG1Path(): Promise<'mcl' | 'xmd-noble'> {
  await load();
  return hashInMcl ? 'mcl' : 'xmd-noble';
}

let signer: Promise<BlsSigner> | null = null;

/** BLS signing with mcl-wasm: the same 48 bytes as noble's blsSign, several times cheaper. */
export function mclSigner(): Promise<BlsSigner> {
  return (signer ??= (async () => {
    await load();
    return {
      name: 'mcl-wasm',
      sign(sk: Uint8Array, msg: Uint8Array, dst: string): Uint8Array {
        const k = new mcl.Fr();
        k.setBigEndianMod(checkSecretKey(sk));
        return mcl.mul(hashToG1(msg, dst), k).serialize();
      },
    };
  })());
}

let ready: Promise<PairingBackend> | null = null;

/** Loads the wasm module once and returns the backend. */
export function mclPairing(): Promise<PairingBackend> {
  return (ready ??= (async () => {
    await load();
    const g2 = new mcl.G2();
    g2.deserialize(bls12_381.G2.Point.BASE.toBytes(true));
    // Miller-loop line coefficients of -g2 and of each registered key, computed once.
    const negG2 = new mcl.PrecomputedG2(mcl.neg(g2));
    const pkCache = new Map<string, mcl.PrecomputedG2 | null>();

    const decodePk = (b: Uint8Array): mcl.PrecomputedG2 | null => {
      const k = Buffer.from(b).toString('hex');
      if (pkCache.has(k)) return pkCache.get(k)!;
      let p: mcl.PrecomputedG2 | null = null;
      if (b.length === 96 && (b[0]! & 0x80) !== 0) {
        try {
          const q = new mcl.G2();
          q.deserialize(b);
          if (!q.isZero() && q.isValidOrder()) p = new mcl.PrecomputedG2(q);
        } catch {
          p = null;
        }
      }
      if (pkCache.size >= 4096) {
        const oldest = pkCache.keys().next().value as string;
        pkCache.get(oldest)?.destroy();
        pkCache.delete(oldest);
      }
      pkCache.set(k, p);
      return p;
    };
    const decodeSig = (b: Uint8Array): mcl.G1 | null => {
      if (b.length !== 48 || (b[0]! & 0x80) === 0) return null;
      try {
        const s = new mcl.G1();
        s.deserialize(b); // on the curve and in the subgroup, or it throws (verifyOrderG1)
        return s.isZero() ? null : s;
      } catch {
        return null;
      }
    };
    const weight = (random: (n: number) => Uint8Array): mcl.Fr => {
      for (;;) {
        const hex = Buffer.from(random(8)).toString('hex');
        if (!/^0+$/.test(hex)) {
          const r = new mcl.Fr();
          r.setStr(hex, 16);
          return r;
        }
      }
    };
    const combinedOk = (items: Item[], random: (n: number) => Uint8Array): boolean => {
      if (items.length === 1) {
        const it = items[0]!;
        return mcl.finalExp(mcl.precomputedMillerLoop2(it.sig, negG2, it.h, it.pk)).isOne();
      }
      const rs = items.map(() => weight(random));
      const S = mcl.mulVec(items.map((i) => i.sig), rs);
      if (S.isZero()) return false;
      // One Miller loop per distinct key: Π e(r_i·H_i, P) = e(Σ r_i·H_i, P) for the items under P.
      const byKey = new Map<mcl.PrecomputedG2, { hs: mcl.G1[]; rs: mcl.Fr[] }>();
      items.forEach((it, k) => {
        const g = byKey.get(it.pk) ?? { hs: [], rs: [] };
        g.hs.push(it.h);
        g.rs.push(rs[k]!);
        byKey.set(it.pk, g);
      });
      const pairs: Array<[mcl.G1, mcl.PrecomputedG2]> = [[S, negG2]];
      for (const [pk, g] of byKey) pairs.push([g.hs.length === 1 ? mcl.mul(g.hs[0]!, g.rs[0]!) : mcl.mulVec(g.hs, g.rs), pk]);
      // Miller loops two at a time: a double loop shares its squarings (~15% cheaper than two).
      let acc: mcl.GT | null = null;
      for (let k = 0; k < pairs.length; k += 2) {
        const [p1, q1] = pairs[k]!;
        const next = pairs[k + 1];
        const ml = next ? mcl.precomputedMillerLoop2(p1, q1, next[0], next[1]) : mcl.precomputedMillerLoop(p1, q1);
        acc = acc ? mcl.mul(acc, ml) : ml;
      }
      return mcl.finalExp(acc!).isOne();
    };
    const bisect = (items: Item[], random: (n: number) => Uint8Array, ok: boolean[]): void => {
      if (items.length === 0) return;
      if (combinedOk(items, random)) {
        for (const it of items) ok[it.index] = true;
        return;
      }
      if (items.length === 1) return;
      const mid = Math.floor(items.length / 2);
      bisect(items.slice(0, mid), random, ok);
      bisect(items.slice(mid), random, ok);
    };
    return {
      name: 'mcl-wasm',
      verifyBatch(checks: readonly SignatureCheck[], random: (n: number) => Uint8Array): SignatureVerdict[] {
        const out: SignatureVerdict[] = checks.map(() => 'bad-signature');
        const ok = checks.map(() => false);
        const items: Item[] = [];
        checks.forEach((c, index) => {
          const sig = decodeSig(c.signature);
          if (!sig) {
            out[index] = 'bad-encoding';
            return;
          }
          const pk = decodePk(c.publicKey);
          if (pk) items.push({ index, pk, sig, h: hashToG1(c.message, c.dst) });
        });
        bisect(items, random, ok);
        return out.map((v, i) => (ok[i] ? 'ok' : v));
      },
    };
  })());
}
