/**
 * The fold of one anchor transaction: a Merkle tree over the header hashes the transaction anchors,
 * in calldata order, whose root the Anchor contract computes and logs (docs/contracts.md, "Folded
 * anchoring"). A chain node's receipt carries the root, the batch's leaf index, the fold's size and
 * the audit path, so a gateway (or anyone with its header) can check that its own batch is one of
 * the transaction's leaves without reading the other batches.
 *
 *   leaves     = the batch header hashes (already domain-separated SHA-256 outputs)
 *   inner node = keccak256(left ‖ right)      (what the EVM hashes cheapest)
 *   shape      = adjacent nodes paired level by level, an odd last node carried up unchanged
 *                (the RFC 6962 shape, as protocol/merkle.ts)
 *
 * The tree's shape is fixed by its size, which the contract logs beside the root, so an inner node
 * cannot pose as a leaf. Pure: no I/O.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { ProtocolError } from './errors';
import { equalBytes } from './hash';

export interface FoldProof {
  /** hex, no 0x: the fold root the contract logged */
  readonly root: string;
  /** the batch's leaf among the transaction's header hashes */
  readonly index: number;
  /** how many header hashes the transaction anchored */
  readonly size: number;
  /** hex siblings, from the leaf's up to the root's children */
  readonly path: readonly string[];
}

export const MAX_FOLD_SIZE = 0xffffffff;

function pair(a: Uint8Array, b: Uint8Array): Uint8Array {
  const m = new Uint8Array(64);
  m.set(a, 0);
  m.set(b, 32);
  return keccak_256(m);
}

function checkLeaves(leaves: readonly Uint8Array[]): void {
  if (leaves.length === 0) throw new ProtocolError('fold.empty', 'a fold has at least one header hash');
  for (const [i, l] of leaves.entries()) if (!(l instanceof Uint8Array) || l.length !== 32) throw new ProtocolError('fold.leaf-length', `leaf ${i} must be 32 bytes`);
}

export function foldRoot(leaves: readonly Uint8Array[]): Uint8Array {
  checkLeaves(leaves);
  let level = leaves.slice();
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(pair(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/** The audit path of leaf `index`: at each level the sibling, none where the node is carried up. */
export function foldPath(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  checkLeaves(leaves);
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) throw new ProtocolError('fold.bad-index', `leaf ${index} of ${leaves.length}`);
  const path: Uint8Array[] = [];
  let level = leaves.slice();
  let i = index;
  while (level.length > 1) {
    const sibling = i ^ 1;
    if (sibling < level.length) path.push(level[sibling]!);
    const next: Uint8Array[] = [];
    for (let j = 0; j + 1 < level.length; j += 2) next.push(pair(level[j]!, level[j + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
    i = Math.floor(i / 2);
  }
  return path;
}

export function foldProof(leaves: readonly Uint8Array[], index: number): FoldProof {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  return { root: hex(foldRoot(leaves)), index, size: leaves.length, path: foldPath(leaves, index).map(hex) };
}

/** Every leaf's proof at once: the tree is built once (O(n log n) hashing instead of O(n²) leaf by leaf). */
export function foldProofs(leaves: readonly Uint8Array[]): FoldProof[] {
  checkLeaves(leaves);
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const levels: string[][] = [leaves.map(hex)];
  let level = leaves.slice();
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let j = 0; j + 1 < level.length; j += 2) next.push(pair(level[j]!, level[j + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
    levels.push(level.map(hex));
  }
  const root = levels[levels.length - 1]![0]!;
  return leaves.map((_, index) => {
    const path: string[] = [];
    let i = index;
    for (let d = 0; d + 1 < levels.length; d++) {
      const sibling = levels[d]![i ^ 1];
      if (sibling !== undefined) path.push(sibling);
      i = Math.floor(i / 2);
    }
    return { root, index, size: leaves.length, path };
  });
}

/** Does `leaf` sit at `index` of a fold of `size` leaves with this root? False for any malformed input; never throws. */
export function verifyFold(leaf: Uint8Array, p: FoldProof): boolean {
  if (!(leaf instanceof Uint8Array) || leaf.length !== 32 || typeof p !== 'object' || p === null) return false;
  if (!Number.isSafeInteger(p.size) || p.size < 1 || p.size > MAX_FOLD_SIZE || !Number.isSafeInteger(p.index) || p.index < 0 || p.index >= p.size) return false;
  if (!Array.isArray(p.path) || !/^[0-9a-f]{64}$/.test(p.root)) return false;
  let node = leaf;
  let i = p.index;
  let n = p.size;
  let used = 0;
  while (n > 1) {
    const sibling = i ^ 1;
    if (sibling < n) {
      const s = p.path[used++];
      if (typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) return false;
      const sb = Uint8Array.from(Buffer.from(s, 'hex'));
      node = i % 2 === 0 ? pair(node, sb) : pair(sb, node);
    }
    i = Math.floor(i / 2);
    n = Math.ceil(n / 2);
  }
  return used === p.path.length && equalBytes(node, Uint8Array.from(Buffer.from(p.root, 'hex')));
}
