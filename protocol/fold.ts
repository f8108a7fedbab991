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
 * cannot pose as a leaf.
 *
 * Folded mode puts only each gateway group's ends on chain (the previous hash its first batch names
 * and its head, the last batch's header hash), not the hashes in between: `linkGroup` rebuilds a
 * group's header hashes from the headers themselves (each names its predecessor's hash) and checks
 * the group starts where the chain says and ends in the anchored head; `rebuildFold` does it for
 * every group of a transaction and checks the fold root the node logged. Pure: no I/O.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { ProtocolError } from './errors';
import { headerHash, type BatchHeader } from './batch';
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


/** One gateway's group in a folded anchor transaction, as the chain holds it (contracts/Anchor.sol). */
export interface FoldGroup {
  readonly gatewayId: string;
  readonly firstSeq: number;
  readonly count: number;
  /** the header hash the group's first batch names as previous (the gateway's head before it) */
  readonly prevHash: Uint8Array;
  /** the header hash of the group's last batch, the gateway's head after it */
  readonly headHash: Uint8Array;
}

const short = (b: Uint8Array): string => `${Buffer.from(b).toString('hex').slice(0, 16)}…`;

/**
 * The header hashes of a group's batches `from` on (default: all), rebuilt from their headers
 * (`headerOf(seq)`, null where the caller has none): each header is the gateway's, has its sequence
 * number, names the previous one's hash (the group's first names the group's prevHash), and the
 * last hashes to the anchored head. A batch's hash is shown by the batches after it: each later
 * header names the one before, up to the head. Throws a ProtocolError naming the first batch that
 * does not fit ('fold.missing-header' where a header is not at hand).
 */
export function linkGroup(g: FoldGroup, headerOf: (seq: number) => BatchHeader | null | undefined, from = g.firstSeq): Uint8Array[] {
  const where = (seq: number): string => `${g.gatewayId} batch ${seq} (anchored in a group of ${g.count} from ${g.firstSeq})`;
  const last = g.firstSeq + g.count - 1;
  if (!Number.isSafeInteger(from) || from < g.firstSeq || from > last) throw new ProtocolError('fold.bad-index', `${where(from)}: not in the group`);
  const hashes: Uint8Array[] = [];
  let prev: Uint8Array | null = from === g.firstSeq ? g.prevHash : null;
  for (let seq = from; seq <= last; seq++) {
    const h = headerOf(seq);
    if (!h) throw new ProtocolError('fold.missing-header', `${where(seq)}: its header is not at hand, so the link to the anchored head cannot be shown`);
    if (h.gatewayId !== g.gatewayId || h.seq !== seq) throw new ProtocolError('fold.wrong-header', `${where(seq)}: the header is ${h.gatewayId}#${h.seq}'s`);
    if (prev && !equalBytes(h.prevHash, prev)) throw new ProtocolError('fold.broken-link', `${where(seq)}: names ${short(h.prevHash)} as previous, the chain has ${short(prev)} before it`);
    prev = headerHash(h);
    hashes.push(prev);
  }
  if (!equalBytes(prev!, g.headHash)) throw new ProtocolError('fold.wrong-head', `${where(last)}: hashes to ${short(prev!)}, the anchored head is ${short(g.headHash)}`);
  return hashes;
}

/**
 * The leaves of a folded transaction (its groups in calldata order), each group rebuilt by
 * `linkGroup`, checked against the fold root the contract logged (hex, no 0x).
 */
export function rebuildFold(groups: readonly FoldGroup[], root: string, headerOf: (gatewayId: string, seq: number) => BatchHeader | null | undefined): Uint8Array[] {
  const leaves = groups.flatMap((g) => linkGroup(g, (seq) => headerOf(g.gatewayId, seq)));
  const got = Buffer.from(foldRoot(leaves)).toString('hex');
  if (got !== root.replace(/^0x/, '').toLowerCase()) throw new ProtocolError('fold.wrong-root', `the ${leaves.length} header hashes of the transaction fold to ${got.slice(0, 16)}…, the contract logged ${root.slice(0, 16)}…`);
  return leaves;
}
