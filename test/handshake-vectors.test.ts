// Replays protocol/vectors/handshake-v1.json byte for byte: every key, ephemeral, nonce and time is
// fixed in the file, so a second implementation can check itself against the same bytes.
// MCPS_WRITE_VECTORS=1 regenerates the file (only when the protocol changes on purpose).
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { blsPublicKey } from '../protocol/bls';
import { InitiatorHandshake, NodeResponder, x25519PublicKey, type RegistryRecord } from '../protocol/handshake';
import { seeded } from './handshake.helpers';

const FILE = join(resolve(__dirname, '..', '..'), 'protocol', 'vectors', 'handshake-v1.json');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

interface Vector {
  description: string;
  time_ms: number;
  gateway: { id: string; epoch: number; bls_secret_key: string; bls_public_key: string };
  node: { id: string; epoch: number; x25519_secret_key: string; x25519_public_key: string; bls_public_key: string };
  random: { gateway: string[]; node: string[] };
  m1: string;
  m2: string;
  handshake_id: string;
  m3: string;
  session_id: string;
  records_gateway_to_node: Array<{ plaintext: string; record: string }>;
  records_node_to_gateway: Array<{ plaintext: string; record: string }>;
}

function run(v: Pick<Vector, 'time_ms' | 'gateway' | 'node' | 'random'>) {
  const records = new Map<string, RegistryRecord>([
    [v.node.id, { id: v.node.id, role: 'node', epoch: v.node.epoch, status: 'active', blsPublicKey: unhex(v.node.bls_public_key), x25519PublicKey: unhex(v.node.x25519_public_key) }],
    [v.gateway.id, { id: v.gateway.id, role: 'gateway', epoch: v.gateway.epoch, status: 'active', blsPublicKey: unhex(v.gateway.bls_public_key) }],
  ]);
  const registry = { lookup: (id: string) => records.get(id) };
  const queue = (list: string[]) => {
    const q = list.map(unhex);
    return (n: number): Uint8Array => {
      const b = q.shift();
      if (!b || b.length !== n) throw new Error(`vector randomness exhausted or of the wrong length (${n})`);
      return b;
    };
  };
  const now = (): number => v.time_ms;
  const g = new InitiatorHandshake({ id: v.gateway.id, blsSecretKey: unhex(v.gateway.bls_secret_key), nodeId: v.node.id, registry, now, random: queue(v.random.gateway) });
  const n = new NodeResponder({ nodeId: v.node.id, x25519SecretKey: unhex(v.node.x25519_secret_key), registry, now, random: queue(v.random.node) });
  const m1 = g.start();
  const { handshakeId, m2 } = n.onM1(m1);
  const { m3, session: gs } = g.onM2(m2);
  const { session: ns } = n.onM3(handshakeId, m3);
  const g2n = ['reading batch 1', 'reading batch 2', 'reading batch 3'].map((p) => ({ plaintext: hex(new TextEncoder().encode(p)), record: hex(gs.seal(new TextEncoder().encode(p))) }));
  const n2g = ['receipt 1', 'receipt 2', 'receipt 3'].map((p) => ({ plaintext: hex(new TextEncoder().encode(p)), record: hex(ns.seal(new TextEncoder().encode(p))) }));
  for (const r of g2n) if (hex(ns.open(unhex(r.record))) !== r.plaintext) throw new Error('node could not open its records');
  for (const r of n2g) if (hex(gs.open(unhex(r.record))) !== r.plaintext) throw new Error('gateway could not open its records');
  return { m1: hex(m1), m2: hex(m2), handshake_id: handshakeId, m3: hex(m3), session_id: hex(gs.id), records_gateway_to_node: g2n, records_node_to_gateway: n2g };
}

if (process.env.MCPS_WRITE_VECTORS === '1') {
  const r = seeded('handshake-v1-vectors');
  const gsk = unhex('2a'.repeat(31) + '01');
  const nx = r(32);
  const inputs = {
    time_ms: 1_764_000_000_000,
    gateway: { id: 'gw-ward1', epoch: 1, bls_secret_key: hex(gsk), bls_public_key: hex(blsPublicKey(gsk)) },
    node: { id: 'node-1', epoch: 1, x25519_secret_key: hex(nx), x25519_public_key: hex(x25519PublicKey(nx)), bls_public_key: hex(blsPublicKey(unhex('17'.repeat(32)))) },
    random: { gateway: [hex(r(32)), hex(r(16))], node: [hex(r(32)), hex(r(16)), hex(r(16))] },
  };
  const v: Vector = { description: 'mcps-edge handshake v1: a complete gateway ↔ node handshake and the first three records each way. random.gateway = [x, n_G]; random.node = [y, n_N, handshake id]. All hex.', ...inputs, ...run(inputs) };
  writeFileSync(FILE, JSON.stringify(v, null, 2) + '\n');
}

t.test('the handshake vectors replay byte for byte', async (t) => {
  const v = JSON.parse(readFileSync(FILE, 'utf8')) as Vector;
  const got = run(v);
  t.equal(got.m1, v.m1, 'M1');
  t.equal(got.m2, v.m2, 'M2');
  t.equal(got.m3, v.m3, 'M3');
  t.equal(got.session_id, v.session_id, 'session id');
  t.same(got.records_gateway_to_node, v.records_gateway_to_node, 'gateway → node records');
  t.same(got.records_node_to_gateway, v.records_node_to_gateway, 'node → gateway records');
});
