// Every pairing backend gives the same verdicts as noble, on valid, forged and malformed signatures,
// and a node using the mcl backend completes real handshakes.
import t from 'tap';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { blsKeygen, blsPopProve, blsPublicKey, blsSign, POP_DST, SIG_DST } from '../protocol/bls';
import { HS_SIG_DST, noblePairing, type PairingBackend, type SignatureCheck } from '../protocol/handshake';
import { hashToG1, mclHashToG1Path, mclPairing, mclSigner } from '../common/mcl-pairing';
import { compressG1Unchecked, makeWorld, orderThreePoint, seeded } from './handshake.helpers';
import { reasonOf } from './protocol-error.helpers';

const keys = Array.from({ length: 6 }, (_, i) => blsKeygen(new Uint8Array(48).fill(40 + i)));
const msg = (i: number): Uint8Array => new TextEncoder().encode(`transcript ${i}`);
const item = (i: number, sig?: Uint8Array): SignatureCheck => ({ publicKey: blsPublicKey(keys[i]!), message: msg(i), signature: sig ?? blsSign(keys[i]!, msg(i), HS_SIG_DST), dst: HS_SIG_DST });

function cases(): Array<[string, SignatureCheck[]]> {
  const G1 = bls12_381.G1.Point;
  const inf = new Uint8Array(48);
  inf[0] = 0xc0;
  const infPayload = inf.slice();
  infPayload[9] = 1;
  const cleared = blsSign(keys[0]!, msg(0), HS_SIG_DST);
  cleared[0]! &= 0x7f;
  const big = new Uint8Array(48).fill(0xff);
  big[0] = 0x9f;
  const D = G1.BASE.multiply(987654321n);
  const torsion = orderThreePoint()!;
  return [
    ['all valid', keys.map((_, i) => item(i))],
    ['one signed by another key', keys.map((_, i) => (i === 3 ? item(3, blsSign(keys[2]!, msg(3), HS_SIG_DST)) : item(i)))],
    ['another DST', [item(0, blsSign(keys[0]!, msg(0))), item(1)]],
    ['a proof of possession as σ', [item(0, blsPopProve(keys[0]!)), item(1)]],
    ['identity, infinity with payload, flag cleared, x ≥ p', [item(0, inf), item(1, infPayload), item(2, cleared), item(3, big), item(4)]],
    ['torsion-malleated', [item(0, compressG1Unchecked(G1.fromBytes(blsSign(keys[0]!, msg(0), HS_SIG_DST)).add(torsion))), item(1)]],
    ['one key many times (one Miller loop for them)', [0, 1, 2, 3].map((j) => ({ ...item(0), message: msg(10 + j), signature: blsSign(keys[0]!, msg(10 + j), HS_SIG_DST) })).concat([item(1), item(2)])],
    [
      'one key many times, one of them forged',
      [0, 1, 2, 3].map((j) => ({ ...item(0), message: msg(10 + j), signature: blsSign(keys[0]!, msg(j === 2 ? 99 : 10 + j), HS_SIG_DST) })).concat([item(1)]),
    ],
    [
      'one key many times, errors that cancel within the key',
      [0, 1].map((j) => ({ ...item(0), message: msg(10 + j), signature: G1.fromBytes(blsSign(keys[0]!, msg(10 + j), HS_SIG_DST))[j === 0 ? 'add' : 'subtract'](D).toBytes(true) })),
    ],
    ['errors that cancel without weights', [item(0, G1.fromBytes(blsSign(keys[0]!, msg(0), HS_SIG_DST)).add(D).toBytes(true)), item(1, G1.fromBytes(blsSign(keys[1]!, msg(1), HS_SIG_DST)).subtract(D).toBytes(true))]],
  ];
}

t.test('mcl-wasm and noble agree on every case', async (t) => {
  const mcl = await mclPairing();
  for (const [name, items] of cases()) {
    const a = noblePairing.verifyBatch(items, seeded(name));
    const b = mcl.verifyBatch(items, seeded(name));
    t.same(b, a, `${name}: ${a.join(', ')}`);
  }
  t.same(noblePairing.verifyBatch(cases()[4]![1], seeded('x')), ['bad-encoding', 'bad-encoding', 'bad-encoding', 'bad-encoding', 'ok'], 'malformed signatures are classified as encodings');
});

t.test('a node on the mcl backend completes handshakes and refuses a bad one', async (t) => {
  const pairing: PairingBackend = await mclPairing();
  const w = makeWorld();
  const node = w.responder({ pairing });
  const g = w.initiator('gw-1');
  const { handshakeId, m2 } = node.onM1(g.start());
  const { m3, session: gs } = g.onM2(m2);
  const { session: ns, peer } = node.onM3(handshakeId, m3);
  t.equal(peer.id, 'gw-1');
  t.same(ns.open(gs.seal(Uint8Array.of(7))), Uint8Array.of(7));
  const bad = w.initiator('gw-1', { blsSecretKey: w.sk['gw-2'] });
  const r = node.onM1(bad.start());
  const { m3: m3bad } = bad.onM2(r.m2);
  t.equal(reasonOf(() => node.onM3(r.handshakeId, m3bad)), 'm3.bad-signature');
});

t.test('mcl-wasm hashes to G1 as noble does (RFC 9380, BLS12381G1_XMD:SHA-256_SSWU_RO_)', async (t) => {
  await mclSigner(); // loads the wasm module
  t.equal(await mclHashToG1Path(), 'mcl', "mcl's own hash_to_curve passed the load-time check and is the one in use");
  const r = seeded('hash to curve side by side');
  const dsts = ['QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_', SIG_DST, HS_SIG_DST];
  for (let i = 0; i < 30; i++) {
    const m = i === 0 ? new Uint8Array(0) : r(i % 5 === 0 ? 300 : 1 + i * 3);
    const dst = dsts[i % dsts.length]!;
    t.same(hashToG1(m, dst).serialize(), bls12_381.G1.hashToCurve(m, { DST: dst }).toBytes(true), `${m.length}-byte message, ${dst.slice(0, 24)}`);
  }
  // RFC 9380 J.9.1, msg = "abc": P.x (the compressed encoding's flag bits masked off).
  const abc = Buffer.from(hashToG1(new TextEncoder().encode('abc'), dsts[0]!).serialize());
  abc[0]! &= 0x1f;
  t.equal(abc.toString('hex'), '03567bc5ef9c690c2ab2ecdf6a96ef1c139cc0b2f284dca0a9a7943388a49a3aee664ba5379a7655d3c68900be2f6903', 'RFC 9380 J.9.1 vector');
});

t.test('mcl-wasm signs the same bytes as noble', async (t) => {
  const signer = await mclSigner();
  const r = seeded('signer side by side');
  for (let i = 0; i < 24; i++) {
    const sk = blsKeygen(r(48));
    const m = r(i % 3 === 0 ? 0 : 1 + (i * 7) % 200);
    for (const dst of [HS_SIG_DST, SIG_DST, POP_DST]) t.same(signer.sign(sk, m, dst), blsSign(sk, m, dst), `key ${i}, ${m.length}-byte message, ${dst.slice(0, 20)}`);
  }
  t.throws(() => signer.sign(new Uint8Array(32), msg(0), HS_SIG_DST), /out of range/, 'a zero secret key is refused');
});

t.test('a gateway signing with mcl-wasm makes the same M3 as with noble', async (t) => {
  const signer = await mclSigner();
  const m3For = (withMcl: boolean): string => {
    const w = makeWorld(seeded('same M3'));
    const node = w.responder();
    const g = w.initiator('gw-1', withMcl ? { signer } : {});
    const { handshakeId, m2 } = node.onM1(g.start());
    const { m3 } = g.onM2(m2);
    t.equal(node.onM3(handshakeId, m3).peer.id, 'gw-1');
    return Buffer.from(m3).toString('hex');
  };
  t.equal(m3For(true), m3For(false));
});

t.test('a data user signing with mcl-wasm (data-user/node-client.ts) makes the same M3 as with noble', async (t) => {
  const signer = await mclSigner();
  const m3For = (withMcl: boolean): string => {
    const w = makeWorld(seeded('same user M3'));
    const node = w.responder();
    const u = w.initiator('dr-lee', withMcl ? { signer } : {});
    const { handshakeId, m2 } = node.onM1(u.start());
    const { m3 } = u.onM2(m2);
    t.same(node.onM3(handshakeId, m3).peer, { id: 'dr-lee', role: 'user', epoch: 1 }, 'the node accepts it as the user');
    return Buffer.from(m3).toString('hex');
  };
  t.equal(m3For(true), m3For(false), 'byte for byte');
});
