// Batch verification of many M3 signatures: same answers as one-by-one, bad ones found by bisection,
// and no cancellation of errors between two forged signatures.
import t from 'tap';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { blsKeygen, blsPublicKey, blsSign } from '../protocol/bls';
import { ProtocolError } from '../protocol/errors';
import { verifySignaturesBatch } from '../protocol/handshake/batch-verify';
import { HS_SIG_DST } from '../protocol/handshake';
import { makeWorld, seeded } from './handshake.helpers';

const keys = Array.from({ length: 8 }, (_, i) => blsKeygen(new Uint8Array(48).fill(i + 1)));
const msg = (i: number): Uint8Array => new TextEncoder().encode(`transcript ${i}`);
const item = (i: number, sig?: Uint8Array) => ({ publicKey: blsPublicKey(keys[i]!), message: msg(i), signature: sig ?? blsSign(keys[i]!, msg(i), HS_SIG_DST), dst: HS_SIG_DST });

t.test('all valid; one bad among eight; malformed', async (t) => {
  const random = seeded('batch');
  t.same(verifySignaturesBatch(keys.map((_, i) => item(i)), random), Array(8).fill('ok'));
  const withBad = keys.map((_, i) => (i === 5 ? item(5, blsSign(keys[4]!, msg(5), HS_SIG_DST)) : item(i)));
  t.same(verifySignaturesBatch(withBad, random), ['ok', 'ok', 'ok', 'ok', 'ok', 'bad-signature', 'ok', 'ok'], 'the one bad signature is found');
  const malformed = keys.map((_, i) => (i === 2 ? item(2, new Uint8Array(48)) : item(i)));
  t.same(verifySignaturesBatch(malformed, random)[2], 'bad-encoding');
  t.same(verifySignaturesBatch([], random), []);
});

t.test('two forged signatures whose errors cancel in an unweighted sum are both refused', async (t) => {
  const G1 = bls12_381.G1.Point;
  const D = G1.BASE.multiply(123456789n);
  const s0 = G1.fromBytes(blsSign(keys[0]!, msg(0), HS_SIG_DST)).add(D).toBytes(true);
  const s1 = G1.fromBytes(blsSign(keys[1]!, msg(1), HS_SIG_DST)).subtract(D).toBytes(true);
  t.same(verifySignaturesBatch([item(0, s0), item(1, s1)], seeded('cancel')), ['bad-signature', 'bad-signature']);
});

t.test('the node finishes many handshakes with one batch check; one bad M3 is refused alone', async (t) => {
  const w = makeWorld();
  const node = w.responder();
  const ids = ['gw-1', 'gw-2', 'dr-lee', 'gw-1'] as const;
  const entries = ids.map((id, k) => {
    // the third initiator signs with the wrong key
    const g = k === 2 ? w.initiator('dr-lee', { blsSecretKey: w.sk['gw-2'] }) : w.initiator(id);
    const { handshakeId, m2 } = node.onM1(g.start());
    const { m3 } = g.onM2(m2);
    const opened = node.openM3(handshakeId, m3);
    return { opened, peer: w.registry.lookup(opened.peerId) };
  });
  const res = node.finishMany(entries);
  t.same(res.map((r) => (r instanceof ProtocolError ? r.reason : r.peer.id)), ['gw-1', 'gw-2', 'm3.bad-signature', 'gw-1']);
});
