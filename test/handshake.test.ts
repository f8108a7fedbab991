// The handshake's happy paths and the record layer.
import t from 'tap';
import { makeWorld } from './handshake.helpers';
import { reasonOf } from './protocol-error.helpers';

t.test('a gateway and the node authenticate each other and exchange records both ways', async (t) => {
  const w = makeWorld();
  const node = w.responder();
  const gw = w.initiator('gw-1');
  const m1 = gw.start();
  const { handshakeId, m2 } = node.onM1(m1);
  const { m3, session: gs } = gw.onM2(m2);
  const { session: ns, peer } = node.onM3(handshakeId, m3);
  t.same(peer, { id: 'gw-1', role: 'gateway', epoch: 1 });
  t.same(gs.id, ns.id, 'both ends derive the same session id');
  t.equal(node.pendingCount, 0, 'the pending handshake is consumed');
  let wrong = 0;
  for (let i = 0; i < 3000; i++) {
    const msg = new TextEncoder().encode(`batch ${i}`);
    if (Buffer.compare(ns.open(gs.seal(msg)), msg) !== 0) wrong++;
    if (i % 500 === 0 && Buffer.compare(gs.open(ns.seal(msg)), msg) !== 0) wrong++;
  }
  t.equal(wrong, 0, 'every record opens to what was sealed, both ways');
  t.equal(gs.sent, 3000, 'a session survives thousands of records across rekeys (every 1024)');
  t.notMatch(Buffer.from(m1).toString('latin1'), /gw-1/, 'the gateway id is not in M1');
  t.notMatch(Buffer.from(m3).toString('latin1'), /gw-1/, 'nor in clear in M3 (identity hiding)');
});

t.test('a data user authenticates with the same handshake and is reported as a user', async (t) => {
  const w = makeWorld();
  const node = w.responder();
  const u = w.initiator('dr-lee');
  const { handshakeId, m2 } = node.onM1(u.start());
  const { m3 } = u.onM2(m2);
  t.same(node.onM3(handshakeId, m3).peer, { id: 'dr-lee', role: 'user', epoch: 1 });
});

t.test('sessions expire and run out of records', async (t) => {
  const w = makeWorld();
  const node = w.responder({ sessionLifetimeMs: 60_000 });
  const gw = w.initiator('gw-1', { sessionLifetimeMs: 60_000 });
  const { handshakeId, m2 } = node.onM1(gw.start());
  const { m3, session: gs } = gw.onM2(m2);
  const { session: ns } = node.onM3(handshakeId, m3);
  const r = gs.seal(new Uint8Array([1]));
  w.clock.t += 61_000;
  t.ok(gs.exhausted, 'the gateway knows to start a new handshake');
  t.equal(reasonOf(() => gs.seal(new Uint8Array([1]))), 'session.expired');
  t.equal(reasonOf(() => ns.open(r)), 'session.expired');
});

t.test('keys ratchet in step on both sides', async (t) => {
  const w = makeWorld();
  const node = w.responder({ rekeyEvery: 4 });
  const gw = w.initiator('gw-1', { rekeyEvery: 4 });
  const { handshakeId, m2 } = node.onM1(gw.start());
  const { m3, session: gs } = gw.onM2(m2);
  const { session: ns } = node.onM3(handshakeId, m3);
  const records = Array.from({ length: 10 }, (_, i) => gs.seal(Uint8Array.of(i)));
  t.same(records.map((r) => ns.open(r)[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // A responder that did not ratchet (rekeyEvery far away) cannot read past the first generation.
  const w2 = makeWorld();
  const n2 = w2.responder({ rekeyEvery: 1000 });
  const g2 = w2.initiator('gw-1', { rekeyEvery: 4 });
  const hs = n2.onM1(g2.start());
  const done = g2.onM2(hs.m2);
  const s2 = n2.onM3(hs.handshakeId, done.m3).session;
  for (let i = 0; i < 4; i++) s2.open(done.session.seal(Uint8Array.of(i)));
  t.equal(reasonOf(() => s2.open(done.session.seal(Uint8Array.of(4)))), 'record.decrypt', 'record 4 is under the next key');
});
