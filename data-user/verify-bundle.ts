/**
 * `mcps data verify FILE`: re-checks a fetched bundle (bundle.ts) against the chain alone, as a
 * third party would (an auditor needs no key and no chain node): the grant exists and is this
 * user's at this hospital; the bundle's patient tags hash to the grant's tagsHash; the access
 * transaction recorded an access under that grant covering [from, to]; every gateway's run, header,
 * signature, anchor and directory (verify-range.ts); every slice of the patient in the range is in
 * the bundle and its readings hash to its slice root; the listed readings are exactly the slices'
 * readings in the range.
 */
import { randomBytes } from 'node:crypto';
import type { PairingBackend } from '../protocol/handshake';
import { tagsHash } from '../protocol/sharing/tags';
import { encodeReading } from '../protocol/canonical';
import { BUNDLE_FORMAT, checkBundleSlice, decodeBundleGateway, type DecodedBundleBatch, type ShareBundle, type ShareReport } from './bundle';
import type { ChainView } from './chain-view';
import { checkRange } from './verify-range';

export function parseBundle(text: string, where: string): ShareBundle {
  let b: ShareBundle;
  try {
    b = JSON.parse(text) as ShareBundle;
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  if (b?.format !== BUNDLE_FORMAT) throw new Error(`${where}: not a fetched file (format ${JSON.stringify(b?.format)}, expected ${BUNDLE_FORMAT})`);
  for (const k of ['user', 'hospital', 'patient'] as const) if (typeof b[k] !== 'string') throw new Error(`${where}: field "${k}" missing`);
  for (const k of ['grantId', 'from', 'to'] as const) if (!Number.isSafeInteger(b[k])) throw new Error(`${where}: field "${k}" must be an integer`);
  if (!Array.isArray(b.readings) || !Array.isArray(b.proof?.gateways) || !Array.isArray(b.tags?.tags)) throw new Error(`${where}: readings, proof.gateways and tags must be present`);
  return b;
}

export async function verifyBundle(b: ShareBundle, chain: ChainView, pairing: PairingBackend): Promise<ShareReport> {
  const gaps: string[] = [];
  const problems: string[] = [];
  // The grant, the tags and the access, on chain.
  const grant = await chain.accessLog.getGrant(b.grantId).catch(() => null);
  if (!grant) problems.push(`grant ${b.grantId} does not exist on chain`);
  else {
    if (grant.user !== b.user || grant.hospital !== b.hospital) problems.push(`grant ${b.grantId} is ${grant.user}'s at ${grant.hospital}, not ${b.user}'s at ${b.hospital}`);
    if (b.from < grant.fromTime || b.to > grant.toTime) problems.push(`the range lies outside grant ${b.grantId}'s`);
    const tagBytes = b.tags.tags.map((t) => Uint8Array.from(Buffer.from(t, 'hex')));
    if (Buffer.from(tagsHash(b.tags.firstDay, tagBytes)).toString('hex') !== grant.tagsHash.slice(2)) problems.push(`the patient tags in the file are not grant ${b.grantId}'s (their hash is not its tagsHash)`);
  }
  const accesses = await chain.accessLog.accessEvents(b.chain.deployBlock);
  const acc = accesses.find((a) => a.txHash === b.access.txHash && a.grantId === b.grantId && a.recorded);
  if (!acc) problems.push(`transaction ${b.access.txHash} records no access under grant ${b.grantId}`);
  else if (acc.fromTime > b.from || acc.toTime < b.to) problems.push(`the recorded access covers ${acc.fromTime}..${acc.toTime}, not the file's range`);
  // Runs, headers, anchors, signatures, directories.
  const patientTags = new Map(b.tags.tags.map((t, k) => [b.tags.firstDay + k, t]));
  const range = await checkRange<DecodedBundleBatch>({ hospital: b.hospital, from: b.from, to: b.to, asOfBlock: b.access.blockNumber, patientTags, gateways: b.proof.gateways.map(decodeBundleGateway) }, chain, pairing, (n) => new Uint8Array(randomBytes(n)));
  gaps.push(...range.gaps);
  problems.push(...range.problems);
  // Slices and readings.
  const expected = new Set(range.expected.map((e) => `${e.batch.gatewayId}#${e.batch.header.seq}#${e.index}`));
  let foreign = 0;
  for (const g of b.proof.gateways) for (const bt of g.batches) for (const s of bt.slices ?? []) if (!expected.has(`${g.gatewayId}#${bt.seq}#${s.index}`)) foreign++;
  if (foreign > 0) problems.push(`${foreign} slices in the file are not the patient's slices of the range`);
  const found: string[] = [];
  let slices = 0;
  for (const e of range.expected) {
    const where = `gateway ${e.batch.gatewayId} batch ${e.batch.header.seq} slice ${e.index}`;
    const s = (e.batch.delivered.slices ?? []).find((x) => x.index === e.index);
    if (!s) {
      gaps.push(`${where}: the patient's slice (${e.entry.count} readings) is not in the file`);
      continue;
    }
    try {
      for (const r of checkBundleSlice(e, s, b.patient, b.from, b.to)) found.push(Buffer.from(encodeReading(r)).toString('base64'));
      slices++;
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  }
  const listed = b.readings.map((r) => {
    try {
      return Buffer.from(encodeReading(r)).toString('base64');
    } catch {
      return 'malformed';
    }
  });
  const diff = multisetDiff(listed, found);
  if (diff.extra > 0) problems.push(`${diff.extra} readings listed in the file are not in its proven slices (added or altered)`);
  if (diff.missing > 0) gaps.push(`${diff.missing} readings of the proven slices are not listed in the file (removed)`);
  return { verified: gaps.length === 0 && problems.length === 0, readings: b.readings.length, batches: range.batches.length, slices, foreign, gaps, problems };
}

function multisetDiff(a: string[], b: string[]): { extra: number; missing: number } {
  const m = new Map<string, number>();
  for (const x of b) m.set(x, (m.get(x) ?? 0) + 1);
  let extra = 0;
  for (const x of a) {
    const n = m.get(x) ?? 0;
    if (n === 0) extra++;
    else m.set(x, n - 1);
  }
  let missing = 0;
  for (const n of m.values()) missing += n;
  return { extra, missing };
}
