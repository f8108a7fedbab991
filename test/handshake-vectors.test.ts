// protocol/vectors/handshake-v1.json against two implementations:
//  1. `bySpec` below, written from docs/protocol.md alone with node:crypto and noble's BLS (it
//     imports nothing from protocol/handshake), which derives every intermediate value, and
//  2. the code (protocol/handshake), run with the vector's keys, clock and randomness injected.
// Both must give the file's bytes. MCPS_WRITE_VECTORS=1 regenerates the file from `bySpec` (only
// when the protocol changes on purpose); the code is then still checked against it.
import t from 'tap';
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { blsPublicKey } from '../protocol/bls';
import { ProtocolError } from '../protocol/errors';
import { InitiatorHandshake, NodeResponder, x25519PublicKey, type RegistryRecord, type Session } from '../protocol/handshake';
import { seeded } from './handshake.helpers';
import { reasonOf } from './protocol-error.helpers';

const FILE = join(resolve(__dirname, '..', '..'), 'protocol', 'vectors', 'handshake-v1.json');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const ascii = (s: string): Buffer => Buffer.from(s, 'ascii');

type Role = 'gateway' | 'node' | 'user';
type Status = 'active' | 'revoked';

interface PartyIn {
  id: string;
  role: Role;
  epoch: number;
  status: Status;
  bls_public_key: string;
  bls_secret_key?: string;
  x25519_secret_key?: string;
  x25519_public_key?: string;
}

interface CaseIn {
  name: string;
  description: string;
  time_ms: number;
  rekey_every: number;
  initiator: PartyIn;
  node: PartyIn;
  /** The initiator's own record as the node's registry has it, when it differs from the initiator's view. */
  initiator_at_node?: PartyIn;
  random: { initiator: { x: string; n_I: string }; node: { y: string; n_N: string; handshake_id: string } };
  record_seqs: number[];
}

// ---------------------------------------------------------------------------------------------
// The spec, docs/protocol.md, transcribed.
// ---------------------------------------------------------------------------------------------

const sha256 = (...p: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const x of p) h.update(x);
  return h.digest();
};
const hmac = (k: Uint8Array, ...p: Uint8Array[]): Buffer => {
  const h = createHmac('sha256', k);
  for (const x of p) h.update(x);
  return h.digest();
};
/** RFC 5869 HKDF-Expand. */
const expand = (prk: Uint8Array, info: Uint8Array, n: number): Buffer => {
  const out: Buffer[] = [];
  let prev: Buffer = Buffer.alloc(0);
  for (let i = 1; out.length * 32 < n; i++) out.push((prev = hmac(prk, prev, info, Uint8Array.of(i))));
  return Buffer.concat(out).subarray(0, n);
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
const lenId = (id: string): Buffer => Buffer.concat([Uint8Array.of(id.length), ascii(id)]);
const x25519 = (secret: Uint8Array, pub: Uint8Array): Buffer =>
  diffieHellman({
    privateKey: createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), secret]), format: 'der', type: 'pkcs8' }),
    publicKey: createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), pub]), format: 'der', type: 'spki' }),
  });
const X25519_BASE = Buffer.concat([Uint8Array.of(9), Buffer.alloc(31)]);
const seal = (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array): Buffer => {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
};
const open = (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Buffer => {
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: sealed.length - 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
};
const ROLE: Record<Role, number> = { gateway: 1, node: 2, user: 3 };
const STATUS: Record<Status, number> = { revoked: 0, active: 1 };
const HS_DST = 'MCPS-EDGE-V1-BLS-HS-BLS12381G1_XMD:SHA-256_SSWU_RO_';

/** A registry record's encoding (what is hashed) and hash. */
function recordEncoding(p: PartyIn): { encoding: string; hash: string } {
  const enc = Buffer.concat([
    ascii('mcps-hs-v1/record'),
    Uint8Array.of(ROLE[p.role]),
    lenId(p.id),
    u32(p.epoch),
    Uint8Array.of(STATUS[p.status]),
    unhex(p.bls_public_key),
    p.role === 'node' ? unhex(p.x25519_public_key!) : Buffer.alloc(0),
  ]);
  return { encoding: hex(enc), hash: hex(sha256(enc)) };
}

function bySpec(c: CaseIn) {
  const I = c.initiator;
  const N = c.node;
  const atNode = c.initiator_at_node ?? I;
  const x = unhex(c.random.initiator.x);
  const nI = unhex(c.random.initiator.n_I);
  const y = unhex(c.random.node.y);
  const nN = unhex(c.random.node.n_N);
  const X = x25519(x, X25519_BASE);
  const Y = x25519(y, X25519_BASE);
  const KN = unhex(N.x25519_public_key!);
  const recN = recordEncoding(N);
  const recI = recordEncoding(I);
  const recIatN = recordEncoding(atNode);

  const m1 = Buffer.concat([Uint8Array.of(1, 1), lenId(N.id), u32(N.epoch), u64(c.time_ms), nI, X]);
  const h2 = sha256(ascii('mcps-hs-v1/h2'), m1, unhex(recN.hash), Y, nN);
  const dhEE = x25519(x, Y); // = DH(y, X)
  const dhES = x25519(x, KN); // = DH(k_N, X)
  const prk = hmac(h2, dhEE, dhES); // HKDF-Extract(salt = h2, ikm)
  const kConfirm = expand(prk, ascii('mcps-hs-v1/node-confirm'), 32);
  const macN = hmac(kConfirm, ascii('node-confirm'), h2);
  const m2 = Buffer.concat([Uint8Array.of(1, 2), Y, nN, macN]);
  const khs = expand(prk, ascii('mcps-hs-v1/m3'), 44);
  const kHs = khs.subarray(0, 32);
  const ivHs = khs.subarray(32);
  // id_I enters h3 as raw ASCII, without a length byte.
  const h3 = sha256(ascii('mcps-hs-v1/h3'), h2, macN, ascii(I.id), unhex(recI.hash));
  const sigmaI = bls12_381.shortSignatures.sign(bls12_381.shortSignatures.hash(h3, HS_DST), unhex(I.bls_secret_key!)).toBytes(true);
  // M3's plaintext pads the id with zeros to 31 bytes: 84 bytes whoever calls.
  const m3Plain = Buffer.concat([lenId(I.id), Buffer.alloc(31 - I.id.length), u32(I.epoch), sigmaI]);
  const m3 = Buffer.concat([Uint8Array.of(1, 3), seal(kHs, ivHs, Buffer.concat([h2, macN]), m3Plain)]);
  const bind = sha256(h3, sigmaI);
  const traffic = expand(prk, Buffer.concat([ascii('mcps-hs-v1/traffic'), bind]), 88);
  const sid = sha256(ascii('mcps-hs-v1/sid'), h3, sigmaI).subarray(0, 16);
  const dirKeys = { 1: { key: traffic.subarray(0, 32), iv: traffic.subarray(32, 44) }, 2: { key: traffic.subarray(44, 76), iv: traffic.subarray(76, 88) } };

  // Whether the node accepts M3: the initiator's record at the node must be an active gateway or user, same epoch.
  const accepted = atNode.status === 'active' && (atNode.role === 'gateway' || atNode.role === 'user') && atNode.epoch === I.epoch;
  const maxGen = Math.max(0, ...c.record_seqs.map((s) => Math.floor(s / c.rekey_every)));
  const generations = (dir: 1 | 2): string[] => {
    const out = [hex(dirKeys[dir].key)];
    let k: Buffer = dirKeys[dir].key;
    for (let g = 1; g <= maxGen; g++) out.push(hex((k = expand(k, ascii('mcps-hs-v1/rekey'), 32))));
    return out;
  };
  const keysByGen = { 1: generations(1), 2: generations(2) };
  const record = (dir: 1 | 2, seq: number) => {
    const plaintext = ascii(`${dir === 1 ? 'reading batch' : 'receipt'} ${seq + 1}`);
    const generation = Math.floor(seq / c.rekey_every);
    const key = unhex(keysByGen[dir][generation]!);
    const nonce = Buffer.from(dirKeys[dir].iv);
    const s = u64(seq);
    for (let i = 0; i < 8; i++) nonce[4 + i]! ^= s[i]!;
    const aad = Buffer.concat([sid, Uint8Array.of(dir), s]);
    const rec = Buffer.concat([Uint8Array.of(1, dir), s, seal(key, nonce, aad, plaintext)]);
    return { seq, generation, plaintext: hex(plaintext), nonce: hex(nonce), aad: hex(aad), record: hex(rec) };
  };
  const handshakeId = c.random.node.handshake_id;
  return {
    registry_records: { node: recN, initiator: recI, ...(c.initiator_at_node ? { initiator_at_node: recIatN } : {}) },
    intermediates: {
      X: hex(X),
      Y: hex(Y),
      dh_ephemeral: hex(dhEE),
      dh_static: hex(dhES),
      h2: hex(h2),
      prk: hex(prk),
      node_confirm_key: hex(kConfirm),
      mac_N: hex(macN),
      k_hs: hex(kHs),
      iv_hs: hex(ivHs),
      h3: hex(h3),
      sigma_I: hex(sigmaI),
      m3_plaintext: hex(m3Plain),
      traffic_info_hash: hex(bind),
      traffic: { k_I2N: hex(dirKeys[1].key), iv_I2N: hex(dirKeys[1].iv), k_N2I: hex(dirKeys[2].key), iv_N2I: hex(dirKeys[2].iv) },
      ...(accepted ? { rekeyed: { I2N: keysByGen[1], N2I: keysByGen[2] } } : {}),
    },
    m1: hex(m1),
    m2: hex(m2),
    handshake_id: handshakeId,
    m3: hex(m3),
    http: {
      m1_request: { path: '/v1/handshake/m1', content_type: 'application/octet-stream', body_hex: hex(m1) },
      m1_answer: JSON.stringify({ handshake: handshakeId, m2: m2.toString('base64') }),
      m3_request: { path: '/v1/handshake/m3', content_type: 'application/json', body: JSON.stringify({ handshake: handshakeId, m3: m3.toString('base64') }) },
      ...(accepted ? { m3_answer: JSON.stringify({ session: hex(sid) }), record_path: `/v1/sessions/${hex(sid)}` } : { m3_answer: JSON.stringify({ error: 'handshake refused' }), m3_answer_status: 400 }),
    },
    outcome: accepted ? 'accepted' : 'refused',
    ...(accepted
      ? {
          session_id: hex(sid),
          records_I2N: c.record_seqs.map((s) => record(1, s)),
          records_N2I: c.record_seqs.map((s) => record(2, s)),
        }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The code under test.
// ---------------------------------------------------------------------------------------------

function toRecord(p: PartyIn): RegistryRecord {
  return { id: p.id, role: p.role, epoch: p.epoch, status: p.status, blsPublicKey: unhex(p.bls_public_key), ...(p.x25519_public_key ? { x25519PublicKey: unhex(p.x25519_public_key) } : {}) };
}

function queue(list: string[]): (n: number) => Uint8Array {
  const q = list.map(unhex);
  return (n) => {
    const b = q.shift();
    if (!b || b.length !== n) throw new Error(`vector randomness exhausted or of the wrong length (${n})`);
    return b;
  };
}

function byCode(c: CaseIn) {
  const now = (): number => c.time_ms;
  const initiatorView = new Map([c.node, c.initiator].map((p) => [p.id, toRecord(p)]));
  const nodeView = new Map([c.node, c.initiator_at_node ?? c.initiator].map((p) => [p.id, toRecord(p)]));
  const g = new InitiatorHandshake({
    id: c.initiator.id,
    blsSecretKey: unhex(c.initiator.bls_secret_key!),
    nodeId: c.node.id,
    registry: { lookup: (id) => initiatorView.get(id) },
    now,
    random: queue([c.random.initiator.x, c.random.initiator.n_I]),
    rekeyEvery: c.rekey_every,
  });
  const n = new NodeResponder({
    nodeId: c.node.id,
    x25519SecretKey: unhex(c.node.x25519_secret_key!),
    registry: { lookup: (id) => nodeView.get(id) },
    now,
    random: queue([c.random.node.y, c.random.node.n_N, c.random.node.handshake_id]),
    rekeyEvery: c.rekey_every,
  });
  const m1 = g.start();
  const { handshakeId, m2 } = n.onM1(m1);
  const { m3, session: gs } = g.onM2(m2);
  const base = { m1: hex(m1), m2: hex(m2), handshake_id: handshakeId, m3: hex(m3) };
  let ns: Session;
  try {
    ns = n.onM3(handshakeId, m3).session;
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { ...base, outcome: 'refused' as const, reason: err.reason };
  }
  // Seal every record up to the last listed sequence number (the counters must pass through them),
  // keep the listed ones, and have the other side open each.
  const last = Math.max(...c.record_seqs);
  const pick = (s: Session, peer: Session, dir: 1 | 2) => {
    const out: Array<{ seq: number; plaintext: string; record: string }> = [];
    for (let seq = 0; seq <= last; seq++) {
      const pt = ascii(`${dir === 1 ? 'reading batch' : 'receipt'} ${seq + 1}`);
      const rec = s.seal(pt);
      if (hex(peer.open(rec)) !== hex(pt)) throw new Error(`record ${seq} did not open`);
      if (c.record_seqs.includes(seq)) out.push({ seq, plaintext: hex(pt), record: hex(rec) });
    }
    return out;
  };
  return { ...base, outcome: 'accepted' as const, session_id: hex(gs.id), records_I2N: pick(gs, ns, 1), records_N2I: pick(ns, gs, 2) };
}

// ---------------------------------------------------------------------------------------------
// The cases.
// ---------------------------------------------------------------------------------------------

function inputs(): CaseIn[] {
  // Case 1 keeps the inputs (and so the bytes) of the first published vectors.
  const r = seeded('handshake-v1-vectors');
  const gsk = unhex('2a'.repeat(31) + '01');
  const nx = r(32);
  const node: PartyIn = { id: 'node-1', role: 'node', epoch: 1, status: 'active', x25519_secret_key: hex(nx), x25519_public_key: hex(x25519PublicKey(nx)), bls_public_key: hex(blsPublicKey(unhex('17'.repeat(32)))) };
  const gateway: PartyIn = { id: 'gw-ward1', role: 'gateway', epoch: 1, status: 'active', bls_secret_key: hex(gsk), bls_public_key: hex(blsPublicKey(gsk)) };
  const c1: CaseIn = {
    name: 'gateway',
    description: 'A gateway (role 1) and a node, both epoch 1; the first three records each way.',
    time_ms: 1_764_000_000_000,
    rekey_every: 1024,
    initiator: gateway,
    node,
    random: { initiator: { x: hex(r(32)), n_I: hex(r(16)) }, node: { y: hex(r(32)), n_N: hex(r(16)), handshake_id: hex(r(16)) } },
    record_seqs: [0, 1, 2],
  };
  const r2 = seeded('handshake-v1-vectors/user-rekey');
  const usk = unhex('3b'.repeat(31) + '02');
  const nx2 = r2(32);
  const node2: PartyIn = { id: 'node-2', role: 'node', epoch: 7, status: 'active', x25519_secret_key: hex(nx2), x25519_public_key: hex(x25519PublicKey(nx2)), bls_public_key: hex(blsPublicKey(unhex('19'.repeat(32)))) };
  const c2: CaseIn = {
    name: 'user-rekey',
    description: 'A data user (role 3, no X25519 key in its record) at key epoch 2 and a node at epoch 7; records on both sides of the first two rekeys (rekey every 1024 records: records 1023, 1024, 2047, 2048).',
    time_ms: 1_764_000_123_456,
    rekey_every: 1024,
    initiator: { id: 'dr.lee_cardio-2', role: 'user', epoch: 2, status: 'active', bls_secret_key: hex(usk), bls_public_key: hex(blsPublicKey(usk)) },
    node: node2,
    random: { initiator: { x: hex(r2(32)), n_I: hex(r2(16)) }, node: { y: hex(r2(32)), n_N: hex(r2(16)), handshake_id: hex(r2(16)) } },
    record_seqs: [0, 1023, 1024, 1025, 2047, 2048],
  };
  const r3 = seeded('handshake-v1-vectors/revoked');
  const gsk3 = unhex('4c'.repeat(31) + '03');
  const gw3: PartyIn = { id: 'gw-ward2', role: 'gateway', epoch: 4, status: 'active', bls_secret_key: hex(gsk3), bls_public_key: hex(blsPublicKey(gsk3)) };
  const c3: CaseIn = {
    name: 'revoked',
    description:
      'The gateway was revoked after it read its own record: it still sends M3 (its h3 hashes its record with status 1), the node holds the record with status 0 (revoked) and refuses with m3.revoked; no session.',
    time_ms: 1_764_000_999_000,
    rekey_every: 1024,
    initiator: gw3,
    initiator_at_node: { ...gw3, status: 'revoked', bls_secret_key: undefined },
    node,
    random: { initiator: { x: hex(r3(32)), n_I: hex(r3(16)) }, node: { y: hex(r3(32)), n_N: hex(r3(16)), handshake_id: hex(r3(16)) } },
    record_seqs: [],
  };
  return [c1, c2, c3];
}

const DESCRIPTION =
  'mcps-edge handshake v1 (docs/protocol.md). Each case gives its inputs (keys, registry records as each side sees them, clock, every random value in the order drawn: initiator x, n_I; node y, n_N, handshake id) and every value derived from them. All byte strings are lowercase hex except http bodies (JSON, with base64 inside, as on the wire). Records are listed by sequence number; the plaintext of record seq is ASCII "reading batch <seq+1>" (I→N) or "receipt <seq+1>" (N→I).';

function fileContent(): unknown {
  return { description: DESCRIPTION, version: 1, cases: inputs().map((c) => ({ ...c, initiator_at_node: c.initiator_at_node ? JSON.parse(JSON.stringify(c.initiator_at_node)) : undefined, ...bySpec(c) })) };
}

if (process.env.MCPS_WRITE_VECTORS === '1') writeFileSync(FILE, JSON.stringify(fileContent(), null, 2) + '\n');

// M1 and M2 of the first published file (M3 and what follows it changed when M3 gained its padding).
const FIRST_PUBLISHED = {
  m1: '0101066e6f64652d31000000010000019ab697e8005fbf7d9210fd92f162c4eff45d5840ba41db30401d39bcde4829b6fbc92716ab0b57ec2f4de77b9d9d65826894548b3a',
  m2: '0102291e51d8754522920a287d2fa6784a13237d168522ac4ff594c3545f4250bc23a546b441209ac59294f96f93ab9108b2f0d6a729dca4ef69c7c170f4bff1c66df9bc26f552d4ed1ca8ddce7efa4fd7c1',
};

interface FileCase extends CaseIn, ReturnType<typeof bySpec> {}

const file = JSON.parse(readFileSync(FILE, 'utf8')) as { cases: FileCase[] };

t.test('the file is exactly what the spec derives from its inputs', async (t) => {
  t.same(JSON.parse(JSON.stringify(fileContent())), file, 'file == bySpec(inputs); regenerate with MCPS_WRITE_VECTORS=1 only on a deliberate protocol change');
  t.same(
    file.cases.map((c) => c.name),
    ['gateway', 'user-rekey', 'revoked'],
  );
});

t.test('M1 and M2 are those of the first published vectors', async (t) => {
  const c = file.cases[0]!;
  t.equal(c.m1, FIRST_PUBLISHED.m1);
  t.equal(c.m2, FIRST_PUBLISHED.m2);
  for (const k of file.cases) t.equal(k.m3.length, 2 * 102, `${k.name}: M3 is 102 bytes`);
});

for (const c of file.cases) {
  t.test(`the code reproduces case ${c.name}`, async (t) => {
    const got = byCode(c);
    t.equal(got.m1, c.m1, 'M1');
    t.equal(got.m2, c.m2, 'M2');
    t.equal(got.handshake_id, c.handshake_id, 'handshake id');
    t.equal(got.m3, c.m3, 'M3');
    t.equal(got.outcome, c.outcome, 'outcome');
    if (got.outcome === 'refused') {
      t.equal(got.reason, 'm3.revoked', 'the node names the revoked record');
      return;
    }
    t.equal(got.session_id, c.session_id, 'session id');
    t.same(got.records_I2N, c.records_I2N!.map(({ seq, plaintext, record }) => ({ seq, plaintext, record })), 'initiator → node records');
    t.same(got.records_N2I, c.records_N2I!.map(({ seq, plaintext, record }) => ({ seq, plaintext, record })), 'node → initiator records');
  });
}

t.test('the intermediates are the ones the records use', async (t) => {
  for (const c of file.cases) {
    if (c.outcome !== 'accepted') continue;
    const { rekeyed } = c.intermediates as { rekeyed: { I2N: string[]; N2I: string[] } };
    for (const [dir, list] of [[1, c.records_I2N!] as const, [2, c.records_N2I!] as const]) {
      for (const r of list) {
        const rec = unhex(r.record);
        const key = unhex((dir === 1 ? rekeyed.I2N : rekeyed.N2I)[r.generation]!);
        t.equal(hex(open(key, unhex(r.nonce), unhex(r.aad), rec.subarray(10))), r.plaintext, `${c.name}: record ${dir}/${r.seq} opens with generation ${r.generation}'s key`);
        t.equal(r.aad.length, 2 * (16 + 1 + 8), 'AAD = sid (16) ‖ dir (1) ‖ seq (8)');
      }
    }
  }
  const user = file.cases.find((c) => c.name === 'user-rekey')!;
  t.equal(user.registry_records.initiator.encoding.slice(2 * 17, 2 * 18), '03', 'a user is role 3');
  t.equal(user.records_I2N!.find((r) => r.seq === 1024)!.generation, 1, 'record 1024 uses the first rekeyed key');
  const revoked = file.cases.find((c) => c.name === 'revoked')!;
  const enc = revoked.registry_records.initiator_at_node!.encoding;
  const statusAt = 2 * (17 + 1 + 1 + revoked.initiator.id.length + 4);
  t.equal(enc.slice(statusAt, statusAt + 2), '00', 'revoked is status 0');
});

t.test('an M3 whose padding is not all zero is refused (m3.bad-padding)', async (t) => {
  const c = file.cases[0]!;
  const i = c.intermediates;
  const ad = Buffer.concat([unhex(i.h2), unhex(i.mac_N)]);
  const plain = open(unhex(i.k_hs), unhex(i.iv_hs), ad, unhex(c.m3).subarray(2));
  t.equal(hex(plain), i.m3_plaintext, 'M3 opens to the listed plaintext');
  plain[1 + c.initiator.id.length] = 1;
  const forged = Buffer.concat([Uint8Array.of(1, 3), seal(unhex(i.k_hs), unhex(i.iv_hs), ad, plain)]);
  const nodeView = new Map([c.node, c.initiator].map((p) => [p.id, toRecord(p)]));
  const n = new NodeResponder({
    nodeId: c.node.id,
    x25519SecretKey: unhex(c.node.x25519_secret_key!),
    registry: { lookup: (id) => nodeView.get(id) },
    now: () => c.time_ms,
    random: queue([c.random.node.y, c.random.node.n_N, c.random.node.handshake_id]),
  });
  const { handshakeId } = n.onM1(unhex(c.m1));
  t.equal(reasonOf(() => n.onM3(handshakeId, forged)), 'm3.bad-padding');
});
