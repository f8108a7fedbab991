// A small world for handshake tests: a registry with a node, two gateways and a data user, a
// settable clock, and randomness from node:crypto (or a seeded stream for vectors).
import { createHash, randomBytes } from 'node:crypto';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { blsKeygen, blsPublicKey } from '../protocol/bls';
import { InitiatorHandshake, NodeResponder, x25519PublicKey, type Registry, type RegistryRecord } from '../protocol/handshake';

export interface World {
  clock: { t: number };
  records: Map<string, RegistryRecord>;
  registry: Registry;
  nodeX: Uint8Array;
  sk: Record<'gw-1' | 'gw-2' | 'dr-lee' | 'node-1', Uint8Array>;
  random: (n: number) => Uint8Array;
  responder(opts?: Partial<ConstructorParameters<typeof NodeResponder>[0]>): NodeResponder;
  initiator(id?: 'gw-1' | 'gw-2' | 'dr-lee', opts?: Partial<ConstructorParameters<typeof InitiatorHandshake>[0]>): InitiatorHandshake;
}

/** Deterministic bytes from a label (for vectors and reproducible tests). */
export function seeded(label: string): (n: number) => Uint8Array {
  let counter = 0;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let o = 0; o < n; o += 32) out.set(createHash('sha256').update(`${label}/${counter++}`).digest().subarray(0, Math.min(32, n - o)), o);
    return out;
  };
}

export function makeWorld(random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): World {
  const clock = { t: 1_764_000_000_000 };
  const keyRandom = seeded('world-keys');
  const sk = {
    'gw-1': blsKeygen(keyRandom(48)),
    'gw-2': blsKeygen(keyRandom(48)),
    'dr-lee': blsKeygen(keyRandom(48)),
    'node-1': blsKeygen(keyRandom(48)),
  };
  const nodeX = keyRandom(32);
  const records = new Map<string, RegistryRecord>();
  records.set('node-1', { id: 'node-1', role: 'node', epoch: 1, status: 'active', blsPublicKey: blsPublicKey(sk['node-1']), x25519PublicKey: x25519PublicKey(nodeX) });
  records.set('gw-1', { id: 'gw-1', role: 'gateway', epoch: 1, status: 'active', blsPublicKey: blsPublicKey(sk['gw-1']) });
  records.set('gw-2', { id: 'gw-2', role: 'gateway', epoch: 3, status: 'active', blsPublicKey: blsPublicKey(sk['gw-2']) });
  records.set('dr-lee', { id: 'dr-lee', role: 'user', epoch: 1, status: 'active', blsPublicKey: blsPublicKey(sk['dr-lee']) });
  const registry: Registry = { lookup: (id) => records.get(id) };
  const now = (): number => clock.t;
  return {
    clock,
    records,
    registry,
    nodeX,
    sk,
    random,
    responder: (opts = {}) => new NodeResponder({ nodeId: 'node-1', x25519SecretKey: nodeX, registry, now, random, ...opts }),
    initiator: (id = 'gw-1', opts = {}) => new InitiatorHandshake({ id, blsSecretKey: sk[id], nodeId: 'node-1', registry, now, random, ...opts }),
  };
}

type G1Point = InstanceType<typeof bls12_381.G1.Point>;

/** A point of order 3 on E(Fp): on the curve, outside the prime-order subgroup. */
export function orderThreePoint(): G1Point | null {
  const Fp = bls12_381.fields.Fp;
  const G1 = bls12_381.G1.Point;
  const r = bls12_381.fields.Fr.ORDER;
  const cofactor = 0x396c8c005555e1568c00aaab0000aaabn;
  for (let x = 1n; x < 50n; x++) {
    let y: bigint;
    try {
      y = Fp.sqrt(Fp.add(Fp.mul(Fp.mul(x, x), x), 4n));
    } catch {
      continue;
    }
    // Multiply by r·cofactor/3 by double-and-add (the scalar exceeds r, so no range-checked multiply).
    let k = (r * cofactor) / 3n;
    let acc = G1.ZERO;
    let base = G1.fromAffine({ x, y });
    while (k > 0n) {
      if (k & 1n) acc = acc.add(base);
      base = base.double();
      k >>= 1n;
    }
    if (!acc.is0()) return acc;
  }
  return null;
}

/** ZCash compression by hand: noble refuses to encode a point outside the subgroup. */
export function compressG1Unchecked(P: G1Point): Uint8Array {
  const { x, y } = P.toAffine();
  const out = Uint8Array.from(Buffer.from(x.toString(16).padStart(96, '0'), 'hex'));
  out[0]! |= 0x80 | ((y * 2n) / bls12_381.fields.Fp.ORDER ? 0x20 : 0);
  return out;
}
