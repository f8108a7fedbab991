// The fold of an anchor transaction (protocol/fold.ts): proofs for every leaf of every size verify,
// any change to leaf, index, size, path or root is refused, and a receipt must prove its own batch.
import t from 'tap';
import fc from 'fast-check';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { foldPath, foldProof, foldProofs, foldRoot, verifyFold } from '../protocol/fold';
import { parseSignedReceipt } from '../protocol/submission';

const leaf = (i: number): Uint8Array => keccak_256(new TextEncoder().encode(`leaf ${i}`));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

t.test('shape: pairs level by level, an odd last node carried up', async (t) => {
  const [a, b, c] = [leaf(0), leaf(1), leaf(2)];
  const pair = (x: Uint8Array, y: Uint8Array): Uint8Array => keccak_256(new Uint8Array([...x, ...y]));
  t.same(foldRoot([a]), a, 'one leaf is its own root');
  t.same(foldRoot([a, b]), pair(a, b));
  t.same(foldRoot([a, b, c]), pair(pair(a, b), c), 'three: c is carried up');
  t.same(foldPath([a, b, c], 2), [pair(a, b)], 'the carried leaf has no sibling at the first level');
  t.throws(() => foldRoot([]), /at least one/);
  t.throws(() => foldRoot([new Uint8Array(31)]), /32 bytes/);
});

t.test('every leaf of every size up to 70 proves, and nothing else does', async (t) => {
  for (let n = 1; n <= 70; n++) {
    const leaves = Array.from({ length: n }, (_, i) => leaf(i));
    const all = foldProofs(leaves);
    for (let i = 0; i < n; i++) {
      const p = foldProof(leaves, i);
      if (JSON.stringify(all[i]) !== JSON.stringify(p)) t.fail(`size ${n} leaf ${i}: foldProofs differs from foldProof`);
      if (!verifyFold(leaves[i]!, p)) t.fail(`size ${n} leaf ${i}`);
      if (n > 1 && verifyFold(leaves[(i + 1) % n]!, p)) t.fail(`size ${n} leaf ${i}: another leaf passed`);
      if (n > 1 && verifyFold(leaves[i]!, { ...p, index: (i + 1) % n })) t.fail(`size ${n} leaf ${i}: another index passed`);
    }
  }
  t.pass('checked');
});

// The size alone is not bound by a path (a leaf's path can fit two sizes): verifiers compare it with
// the size the contract logged, as cli/verification.ts does.
t.test('property: any single change to root, index or path is refused', async () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 200 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 3 }), (n, ri, rk, what) => {
      const leaves = Array.from({ length: n }, (_, i) => leaf(i));
      const i = ri % n;
      const p = foldProof(leaves, i);
      const flip = (h: string): string => (h[0] === '0' ? '1' : '0') + h.slice(1);
      const changed =
        what === 0 ? { ...p, root: flip(p.root) } : what === 1 ? { ...p, index: (i + 1 + (rk % (n - 1))) % n } : what === 2 ? { ...p, path: p.path.map((s, k) => (k === rk % p.path.length ? flip(s) : s)) } : { ...p, path: p.path.slice(0, -1) };
      return verifyFold(leaves[i]!, p) && !verifyFold(leaves[i]!, changed);
    }),
    { numRuns: 300 },
  );
});

t.test('a receipt with a fold must prove its own header hash', async (t) => {
  const leaves = [leaf(0), leaf(1), leaf(2)];
  const receipt = { v: 1, nodeId: 'n', gatewayId: 'gw', seq: 1, headerHash: hex(leaves[1]!), root: '00'.repeat(32), count: 1, txHash: '0x01', blockNumber: 1, status: 'anchored', fold: foldProof(leaves, 1) };
  const sig = '00'.repeat(48);
  t.ok(parseSignedReceipt({ receipt, signature: sig }).receipt.fold);
  t.throws(() => parseSignedReceipt({ receipt: { ...receipt, fold: foldProof(leaves, 0) }, signature: sig }), /fold/, "another batch's proof");
  t.throws(() => parseSignedReceipt({ receipt: { ...receipt, fold: null }, signature: sig }), /fold/);
  t.throws(() => parseSignedReceipt({ receipt: { ...receipt, fold: { ...receipt.fold, path: 'x' } }, signature: sig }), /fold/);
});
