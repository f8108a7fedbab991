// Properties: whatever bytes arrive, the handshake and record layer refuse them with a ProtocolError
// and never anything else (no crash, no acceptance).
import t from 'tap';
import fc from 'fast-check';
import { ProtocolError } from '../protocol/errors';
import { makeWorld } from './handshake.helpers';

function onlyProtocolErrors(fn: () => unknown): boolean {
  try {
    fn();
    return false; // accepted: not allowed for random or mutated input
  } catch (err) {
    return err instanceof ProtocolError;
  }
}

const mutation = fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }), cut: fc.nat(), extend: fc.uint8Array({ maxLength: 8 }), kind: fc.constantFrom('flip', 'cut', 'extend') });
function mutate(b: Uint8Array, m: { at: number; xor: number; cut: number; extend: Uint8Array; kind: string }): Uint8Array {
  if (m.kind === 'flip') {
    const c = b.slice();
    c[m.at % c.length]! ^= m.xor;
    return c;
  }
  if (m.kind === 'cut') return b.slice(0, m.cut % b.length);
  return new Uint8Array([...b, ...(m.extend.length ? m.extend : [0])]);
}

t.test('random bytes are refused at every step', async () => {
  const w = makeWorld();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => {
      const node = w.responder();
      const gw = w.initiator();
      gw.start();
      const { handshakeId } = node.onM1(w.initiator().start());
      return onlyProtocolErrors(() => node.onM1(junk)) && onlyProtocolErrors(() => gw.onM2(junk)) && onlyProtocolErrors(() => node.onM3(handshakeId, junk));
    }),
    { numRuns: 150 },
  );
});

t.test('every mutation of a valid M1, M2, M3 or record is refused', async () => {
  const w = makeWorld();
  fc.assert(
    fc.property(mutation, fc.constantFrom('m1', 'm2', 'm3', 'record'), (m, which) => {
      const node = w.responder();
      const gw = w.initiator();
      const m1 = gw.start();
      if (which === 'm1') {
        // A mutated M1 may still be a well-formed M1 (e.g. another nonce); then the node answers, but
        // the gateway, whose transcript differs, refuses the M2.
        let res: ReturnType<typeof node.onM1>;
        try {
          res = node.onM1(mutate(m1, m));
        } catch (err) {
          return err instanceof ProtocolError;
        }
        return onlyProtocolErrors(() => gw.onM2(res.m2));
      }
      const { handshakeId, m2 } = node.onM1(m1);
      if (which === 'm2') return onlyProtocolErrors(() => gw.onM2(mutate(m2, m)));
      const { m3, session: gs } = gw.onM2(m2);
      if (which === 'm3') return onlyProtocolErrors(() => node.onM3(handshakeId, mutate(m3, m)));
      const { session: ns } = node.onM3(handshakeId, m3);
      return onlyProtocolErrors(() => ns.open(mutate(gs.seal(new TextEncoder().encode('reading batch')), m)));
    }),
    { numRuns: 300 },
  );
});
