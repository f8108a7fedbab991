/**
 * End-to-end verification of a run: is every reading the simulator sent anchored exactly once, and
 * does every stored batch match its on-chain root?
 *
 * For each batch stored at the chain node: the header decodes, its hash equals what the anchor
 * contract holds for (gateway, seq) (and its root, where the chain holds roots; in folded mode the
 * chain holds each group's head only, and the stored headers must link every batch of the group
 * to it and fold to the root the node logged: contracts/deploy.ts resolveAnchors), it names the
 * header anchored before it as previous, the node's receipt proves the batch's place in its anchor
 * transaction's fold (the audit path leads from the header hash to the fold root the contract
 * logged, at the leaf the chain says), the envelope matches the header (directory, slice
 * hashes), the batch's epoch key opens with the owner's key, every slice opens under its derived key,
 * its readings hash to its slice root and carry its patient tag, and the slice roots give the root.
 * Anchored batches with no stored ciphertext, and stored batches with no anchor, are proof failures.
 * Then the readings are matched against the send log on (deviceId, deviceSeq, kind).
 */
import { checkEnvelope, decodeHeader, headerHash, openBatchAsOwner } from '../protocol/batch';
import { verifyFold } from '../protocol/fold';
import type { Reading } from '../protocol/reading';
import type { BatchStore } from '../chain-node/batch-store';
import { EpochKeyOpener, type OwnerKeyPair } from '../gateway/sealing/envelope';

export interface AnchoredBatch {
  readonly gatewayId: string;
  readonly seq: number;
  /** hex, no 0x; null where the chain holds only the header hash (folded mode: the hash commits to the root) */
  readonly root: string | null;
  /** hex, no 0x; null where it could not be shown (folded mode: the headers do not link to the anchored head; see `problem`) */
  readonly headerHash: string | null;
  /** the header hash anchored before this one for the gateway (hex, zeros for seq 1) */
  readonly prevHeaderHash?: string | null;
  readonly problem?: string;
  /** the batch's place in its anchor transaction's fold, as the chain logged it */
  readonly fold?: { readonly root: string; readonly index: number; readonly size: number };
}

export interface SentReading {
  readonly deviceId: string;
  readonly deviceSeq: number;
  readonly kind: string;
  readonly acked: boolean;
  /** The device's clock in the reading, where the format carries one that identifies it (MQTT). */
  readonly deviceTime?: number | null;
  /** Sent invalid on purpose (fault injection): the gateway must refuse it, not anchor it. */
  readonly expectRefused?: boolean;
}

export interface VerifyReport {
  sent: number;
  anchored: number;
  batches: number;
  missing: number;
  duplicates: number;
  proofFailures: number;
  /** Readings anchored that the send log does not list (e.g. from devices outside the simulator). */
  unexpected: number;
  /** Readings sent invalid on purpose and refused by the gateway, as they should be. */
  refusedAsExpected: number;
  problems: string[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
// A device that reboots starts its sequence numbers again: where a reading carries the device's
// clock (MQTT, HL7), the clock is part of its identity, as in the gateway's dedupe key.
const key = (r: { deviceId: string; deviceSeq: number; kind: string; deviceTime?: number | null }): string => `${r.deviceId}\u0000${r.deviceSeq}\u0000${r.kind}\u0000${r.deviceTime ?? ''}`;
const anchoredKey = (r: Reading): string => key({ ...r, deviceTime: r.source === 'serial' ? null : r.deviceTime });

export async function verifyRun(input: { sent: readonly SentReading[]; anchors: readonly AnchoredBatch[]; store: BatchStore; owner: OwnerKeyPair; patientTagKey: Uint8Array }): Promise<VerifyReport> {
  const epochKeys = new EpochKeyOpener(input.owner.privateKey);
  const problems: string[] = [];
  let proofFailures = 0;
  const fail = (msg: string): void => {
    proofFailures++;
    if (problems.length < 50) problems.push(msg);
  };
  const onChain = new Map<string, AnchoredBatch>();
  for (const a of input.anchors) onChain.set(`${a.gatewayId}#${a.seq}`, a);

  const anchoredReadings: Reading[] = [];
  let batches = 0;
  const storedKeys = new Set<string>();
  for (const gw of input.store.gateways()) {
    for (const seq of input.store.sequences(gw)) {
      const id = `${gw}#${seq}`;
      storedKeys.add(id);
      const stored = input.store.get(gw, seq)!;
      const a = onChain.get(id);
      if (!a) {
        fail(`batch ${id} is stored but not anchored on chain`);
        continue;
      }
      try {
        const header = decodeHeader(Uint8Array.from(Buffer.from(stored.submission.header, 'hex')));
        const hh = headerHash(header);
        if (a.problem) throw new Error(a.problem);
        if (hex(hh) !== a.headerHash) throw new Error('header hash differs from the anchored one');
        if (a.root !== null && hex(header.root) !== a.root) throw new Error('root differs from the anchored one');
        if (a.prevHeaderHash !== undefined && a.prevHeaderHash !== null && hex(header.prevHash) !== a.prevHeaderHash) throw new Error(`names previous header ${hex(header.prevHash).slice(0, 16)}…, the chain anchored ${a.prevHeaderHash.slice(0, 16)}… before it`);
        if (a.fold) {
          // The extra step of folded anchoring: the receipt's audit path proves this batch is the
          // leaf the chain says, in the fold whose root the contract logged.
          // (A receipt without one comes from a node that answered a failover for another node's
          // transaction without the other gateways' headers: the links to the anchored head,
          // checked above, prove the batch is anchored all the same.)
          const f = stored.receipt?.receipt.fold;
          if (f) {
            if (f.root !== a.fold.root || f.index !== a.fold.index || f.size !== a.fold.size) throw new Error(`the receipt's fold (leaf ${f.index} of ${f.size}) differs from the chain's (leaf ${a.fold.index} of ${a.fold.size})`);
            if (!verifyFold(hh, f)) throw new Error("the receipt's fold path does not lead from the header hash to the fold root");
          }
        }
        const envelope = Uint8Array.from(Buffer.from(stored.submission.envelope, 'base64'));
        const { directory } = checkEnvelope(header, envelope);
        const epochKey = await epochKeys.open(gw, directory.epochId, directory.wrappedEpochKey).catch((err: unknown) => {
          throw new Error(`the epoch key does not open with the owner's key (${String(err)})`);
        });
        const readings = openBatchAsOwner(header, envelope, epochKey, input.patientTagKey);
        if (readings.length !== header.count) throw new Error(`header count ${header.count}, slices hold ${readings.length}`);
        anchoredReadings.push(...readings);
        batches++;
      } catch (err) {
        fail(`batch ${id}: ${(err as Error).message}`);
      }
    }
  }
  for (const id of onChain.keys()) if (!storedKeys.has(id)) fail(`batch ${id} is anchored on chain but its ciphertext is not stored`);

  const counts = new Map<string, number>();
  for (const r of anchoredReadings) counts.set(anchoredKey(r), (counts.get(anchoredKey(r)) ?? 0) + 1);
  const expected = input.sent.filter((s) => s.acked && !s.expectRefused);
  let refusedAsExpected = 0;
  for (const s of input.sent.filter((x) => x.expectRefused)) {
    if (counts.has(key(s))) {
      proofFailures++;
      if (problems.length < 50) problems.push(`anchored although invalid on purpose: ${s.deviceId} seq ${s.deviceSeq} ${s.kind}`);
    } else refusedAsExpected++;
  }
  const expectedKeys = new Set(expected.map(key));
  let missing = 0;
  for (const s of expected) {
    if (!counts.has(key(s))) {
      missing++;
      if (problems.length < 50) problems.push(`missing: ${s.deviceId} seq ${s.deviceSeq} ${s.kind}${s.deviceTime ? ` at ${new Date(s.deviceTime).toISOString()}` : ''}`);
    }
  }
  let duplicates = 0;
  let unexpected = 0;
  for (const [k, n] of counts) {
    if (n > 1) duplicates += n - 1;
    if (!expectedKeys.has(k)) unexpected++;
  }
  return { sent: expected.length, anchored: anchoredReadings.length, batches, missing, duplicates, proofFailures, unexpected, refusedAsExpected, problems };
}
