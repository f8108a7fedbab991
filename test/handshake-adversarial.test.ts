// The adversarial cases of the handshake design (docs/protocol.md), each with its precise local
// reason. A "manual gateway" below computes the initiator's side from the schedule functions so a
// test can put anything into M3.
import t from 'tap';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { blsPopProve, blsSign } from '../protocol/bls';
import { decodeM2, encodeM1, encodeM3Plain, joinM3 } from '../protocol/handshake/messages';
import { aeadSeal, x25519, x25519PublicKey } from '../protocol/handshake/primitives';
import { recordHash } from '../protocol/handshake/registry';
import { extract, HS_SIG_DST, m3Keys, transcriptH2, transcriptH3 } from '../protocol/handshake/schedule';
import { compressG1Unchecked, makeWorld, orderThreePoint, type World } from './handshake.helpers';
import { reasonOf } from './protocol-error.helpers';

/** Plays the gateway by hand: returns what an honest gateway would compute, and lets the test forge M3. */
function manual(w: World, overrides: { time?: number; nodeId?: string; epoch?: number } = {}) {
  const node = w.records.get('node-1')!;
  const x = w.random(32);
  const X = x25519PublicKey(x);
  const m1 = encodeM1({ nodeId: overrides.nodeId ?? 'node-1', nodeEpoch: overrides.epoch ?? node.epoch, time: overrides.time ?? w.clock.t, nonce: w.random(16), ephemeral: X });
  return {
    m1,
    m3For(m2bytes: Uint8Array, claim: { id: string; epoch?: number; signer?: Uint8Array; sig?: (h3: Uint8Array) => Uint8Array }): Uint8Array {
      const m2 = decodeM2(m2bytes);
      const h2 = transcriptH2(m1, recordHash(node), m2.ephemeral, m2.nonce);
      const prk = extract(h2, x25519(x, m2.ephemeral, 'x'), x25519(x, node.x25519PublicKey!, 'x'));
      const rec = w.records.get(claim.id) ?? { id: claim.id, role: 'gateway' as const, epoch: 1, status: 'active' as const, blsPublicKey: new Uint8Array(96) };
      const h3 = transcriptH3(h2, m2.mac, claim.id, recordHash(rec));
      const sig = claim.sig ? claim.sig(h3) : blsSign(claim.signer ?? w.sk['gw-1'], h3, HS_SIG_DST);
      const { key, iv } = m3Keys(prk);
      return joinM3(aeadSeal(key, iv, encodeM3Plain({ peerId: claim.id, peerEpoch: claim.epoch ?? rec.epoch, signature: sig }), new Uint8Array([...h2, ...m2.mac])));
    },
  };
}

function nodeReason(w: World, claim: Parameters<ReturnType<typeof manual>['m3For']>[1]): string {
  const node = w.responder();
  const g = manual(w);
  const { handshakeId, m2 } = node.onM1(g.m1);
  return reasonOf(() => node.onM3(handshakeId, g.m3For(m2, claim)));
}

t.test('the manual gateway is honest when nothing is forged', async (t) => {
  const w = makeWorld();
  const node = w.responder();
  const g = manual(w);
  const { handshakeId, m2 } = node.onM1(g.m1);
  t.same(node.onM3(handshakeId, g.m3For(m2, { id: 'gw-1' })).peer.id, 'gw-1');
});

t.test('parsing: truncated, trailing, unknown version, downgrade, wrong type', async (t) => {
  const w = makeWorld();
  const node = w.responder();
  const m1 = w.initiator().start();
  t.equal(reasonOf(() => node.onM1(m1.slice(0, -1))), 'm1.truncated');
  t.equal(reasonOf(() => node.onM1(new Uint8Array([...m1, 0]))), 'm1.trailing-bytes');
  t.equal(reasonOf(() => node.onM1(Uint8Array.from([2, ...m1.slice(1)]))), 'm1.version', 'unknown version');
  t.equal(reasonOf(() => node.onM1(Uint8Array.from([0, ...m1.slice(1)]))), 'm1.version', 'downgrade to version 0');
  t.equal(reasonOf(() => node.onM1(Uint8Array.from([1, 2, ...m1.slice(2)]))), 'm1.type');
  t.equal(reasonOf(() => node.onM1(new Uint8Array(0))), 'm1.truncated');
  const gw = w.initiator();
  const { m2 } = w.responder().onM1(gw.start());
  t.equal(reasonOf(() => gw.onM2(m2.slice(0, 40))), 'm2.truncated');
  const gw2 = w.initiator();
  w.responder().onM1(gw2.start());
  t.equal(reasonOf(() => gw2.onM2(new Uint8Array([...m2, 1]))), 'm2.trailing-bytes');
});

t.test('ephemeral keys: low-order X, low-order Y, Y = X', async (t) => {
  const w = makeWorld();
  const node = w.responder();
  const m1 = w.initiator().start();
  const zeroX = m1.slice();
  zeroX.fill(0, zeroX.length - 32);
  t.equal(reasonOf(() => node.onM1(zeroX)), 'm1.bad-ephemeral', 'all-zero X (low order)');
  const one = m1.slice();
  one.fill(0, one.length - 32);
  one[one.length - 32] = 1;
  t.equal(reasonOf(() => node.onM1(one)), 'm1.bad-ephemeral', 'X = 1 (low order)');
  const gw = w.initiator();
  const first = gw.start();
  const { m2 } = node.onM1(first);
  const reflected = m2.slice();
  reflected.set(first.slice(first.length - 32), 2);
  t.equal(reasonOf(() => gw.onM2(reflected)), 'm2.same-ephemeral', 'the node answers with our own X');
  const gw3 = w.initiator();
  const { m2: m2b } = node.onM1(gw3.start());
  const zeroY = m2b.slice();
  zeroY.fill(0, 2, 34);
  t.equal(reasonOf(() => gw3.onM2(zeroY)), 'm2.bad-ephemeral');
});

t.test('a man in the middle without k_N cannot answer M1; a wrong or cut MAC is refused', async (t) => {
  const w = makeWorld();
  const gw = w.initiator();
  gw.start();
  // The attacker answers with its own Y and a MAC under keys it can compute (it lacks DH(k_N, X)).
  const y = w.random(32);
  const forged = new Uint8Array([1, 2, ...x25519PublicKey(y), ...w.random(16), ...w.random(32)]);
  t.equal(reasonOf(() => gw.onM2(forged)), 'm2.bad-mac');
  // An impostor node with its own static key (not the registered one):
  const gw2 = w.initiator();
  const { m2 } = w.responder({ x25519SecretKey: w.random(32) }).onM1(gw2.start());
  t.equal(reasonOf(() => gw2.onM2(m2)), 'm2.bad-mac', 'a node key other than the registered one');
  const gw3 = w.initiator();
  const { m2: good } = w.responder().onM1(gw3.start());
  const flipped = good.slice();
  flipped[flipped.length - 1]! ^= 1;
  t.equal(reasonOf(() => gw3.onM2(flipped)), 'm2.bad-mac');
});

t.test('σ_I: another gateway, old transcript, default DST, PoP, encodings, identity, subgroup', async (t) => {
  const w = makeWorld();
  t.equal(nodeReason(w, { id: 'gw-1', signer: w.sk['gw-2'] }), 'm3.bad-signature', 'signed by another registered gateway');
  let oldH3: Uint8Array | null = null;
  {
    const node = w.responder();
    const g = manual(w);
    const { handshakeId, m2 } = node.onM1(g.m1);
    node.onM3(handshakeId, g.m3For(m2, { id: 'gw-1', sig: (h3) => ((oldH3 = h3), blsSign(w.sk['gw-1'], h3, HS_SIG_DST)) }));
  }
  t.equal(nodeReason(w, { id: 'gw-1', sig: () => blsSign(w.sk['gw-1'], oldH3!, HS_SIG_DST) }), 'm3.bad-signature', 'σ over an old transcript');
  t.equal(nodeReason(w, { id: 'gw-1', sig: (h3) => bls12_381.shortSignatures.sign(bls12_381.shortSignatures.hash(h3), w.sk['gw-1']).toBytes(true) }), 'm3.bad-signature', "σ with noble's default DST");
  t.equal(nodeReason(w, { id: 'gw-1', sig: (h3) => blsSign(w.sk['gw-1'], h3) }), 'm3.bad-signature', 'σ with the batch-signature DST');
  t.equal(nodeReason(w, { id: 'gw-1', sig: () => blsPopProve(w.sk['gw-1']) }), 'm3.bad-signature', 'a proof of possession replayed as σ');
  const inf = new Uint8Array(48);
  inf[0] = 0xc0;
  t.equal(nodeReason(w, { id: 'gw-1', sig: () => inf }), 'm3.bad-signature-encoding', 'the identity as σ');
  t.equal(nodeReason(w, { id: 'gw-1', sig: (h3) => { const s = blsSign(w.sk['gw-1'], h3, HS_SIG_DST); s[0]! &= 0x7f; return s; } }), 'm3.bad-signature-encoding', 'compression flag cleared');
  t.equal(nodeReason(w, { id: 'gw-1', sig: () => { const s = new Uint8Array(48).fill(0xff); s[0] = 0x9f; return s; } }), 'm3.bad-signature-encoding', 'x ≥ p');
  t.equal(nodeReason(w, { id: 'gw-1', sig: () => { const s = inf.slice(); s[10] = 1; return s; } }), 'm3.bad-signature-encoding', 'infinity flag with payload');
  // A point of order 3 on E(Fp) (outside the prime-order subgroup) added to a valid σ.
  const G1 = bls12_381.G1.Point;
  const torsion = orderThreePoint();
  t.ok(torsion, 'found a point of order 3');
  t.ok(torsion!.multiply(3n).is0(), 'it has order 3');
  t.equal(nodeReason(w, { id: 'gw-1', sig: (h3) => compressG1Unchecked(G1.fromBytes(blsSign(w.sk['gw-1'], h3, HS_SIG_DST)).add(torsion!)) }), 'm3.bad-signature-encoding', 'torsion-malleated σ (not in the subgroup)');
});

t.test('identities and the registry: unknown, revoked, epochs, self, wrong node, revoked node', async (t) => {
  const w = makeWorld();
  t.equal(nodeReason(w, { id: 'node-1' }), 'm3.self-identity', 'id_I = id_N');
  t.equal(nodeReason(w, { id: 'gw-9' }), 'm3.unknown-peer');
  t.equal(nodeReason(w, { id: 'gw-2', epoch: 2, signer: w.sk['gw-2'] }), 'm3.epoch', 'old key epoch');
  w.records.set('gw-1', { ...w.records.get('gw-1')!, status: 'revoked' });
  t.equal(nodeReason(w, { id: 'gw-1' }), 'm3.revoked', 'revoked gateway');
  t.equal(reasonOf(() => w.initiator('gw-1').start()), 'self.revoked', 'a revoked gateway does not even start');
  const w2 = makeWorld();
  t.equal(reasonOf(() => w2.responder().onM1(manual(w2, { nodeId: 'node-2' }).m1)), 'm1.wrong-node');
  t.equal(reasonOf(() => w2.responder().onM1(manual(w2, { epoch: 7 }).m1)), 'm1.epoch');
  w2.records.set('node-1', { ...w2.records.get('node-1')!, status: 'revoked' });
  t.equal(reasonOf(() => w2.initiator().start()), 'peer.revoked-node', 'the gateway checks the node is not revoked');
  const w3 = makeWorld();
  w3.records.set('x-node', { ...w3.records.get('node-1')!, id: 'x-node', role: 'gateway' });
  t.equal(reasonOf(() => w3.initiator('gw-1', { nodeId: 'x-node' }).start()), 'peer.unknown-node', 'a party that is not a node');
});

t.test('time, floods and pending handshakes', async (t) => {
  const w = makeWorld();
  t.equal(reasonOf(() => w.responder().onM1(manual(w, { time: w.clock.t - 10 * 60_000 }).m1)), 'time.stale');
  t.equal(reasonOf(() => w.responder().onM1(manual(w, { time: w.clock.t + 10 * 60_000 }).m1)), 'time.future');
  const node = w.responder({ maxPending: 3, pendingTimeoutMs: 1000 });
  for (let i = 0; i < 3; i++) node.onM1(manual(w).m1);
  t.equal(reasonOf(() => node.onM1(manual(w).m1)), 'm1.too-many-pending', 'a flood hits the cap');
  w.clock.t += 1500;
  const g = manual(w);
  const { handshakeId, m2 } = node.onM1(g.m1);
  t.equal(node.pendingCount, 1, 'timed-out handshakes were evicted');
  w.clock.t += 1500;
  t.equal(reasonOf(() => node.onM3(handshakeId, g.m3For(m2, { id: 'gw-1' }))), 'm3.expired');
});

t.test('replays, reflections and out-of-order messages', async (t) => {
  const w = makeWorld();
  const node = w.responder();
  const gw = w.initiator();
  const { handshakeId, m2 } = node.onM1(gw.start());
  const { m3 } = gw.onM2(m2);
  node.onM3(handshakeId, m3);
  t.equal(reasonOf(() => node.onM3(handshakeId, m3)), 'm3.unknown-handshake', 'M3 replayed into the same handshake');
  const other = node.onM1(w.initiator().start());
  t.equal(reasonOf(() => node.onM3(other.handshakeId, m3)), 'm3.decrypt', 'M3 replayed into a new handshake');
  const gw2 = w.initiator();
  gw2.start();
  t.equal(reasonOf(() => gw2.onM2(m2)), 'm2.bad-mac', 'M2 replayed against a new X');
  const third = node.onM1(w.initiator().start());
  t.equal(reasonOf(() => node.onM3(third.handshakeId, m2)), 'm3.type', 'M2 reflected as M3');
  t.equal(reasonOf(() => w.initiator().onM2(m2)), 'state.unexpected', 'M2 before M1');
  t.equal(reasonOf(() => gw.onM2(m2)), 'state.unexpected', 'M2 twice');
  const gw3 = w.initiator();
  gw3.start();
  t.equal(reasonOf(() => gw3.start()), 'state.unexpected', 'M1 twice');
});

t.test('record layer: replay, reorder, reflection, tampering, sequence limit', async (t) => {
  const w = makeWorld();
  const node = w.responder();
  const gw = w.initiator();
  const { handshakeId, m2 } = node.onM1(gw.start());
  const { m3, session: gs } = gw.onM2(m2);
  const { session: ns } = node.onM3(handshakeId, m3);
  const r0 = gs.seal(Uint8Array.of(0));
  const r1 = gs.seal(Uint8Array.of(1));
  const r2 = gs.seal(Uint8Array.of(2));
  ns.open(r0);
  t.equal(reasonOf(() => ns.open(r0)), 'record.replay');
  t.equal(reasonOf(() => ns.open(r2)), 'record.reorder');
  t.equal(reasonOf(() => gs.open(r1)), 'record.reflected', 'my own record sent back to me');
  const bad = r1.slice();
  bad[bad.length - 1]! ^= 1;
  t.equal(reasonOf(() => ns.open(bad)), 'record.decrypt', 'tampered');
  const moved = r0.slice();
  moved[1] = 2;
  t.equal(reasonOf(() => gs.open(moved)), 'record.decrypt', 'direction byte flipped to pass as the other direction');
  t.same(ns.open(r1), Uint8Array.of(1), 'the genuine record still opens');
  const wrap = r2.slice();
  wrap.fill(0xff, 2, 10);
  t.equal(reasonOf(() => ns.open(wrap)), 'record.seq-limit', 'sequence wrap');
  t.equal(reasonOf(() => ns.open(r2.slice(0, 20))), 'record.truncated');
});
