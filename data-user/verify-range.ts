/**
 * The data user's checks of what a chain node delivered for [from, to], against the chain alone
 * (docs/sharing.md, "What a data user checks"). Shared by `mcps data fetch` (on the node's answer,
 * before writing anything) and `mcps data verify` (on a fetched file).
 *
 * Per gateway of the grant's hospital (the registry lists them):
 *   - the node covered it (or the gateway has anchored nothing);
 *   - the delivered batches are the contiguous run lo..hi it announced; each header decodes, names
 *     the gateway and sequence, hashes to the header hash the Anchor contract holds for it (folded
 *     mode holds only the head of each group of batches anchored together: the delivered headers
 *     after it, up to the group's last batch, must each name the one before and the last hash to
 *     the anchored head, so the node delivers runs up to the end of a group), names the previous
 *     batch's header hash (the hash chain), and is authenticated as the gateway's: signed by a key
 *     the registry lists for the gateway, or named as previous by an authenticated successor (the
 *     successor's signature covers that hash, so one pairing check of a run's newest header
 *     vouches for the whole run: one check per gateway for a range that links up, instead of one
 *     per batch);
 *   - the run bounds the range: lo is batch 1 or was sealed before `from` (no earlier batch can
 *     hold a reading of the range), and hi's watermark lies after `to` or hi is the head the
 *     gateway's chain had at the block that recorded the access (`asOfBlock`: the node answers
 *     after it, and stores every batch before anchoring it, so it holds every batch anchored by
 *     then; batches anchored later are checked when delivered and anchored, dropped when not yet
 *     anchored: `later`);
 *   - each directory hashes to its header's directory hash and agrees with the header.
 * Then every directory entry with one of the patient's tags for a day of the range, whose span
 * meets the range, is a slice the user must have ("expected"); the callers check each one opens,
 * holds the patient's readings only, and hashes to its slice root.
 */
import { checkDirectoryAgainstHeader, decodeDirectory, decodeHeader, directoryHash, headerHash, type BatchHeader, type Directory, type SliceEntry } from '../protocol/batch';
import { equalBytes } from '../protocol/hash';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { PairingBackend, SignatureVerdict } from '../protocol/handshake';
import { SIG_DST } from '../protocol/bls';
import { dayOf } from '../protocol/sharing/tags';
import type { AnchoredHeader, ChainView } from './chain-view';

export interface DeliveredBatch {
  readonly seq: number;
  /** the encoded header */
  readonly header: Uint8Array;
  /** the gateway's signature over its hash */
  readonly signature: Uint8Array;
  /** the batch directory */
  readonly directory: Uint8Array;
}

export interface DeliveredGateway<B extends DeliveredBatch = DeliveredBatch> {
  readonly gatewayId: string;
  readonly lo: number;
  readonly hi: number;
  readonly batches: readonly B[];
}

export interface CheckedBatch<B extends DeliveredBatch = DeliveredBatch> {
  readonly gatewayId: string;
  readonly delivered: B;
  readonly header: BatchHeader;
  readonly directory: Directory;
  readonly anchor: AnchoredHeader;
}

export interface ExpectedSlice<B extends DeliveredBatch = DeliveredBatch> {
  readonly batch: CheckedBatch<B>;
  readonly index: number;
  readonly entry: SliceEntry;
}

export interface RangeCheck<B extends DeliveredBatch = DeliveredBatch> {
  readonly batches: CheckedBatch<B>[];
  /** "gateway#seq" of delivered batches not anchored yet and after the head at the access: left out. */
  readonly later: Set<string>;
  /** Per gateway, the end of the run once those are left out. */
  readonly effectiveHi: Map<string, number>;
  readonly expected: ExpectedSlice<B>[];
  /** Something the chain says exists in the range and was not delivered. */
  readonly gaps: string[];
  /** Something delivered that is not what the chain or the gateway's signature says. */
  readonly problems: string[];
  /** Header signatures checked with a pairing (run heads, and the headers below a head that failed). */
  readonly signatureChecks: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Signatures per batch verification: each part costs two more pairings (a few ms), and holds the thread for ~0.1 s. */
const SIG_PART = 64;

export async function checkRange<B extends DeliveredBatch>(input: { hospital: string; from: number; to: number; asOfBlock: number; patientTags: ReadonlyMap<number, string>; gateways: readonly DeliveredGateway<B>[]; beforeSignatures?: Promise<unknown> }, chain: ChainView, pairing: PairingBackend, random: (n: number) => Uint8Array): Promise<RangeCheck<B>> {
  const gaps: string[] = [];
  const problems: string[] = [];
  const batches: CheckedBatch<B>[] = [];
  const expected: ExpectedSlice<B>[] = [];
  const later = new Set<string>();
  const effectiveHi = new Map<string, number>();
  let signatureChecks = 0;
  const { from, to } = input;
  const delivered = new Map(input.gateways.map((g) => [g.gatewayId, g]));
  // Reads made ahead (while the node answered) are used only if the registry and anchors are unchanged since.
  await chain.settle?.();
  const registered = await chain.gatewaysOf(input.hospital);
  for (const g of input.gateways) if (!registered.includes(g.gatewayId)) problems.push(`gateway ${g.gatewayId} is not one of ${input.hospital}'s gateways in the registry`);
  for (const gw of registered) {
    const anchored = await chain.anchored(gw);
    // The gateway's head when the access was recorded.
    let head = 0;
    for (const [seq, a] of anchored) if (a.blockNumber <= input.asOfBlock && seq > head) head = seq;
    const d = delivered.get(gw);
    if (!d || d.lo === 0) {
      if (head > 0) gaps.push(`gateway ${gw}: none of its ${head} anchored batches was delivered`);
      continue;
    }
    // Batches after that head which are not anchored yet cannot be checked: left out, not a failure.
    let hi = d.hi;
    while (hi > head && hi >= d.lo && !anchored.has(hi)) {
      later.add(`${gw}#${hi}`);
      hi--;
    }
    effectiveHi.set(gw, hi);
    const list = [...d.batches].filter((b) => !later.has(`${gw}#${b.seq}`)).sort((a, b) => a.seq - b.seq);
    const want = new Set<number>();
    for (let s = d.lo; s <= hi; s++) want.add(s);
    const have = new Set(list.map((b) => b.seq));
    const missing = [...want].filter((s) => !have.has(s));
    if (missing.length > 0) gaps.push(`gateway ${gw}: batches ${compact(missing)} of the announced run ${d.lo}..${hi} were not delivered`);
    for (const b of list) if (!want.has(b.seq)) problems.push(`gateway ${gw}: batch ${b.seq} lies outside the announced run ${d.lo}..${hi}`);
    const keys = await chain.gatewayKeys(gw);
    // Every delivered header that decodes, for linking a batch to its group's anchored head.
    const hashes = new Map<number, { prev: Uint8Array; hh: Uint8Array }>();
    for (const b of list) {
      try {
        const h = decodeHeader(b.header);
        if (h.gatewayId === gw && h.seq === b.seq) hashes.set(b.seq, { prev: h.prevHash, hh: headerHash(h) });
      } catch {
        // reported below, batch by batch
      }
    }
    const checked: Array<CheckedBatch<B>> = [];
    const sigItems: Array<{ i: number; hh: Uint8Array; sig: Uint8Array }> = [];
    for (const b of list) {
      if (!want.has(b.seq)) continue;
      const where = `gateway ${gw} batch ${b.seq}`;
      try {
        const header = decodeHeader(b.header);
        if (header.gatewayId !== gw || header.seq !== b.seq) throw new Error(`the header is ${header.gatewayId}#${header.seq}'s`);
        const hh = headerHash(header);
        const a = anchored.get(b.seq);
        if (!a) throw new Error('not anchored on chain');
        if (a.headerHash !== null && a.headerHash !== hex(hh)) throw new Error('its header hash is not the one anchored on chain (header altered)');
        if (a.headerHash === null) {
          // Folded mode: the chain holds the group's head; the later headers link this one to it.
          let cur = hh;
          for (let s = b.seq + 1; s <= a.lastSeq; s++) {
            const next = hashes.get(s);
            if (!next) throw new Error(`batch ${s}, which links it to the head of the group anchored with it (up to batch ${a.lastSeq}), was not delivered`);
            if (!equalBytes(next.prev, cur)) throw new Error(`batch ${s} does not name it as previous: its header hash is not the one anchored on chain (header altered)`);
            cur = next.hh;
          }
          if (hex(cur) !== a.head) throw new Error(`the headers up to batch ${a.lastSeq} do not end in the head anchored on chain (header altered)`);
        }
        const dirBytes = b.directory;
        if (!equalBytes(directoryHash(dirBytes), header.directoryHash)) throw new Error('its directory does not hash to the header\'s directory hash (directory altered)');
        const directory = decodeDirectory(dirBytes);
        checkDirectoryAgainstHeader(header, directory);
        sigItems.push({ i: checked.length, hh, sig: b.signature });
        checked.push({ gatewayId: gw, delivered: b, header, directory, anchor: a });
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message}`);
      }
    }
    // Signatures and the hash chain. A header whose successor is authenticated and names its hash as
    // previous is authenticated through it (the signature on the successor covers that hash); so in
    // a run that links up, the newest header's signature vouches for all of them, and only run heads
    // (the newest header, and any header after a broken link) need a pairing check of their own. A
    // head whose signature fails is reported, and the headers below it are then checked each by its
    // own signature.
    const n = checked.length;
    // sigItems[k] is checked[k]'s (pushed together above).
    const hashOf = sigItems.map((x) => x.hh);
    // linked[k]: checked[k + 1] is the next batch and names checked[k]'s header hash as previous.
    const linked = checked.map((c, k) => k + 1 < n && checked[k + 1]!.header.seq === c.header.seq + 1 && equalBytes(checked[k + 1]!.header.prevHash, hashOf[k]!));
    for (let k = 0; k + 1 < n; k++) {
      const c = checked[k + 1]!;
      if (c.header.seq === checked[k]!.header.seq + 1 && !linked[k]) problems.push(`gateway ${gw} batch ${c.header.seq}: does not name batch ${checked[k]!.header.seq}'s header hash as previous (broken hash chain)`);
    }
    await input.beforeSignatures;
    const sigOk = new Array<boolean>(n).fill(false);
    const heads = [...Array(n).keys()].filter((k) => !linked[k]);
    const verdicts = await verifyUnder(keys, heads.map((k) => sigItems[k]!), pairing, random);
    heads.forEach((k, j) => (sigOk[k] = verdicts[j]!));
    // Below a failed head: every header of its run, each by its own signature.
    const below: number[] = [];
    for (const h of heads) if (!sigOk[h]) for (let k = h - 1; k >= 0 && linked[k]; k--) below.push(k);
    if (below.length > 0) {
      const v = await verifyUnder(keys, below.map((k) => sigItems[k]!), pairing, random);
      below.forEach((k, j) => (sigOk[k] = v[j]!));
    }
    signatureChecks += heads.length + below.length;
    const authentic = new Array<boolean>(n).fill(false);
    for (let k = n - 1; k >= 0; k--) authentic[k] = sigOk[k]! || (linked[k]! && authentic[k + 1]!);
    const good: Array<CheckedBatch<B>> = [];
    checked.forEach((c, k) => {
      if (authentic[k]) good.push(c);
      else problems.push(`gateway ${gw} batch ${c.header.seq}: the header is not signed by a key the registry lists for ${gw}`);
    });
    // Bounds of the run.
    const first = good.find((c) => c.header.seq === d.lo);
    const last = good.find((c) => c.header.seq === hi);
    if (first && first.header.seq !== 1 && !(first.header.sealedAt < from)) gaps.push(`gateway ${gw}: the run starts at batch ${d.lo}, sealed at ${iso(first.header.sealedAt)}, not before the range: earlier batches may hold readings of the range`);
    if (last && !(last.header.watermark > to) && hi < head) gaps.push(`gateway ${gw}: batches ${hi + 1}..${head} were anchored when the access was recorded and may hold readings of the range (batch ${hi}'s watermark ${iso(last.header.watermark)} is not after the range) but were not delivered`);
    for (const c of good) {
      batches.push(c);
      c.directory.slices.forEach((entry, index) => {
        if (entry.lastReceivedAt < from || entry.firstReceivedAt > to) return;
        const tag = input.patientTags.get(entry.day);
        if (tag === undefined || tag !== hex(entry.tag)) return;
        if (dayOf(entry.firstReceivedAt) !== entry.day) return;
        expected.push({ batch: c, index, entry });
      });
    }
  }
  return { batches, later, effectiveHi, expected, gaps, problems, signatureChecks };
}

/**
 * Whether each header hash is signed by one of the gateway's keys: all under its current key
 * together, those that fail then under each earlier key (a rotation); in parts of SIG_PART, yielding
 * between them, so the thread stays free for its other work meanwhile.
 */
async function verifyUnder(keys: readonly Uint8Array[], items: ReadonlyArray<{ hh: Uint8Array; sig: Uint8Array }>, pairing: PairingBackend, random: (n: number) => Uint8Array): Promise<boolean[]> {
  const ok = new Array<boolean>(items.length).fill(false);
  let pending = items.map((it, i) => ({ ...it, i }));
  for (const key of [...keys].reverse()) {
    if (pending.length === 0) break;
    const verdicts: SignatureVerdict[] = [];
    for (let k = 0; k < pending.length; k += SIG_PART) {
      if (k > 0) await yieldToLoop();
      verdicts.push(...pairing.verifyBatch(pending.slice(k, k + SIG_PART).map((p) => ({ publicKey: key, message: p.hh, signature: p.sig, dst: SIG_DST })), random));
    }
    pending = pending.filter((p, j) => {
      if (verdicts[j] === 'ok') ok[p.i] = true;
      return verdicts[j] !== 'ok';
    });
  }
  return ok;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** "3, 5..9, 12" */
export function compact(ns: number[]): string {
  const s = [...ns].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(i === j ? String(s[i]) : `${s[i]}..${s[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}
