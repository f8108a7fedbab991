import t from 'tap';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { blsKeygen, blsPopProve, blsPopVerify, blsPublicKey, blsSign, blsVerify, checkSecretKey, decodeG1Signature, decodeG2PublicKey, POP_DST } from '../protocol/bls';
import { reasonOf } from './protocol-error.helpers';

const seed = (b: number): Uint8Array => new Uint8Array(48).fill(b);
const sk = blsKeygen(seed(1));
const pk = blsPublicKey(sk);
const msg = new TextEncoder().encode('batch header hash');
const reason = reasonOf;

t.test('sign and verify', async (t) => {
  const sig = blsSign(sk, msg);
  t.equal(sig.length, 48);
  t.equal(pk.length, 96);
  t.ok(blsVerify(pk, msg, sig));
  t.notOk(blsVerify(pk, new TextEncoder().encode('other'), sig), 'other message');
  t.notOk(blsVerify(blsPublicKey(blsKeygen(seed(2))), msg, sig), 'other key');
  t.same(blsKeygen(seed(1)), sk, 'deterministic from the injected seed');
});

t.test('proof of possession is separate from signatures', async (t) => {
  const pop = blsPopProve(sk);
  t.ok(blsPopVerify(pk, pop));
  t.notOk(blsPopVerify(blsPublicKey(blsKeygen(seed(3))), pop), 'not for another key');
  t.notOk(blsVerify(pk, pk, pop), 'a PoP is not a signature over the public key under the signature DST');
  t.notOk(blsPopVerify(pk, blsSign(sk, pk)), 'a signature over the key is not a PoP');
  const defaultDst = bls12_381.shortSignatures.sign(bls12_381.shortSignatures.hash(msg), sk).toBytes(true);
  t.notOk(blsVerify(pk, msg, defaultDst), 'a signature under noble\'s default DST does not verify');
  t.not(POP_DST, 'BLS_POP_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_', 'our own PoP DST');
});

t.test('strict decoding of keys and signatures', async (t) => {
  const sig = blsSign(sk, msg);
  t.equal(reason(() => decodeG2PublicKey(pk.slice(0, 95))), 'bls.public-key-length');
  t.equal(reason(() => decodeG1Signature(new Uint8Array([...sig, 0]))), 'bls.signature-length');
  const inf1 = new Uint8Array(48);
  inf1[0] = 0xc0;
  t.equal(reason(() => decodeG1Signature(inf1)), 'bls.signature-identity', 'identity signature refused');
  const inf2 = new Uint8Array(96);
  inf2[0] = 0xc0;
  t.equal(reason(() => decodeG2PublicKey(inf2)), 'bls.public-key-identity', 'identity key refused');
  const infWithPayload = inf1.slice();
  infWithPayload[47] = 1;
  t.match(reason(() => decodeG1Signature(infWithPayload)), /^bls\.signature-(invalid|identity)$/, 'infinity flag with payload refused');
  const uncompressed = sig.slice();
  uncompressed[0]! &= 0x7f;
  t.equal(reason(() => decodeG1Signature(uncompressed)), 'bls.signature-uncompressed');
  const xTooBig = new Uint8Array(48).fill(0xff);
  xTooBig[0] = 0x9f;
  t.equal(reason(() => decodeG1Signature(xTooBig)), 'bls.signature-invalid', 'x ≥ p refused');
  t.notOk(blsVerify(pk, msg, inf1), 'verify says false, not throw, for an identity signature');
  t.notOk(blsVerify(inf2, msg, sig), 'verify says false for an identity key');
  t.equal(reason(() => checkSecretKey(new Uint8Array(32))), 'bls.secret-key-range', 'zero scalar refused');
  t.equal(reason(() => checkSecretKey(new Uint8Array(32).fill(0xff))), 'bls.secret-key-range', 'scalar ≥ r refused, not reduced');
  t.equal(reason(() => blsKeygen(new Uint8Array(32))), 'bls.seed-length');
});
