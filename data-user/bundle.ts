/**
 * A fetched file ("share bundle", format mcps-share/v1): the readings of one patient over [from,
 * to] that a data user fetched under a grant, with everything a third party needs to re-check them
 * against the chain alone (`mcps data verify`): the grant and the access transaction, the patient's
 * day tags over the grant (their hash is the grant's tagsHash on chain), and per gateway the run of
 * batch headers, signatures and directories, and per slice of the patient its leaf-salt key and its
 * readings (readings outside [from, to] of a slice at the edge of the range appear only as their
 * leaf hashes, so the file reveals nothing the user was not granted, yet every slice root can be
 * recomputed). No slice key, no ciphertext, nothing of another patient.
 *
 * Inclusion: a slice's readings, salted, hash to its leaves; the leaves to the slice root the
 * directory lists; the directory hashes into the header; MTH(slice roots) is the header's root, and
 * the header hash and root are anchored. That proves each reading's inclusion at one hash per
 * reading (the same as checking each reading's audit path, without the paths).
 */
import { encodeReading, checkReading } from '../protocol/canonical';
import { merkleRoot, leafHash, leafSalt, streamLeafSalts } from '../protocol/merkle';
import { leafSaltScheme, type DirectoryVersion } from '../protocol/batch';
import type { Reading } from '../protocol/reading';
import type { DeliveredBatch, DeliveredGateway, ExpectedSlice } from './verify-range';

export const BUNDLE_FORMAT = 'mcps-share/v1';

export interface BundleSlice {
  readonly index: number;
  /** hex: the slice's leaf-salt key (derived from the slice key; opens nothing) */
  readonly saltKey: string;
  /** In leaf order: a reading in the range, or the leaf hash (hex) of one outside it. */
  readonly leaves: ReadonlyArray<{ readonly reading: Reading } | { readonly leaf: string }>;
}

/** A batch as the file holds it (JSON: hex and base64). */
export interface BundleBatch {
  readonly seq: number;
  /** hex of the encoded header */
  readonly header: string;
  /** hex of the gateway's signature */
  readonly signature: string;
  /** base64 of the directory */
  readonly directory: string;
  /** The node's receipt's transaction (informative: the check reads the chain), null if it was still anchoring. */
  readonly anchorTx: string | null;
  readonly slices: readonly BundleSlice[];
}

export interface BundleGateway {
  readonly gatewayId: string;
  readonly lo: number;
  readonly hi: number;
  readonly batches: readonly BundleBatch[];
}

/** A file's batch with its binary fields decoded, as verify-range.ts checks it. */
export type DecodedBundleBatch = DeliveredBatch & { readonly slices: readonly BundleSlice[] };

export function decodeBundleGateway(g: BundleGateway): DeliveredGateway<DecodedBundleBatch> {
  const bytes = (v: unknown, e: 'hex' | 'base64'): Uint8Array => typeof v === 'string' ? new Uint8Array(Buffer.from(v, e)) : new Uint8Array(0);
  return { gatewayId: g.gatewayId, lo: g.lo, hi: g.hi, batches: g.batches.map((b) => ({ seq: b.seq, header: bytes(b.header, 'hex'), signature: bytes(b.signature, 'hex'), directory: bytes(b.directory, 'base64'), slices: b.slices })) };
}

export function encodeBundleBatch(b: DeliveredBatch, anchorTx: string | null, slices: readonly BundleSlice[]): BundleBatch {
  const buf = (x: Uint8Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return { seq: b.seq, header: buf(b.header).toString('hex'), signature: buf(b.signature).toString('hex'), directory: buf(b.directory).toString('base64'), anchorTx, slices };
}

export interface ShareReport {
  readonly verified: boolean;
  readonly readings: number;
  readonly batches: number;
  readonly slices: number;
  /** Slices or readings of anyone but the patient that reached the user. */
  readonly foreign: number;
  readonly gaps: string[];
  readonly problems: string[];
}

export interface ShareBundle {
  readonly format: typeof BUNDLE_FORMAT;
  readonly user: string;
  readonly hospital: string;
  readonly patient: string;
  readonly grantId: number;
  readonly from: number;
  readonly to: number;
  readonly access: { readonly txHash: string; readonly blockNumber: number; readonly node: string };
  readonly chain: { readonly chainId: number; readonly registry: string; readonly anchor: string; readonly accessLog: string; readonly deployBlock: number };
  /** The patient's day tags over the grant's days (hex), from firstDay. */
  readonly tags: { readonly firstDay: number; readonly tags: readonly string[] };
  /** The readings in [from, to], by receive time. */
  readonly readings: readonly Reading[];
  readonly proof: { readonly gateways: readonly BundleGateway[] };
  /** What fetch found (verify recomputes it). */
  readonly report: ShareReport;
}

/** The bundle entry of an opened slice: in-range readings in clear, the others as leaf hashes. */
export function bundleSlice(index: number, saltKey: Uint8Array, readings: readonly Reading[], leafAt: (i: number) => Uint8Array, from: number, to: number): BundleSlice {
  return { index, saltKey: Buffer.from(saltKey).toString('hex'), leaves: readings.map((r, i) => (r.receivedAt >= from && r.receivedAt <= to ? { reading: r } : { leaf: Buffer.from(leafAt(i)).toString('hex') })) };
}

/**
 * Re-checks a bundle slice against its directory entry: the leaves it implies hash to the slice
 * root, their number is the entry's count, every reading is the patient's, inside the entry's span
 * and inside [from, to]. Returns the readings, or throws naming the mismatch.
 */
export function checkBundleSlice(e: Pick<ExpectedSlice, 'entry'> & { readonly batch: { readonly directory: { readonly version: DirectoryVersion } } }, s: BundleSlice, patient: string, from: number, to: number): Reading[] {
  if (!/^[0-9a-f]{64}$/.test(s.saltKey)) throw new Error('salt key malformed');
  const saltKey = Uint8Array.from(Buffer.from(s.saltKey, 'hex'));
  if (s.leaves.length !== e.entry.count) throw new Error(`${s.leaves.length} leaves, the directory says ${e.entry.count}`);
  const out: Reading[] = [];
  // The salts as the batch's directory version says (v2: one HMAC per leaf, v3: one keystream).
  const stream = leafSaltScheme(e.batch.directory.version) === 'stream' ? streamLeafSalts(saltKey, s.leaves.length) : null;
  const leaves = s.leaves.map((l, i) => {
    if ('leaf' in l) {
      if (!/^[0-9a-f]{64}$/.test(l.leaf)) throw new Error(`leaf ${i} malformed`);
      return Uint8Array.from(Buffer.from(l.leaf, 'hex'));
    }
    const r = checkReading(l.reading, `reading ${i}`);
    if (r.patient !== patient) throw new Error(`reading ${i} is patient ${r.patient}'s, not ${patient}'s`);
    if (r.receivedAt < e.entry.firstReceivedAt || r.receivedAt > e.entry.lastReceivedAt || r.receivedAt < from || r.receivedAt > to) throw new Error(`reading ${i} lies outside the slice's span or the range`);
    out.push(r);
    return leafHash(stream ? stream.subarray(32 * i, 32 * i + 32) : leafSalt(saltKey, i), encodeReading(r));
  });
  if (!Buffer.from(merkleRoot(leaves)).equals(Buffer.from(e.entry.sliceRoot))) throw new Error('the readings do not hash to the slice root (a reading was altered, added or removed)');
  return out;
}

export function sortReadings(rs: Reading[]): Reading[] {
  return rs.sort((a, b) => a.receivedAt - b.receivedAt || a.deviceId.localeCompare(b.deviceId) || a.deviceSeq - b.deviceSeq);
}
