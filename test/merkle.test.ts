import t from 'tap';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { inclusionProof, leafHash, leafHashesWith, leafSalt, leafSaltOf, merkleRoot, nodeHash, saltedLeafHashes, streamLeafSalts, verifyInclusion } from '../protocol/merkle';

const h = (...parts: Array<Uint8Array | number[]>): Uint8Array => {
  const x = createHash('sha256');
  for (const p of parts) x.update(Uint8Array.from(p));
  return new Uint8Array(x.digest());
};
const leaves = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => h([i]));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// The RFC 6962 definition, written recursively and independently of the implementation.
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 1) return d[0]!;
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return h([1], mth(d.slice(0, k)), mth(d.slice(k)));
}

t.test('known vectors: leaf and node prefixes, one leaf, two, three, five', async (t) => {
  const salt = new Uint8Array(32).fill(7);
  const data = new TextEncoder().encode('{"kind":"spo2","value":97}');
  t.equal(hex(leafHash(salt, data)), hex(h([0], salt, data)), 'leaf = H(0x00 ‖ salt ‖ data)');
  const [a, b, c, d, e] = leaves(5) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  t.equal(hex(nodeHash(a, b)), hex(h([1], a, b)), 'node = H(0x01 ‖ l ‖ r)');
  t.equal(hex(merkleRoot([a])), hex(a), 'one leaf: the root is the leaf hash');
  t.equal(hex(merkleRoot([a, b])), hex(h([1], a, b)));
  t.equal(hex(merkleRoot([a, b, c])), hex(h([1], h([1], a, b), c)), 'three: odd leaf carried up, not duplicated');
  t.equal(hex(merkleRoot([a, b, c, d, e])), hex(h([1], h([1], h([1], a, b), h([1], c, d)), e)));
  t.throws(() => merkleRoot([]), /empty/);
});

t.test('the O(n) root equals the RFC 6962 recursive definition for 1..70 leaves', async (t) => {
  for (let n = 1; n <= 70; n++) t.equal(hex(merkleRoot(leaves(n))), hex(mth(leaves(n))), `n=${n}`);
});

t.test('inclusion proofs verify for every index of 1..33 leaves, and only there', async (t) => {
  for (let n = 1; n <= 33; n++) {
    const ls = leaves(n);
    const root = merkleRoot(ls);
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(ls, i);
      if (!verifyInclusion(root, ls[i]!, i, n, proof)) t.fail(`n=${n} i=${i}`);
      if (n > 1 && verifyInclusion(root, ls[i]!, (i + 1) % n, n, proof)) t.fail(`wrong index accepted n=${n} i=${i}`);
      if (verifyInclusion(root, h([99]), i, n, proof)) t.fail(`wrong leaf accepted n=${n} i=${i}`);
      if (proof.length > 0) {
        const bad = proof.map((p) => p.slice());
        bad[0]![0]! ^= 1;
        if (verifyInclusion(root, ls[i]!, i, n, bad)) t.fail(`tampered proof accepted n=${n} i=${i}`);
        if (verifyInclusion(root, ls[i]!, i, n, proof.slice(0, -1))) t.fail(`short proof accepted n=${n} i=${i}`);
      }
    }
  }
  t.notOk(verifyInclusion(merkleRoot(leaves(4)), leaves(4)[0]!, 4, 4, []), 'index ≥ count refused');
  t.notOk(verifyInclusion(merkleRoot(leaves(4)), leaves(4)[0]!, -1, 4, []), 'negative index refused');
  t.throws(() => inclusionProof(leaves(3), 3), /bad-index/);
  t.pass('all proofs checked');
});

t.test('property: any leaf of any tree verifies with its proof; a flipped root bit never does', async () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 200 }), fc.nat(), fc.nat(255), (n, i0, bit) => {
      const ls = leaves(n);
      const i = i0 % n;
      const root = merkleRoot(ls);
      const proof = inclusionProof(ls, i);
      const bad = root.slice();
      bad[bit % 32]! ^= 1 << bit % 8;
      return verifyInclusion(root, ls[i]!, i, n, proof) && !verifyInclusion(bad, ls[i]!, i, n, proof);
    }),
    { numRuns: 200 },
  );
});

t.test('leaf salts differ per index and per key, and are deterministic', async (t) => {
  const k1 = new Uint8Array(32).fill(1);
  const k2 = new Uint8Array(32).fill(2);
  t.equal(hex(leafSalt(k1, 0)), hex(leafSalt(k1, 0)));
  t.not(hex(leafSalt(k1, 0)), hex(leafSalt(k1, 1)));
  t.not(hex(leafSalt(k1, 0)), hex(leafSalt(k2, 0)));
  t.throws(() => leafSalt(new Uint8Array(16), 0), /salt-key-length/);
});

t.test('saltedLeafHashes is leafHash(leafSalt(key, i), data[i]) for every leaf', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 40 }), (key, data) => {
      const want = data.map((d, i) => hex(leafHash(leafSalt(key, i), d)));
      t.same(saltedLeafHashes(key, data).map(hex), want);
    }),
    { numRuns: 60 },
  );
  t.throws(() => saltedLeafHashes(new Uint8Array(31), [new Uint8Array(2)]), /salt-key-length/);
});

// Leaf salts v3 (directory version 3): the ChaCha20 keystream under the salt key, 32 bytes a leaf.
t.test('stream leaf salts: the RFC 8439 ChaCha20 keystream (nonce 0, counter 0), 32 bytes per leaf', async (t) => {
  // RFC 8439 appendix A.1, test vector #1: key 0^32, nonce 0^12, block counter 0.
  const ks = streamLeafSalts(new Uint8Array(32), 2);
  t.equal(hex(ks), '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586');
  t.equal(hex(leafSaltOf('stream', new Uint8Array(32), 1)), hex(ks.subarray(32, 64)), 'salt 1 is the second 32 bytes');
  t.equal(streamLeafSalts(new Uint8Array(32), 0).length, 0);
  t.throws(() => streamLeafSalts(new Uint8Array(31), 1), /salt-key-length/);
  t.throws(() => leafSaltOf('stream', new Uint8Array(32), -1), /bad-index/);
});

t.test('property: stream salts are a prefix-stable keystream, distinct per index and key, and differ from the HMAC salts', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 300 }), (k1, k2, n) => {
      const a = streamLeafSalts(k1, n);
      const i = n - 1;
      const salts = new Set(Array.from({ length: n }, (_, j) => hex(a.subarray(32 * j, 32 * j + 32))));
      return (
        a.length === 32 * n &&
        hex(streamLeafSalts(k1, n + 7).subarray(0, 32 * n)) === hex(a) &&
        hex(leafSaltOf('stream', k1, i)) === hex(a.subarray(32 * i)) &&
        salts.size === n &&
        (hex(k1) === hex(k2) || hex(streamLeafSalts(k2, 1)) !== hex(a.subarray(0, 32))) &&
        hex(leafSaltOf('hmac', k1, 0)) !== hex(a.subarray(0, 32))
      );
    }),
    { numRuns: 100 },
  );
  t.pass();
});

t.test('property: leafHashesWith(scheme) is leafHash(leafSaltOf(scheme, key, i), data[i]) for both schemes', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom<'hmac' | 'stream'>('hmac', 'stream'), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 40 }), (scheme, key, data) => {
      const want = data.map((d, i) => hex(leafHash(leafSaltOf(scheme, key, i), d)));
      return JSON.stringify(leafHashesWith(scheme, key, data).map(hex)) === JSON.stringify(want);
    }),
    { numRuns: 60 },
  );
  t.not(hex(leafHashesWith('stream', new Uint8Array(32).fill(5), [new Uint8Array([1, 2])])[0]!), hex(leafHashesWith('hmac', new Uint8Array(32).fill(5), [new Uint8Array([1, 2])])[0]!), 'the two schemes give different leaves');
});
