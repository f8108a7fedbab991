import t from 'tap';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { inclusionProof, leafHash, leafSalt, merkleRoot, nodeHash, saltedLeafHashes, verifyInclusion } from '../protocol/merkle';

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
