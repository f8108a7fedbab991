// The X25519 key objects built through node:crypto's JWK import (the fast path) are the keys the
// PKCS#8/SPKI DER import (the reference path) gives, for random and for edge-case secrets, and the
// RFC 7748 test vector holds.
import t from 'tap';
import { createPublicKey, diffieHellman } from 'node:crypto';
import { privateKeyObjectDer, x25519, x25519Peer, x25519PublicKey, X25519Secret } from '../protocol/handshake/primitives';
import { seeded } from './handshake.helpers';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

t.test('JWK-built keys equal DER-built keys', async (t) => {
  const r = seeded('x25519 paths');
  const secrets = [new Uint8Array(32), new Uint8Array(32).fill(0xff), Uint8Array.from({ length: 32 }, (_, i) => i), ...Array.from({ length: 40 }, () => r(32))];
  for (const [i, s] of secrets.entries()) {
    const der = privateKeyObjectDer(s);
    const derPub = new Uint8Array(createPublicKey(der).export({ format: 'der', type: 'spki' }).subarray(12));
    t.equal(hex(x25519PublicKey(s)), hex(derPub), `public key ${i}`);
    const peer = r(32);
    peer[31]! &= 0x7f;
    const viaDer = new Uint8Array(diffieHellman({ privateKey: der, publicKey: createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), peer]), format: 'der', type: 'spki' }) }));
    if (viaDer.every((b) => b === 0)) continue;
    t.equal(hex(new X25519Secret(s).dh(x25519Peer(peer, 'test'), 'test')), hex(viaDer), `DH ${i}`);
  }
});

t.test('RFC 7748 section 6.1', async (t) => {
  const a = unhex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const b = unhex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  t.equal(hex(x25519PublicKey(a)), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  t.equal(hex(x25519PublicKey(b)), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  t.equal(hex(x25519(a, x25519PublicKey(b), 'test')), '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
});

t.test('low-order peers are refused on the fast path too', async (t) => {
  const s = new X25519Secret(seeded('low order')(32));
  for (const u of ['00'.repeat(32), '01' + '00'.repeat(31), 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800']) {
    t.throws(() => s.dh(x25519Peer(unhex(u), 'm1.bad-ephemeral'), 'm1.bad-ephemeral'), /m1\.bad-ephemeral/, `u = ${u.slice(0, 8)}…`);
  }
});
