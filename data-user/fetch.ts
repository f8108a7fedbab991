/**
 * `mcps data fetch`, as a function: find the user's grant, get the patient's day tags from the
 * owner's key service, query a chain node (handshake, access recorded on chain), check the answer
 * against the chain (verify-range.ts), get exactly the delivered slices' keys released, decrypt,
 * check every slice, and return a bundle (bundle.ts) with its report. Nothing is returned as
 * verified unless every check passed; the caller writes a file only then (or with --allow-gaps).
 */
import { randomBytes } from 'node:crypto';
import { ethers } from 'ethers';
import type { Deployment } from '../contracts/deploy';
import { RegistryClient } from '../contracts/clients';
import type { ChainRegistry } from '../contracts/chain-registry';
import { decodeDirectory, type Directory, type SliceEntry } from '../protocol/batch';
import { sha256 } from '../protocol/hash';
import type { PairingBackend } from '../protocol/handshake';
import type { Reading } from '../protocol/reading';
import type { SliceKeyRequest } from '../protocol/sharing/key-messages';
import { dayOf, tagsHash } from '../protocol/sharing/tags';
import { BUNDLE_FORMAT, bundleSlice, encodeBundleBatch, sortReadings, type BundleSlice, type ShareBundle, type ShareReport } from './bundle';
import type { ChainView } from './chain-view';
import { DataNodeClient } from './node-client';
import { KeyRefused, OwnerClient } from './owner-client';
import { checkRange } from './verify-range';
import type { QueryAnswer } from './node-client';
import { SlicePool } from './slice-pool';
import type { SliceResult } from './slice-open';

export interface FetchInput {
  readonly user: { readonly id: string; readonly blsSecretKey: Uint8Array; readonly encryptionSecretKey: Uint8Array };
  readonly node: { readonly id: string; readonly url: string };
  readonly owner: { readonly url: string; readonly hospital: string };
  readonly deployment: Deployment;
  readonly provider: ethers.Provider;
  readonly chain: ChainView;
  readonly registry: ChainRegistry;
  readonly pairing: PairingBackend;
  readonly patient: string;
  readonly from: number;
  readonly to: number;
  readonly grantId?: number;
  /** A CA to trust for https:// chain node and key service (`--ca`, or the local stack's <data>/tls/ca.pem). */
  readonly ca?: Buffer;
  readonly onProgress?: (stage: string, done: number, total: number) => void;
}

export interface FetchResult {
  readonly bundle: ShareBundle;
  readonly bytesReceived: number;
  /** The plaintext replies of the node, as received (tests check what reached the user). */
  readonly rawReplies: Uint8Array[];
}

/**
 * The grants of `user` at `hospital` whose range covers [from, to], newest first: the active ones,
 * then the revoked ones (the patient is checked by the owner's key service, which alone can link a
 * grant to a patient). The revoked ones are asked only when no active one is the patient's, so that
 * a user whose grant was revoked is told so, not that none exists.
 */
async function candidateGrants(chain: ChainView, deployBlock: number, user: string, hospital: string, from: number, to: number): Promise<{ active: number[]; revoked: number[] }> {
  const covering = (await chain.accessLog.grantEvents(deployBlock)).filter((g) => g.user === user && g.hospital === hospital && g.fromTime <= from && g.toTime >= to).reverse();
  return { active: covering.filter((g) => !g.revokedIn).map((g) => g.grantId), revoked: covering.filter((g) => g.revokedIn).map((g) => g.grantId) };
}

function keyRequest(gatewayId: string, seq: number, d: Directory, e: SliceEntry): SliceKeyRequest {
  return { gatewayId, seq, epochId: d.epochId, wrappedEpochKey: Buffer.from(d.wrappedEpochKey).toString('hex'), tag: Buffer.from(e.tag).toString('hex'), day: e.day, count: e.count, first: e.firstReceivedAt, last: e.lastReceivedAt };
}

/** A slice opened before the chain checks ended: which directory bytes and ciphertext it came from. */
interface Early {
  readonly directory: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly result: SliceResult;
}

/**
 * The patient's slices as the delivered directories name them (tag of a day of the range, span
 * meeting the range, ciphertext delivered): their keys released and the slices opened, keyed by
 * "gateway#seq#index". Nothing here is trusted yet; fetchShare uses a result only for a slice the
 * chain checks expect, from the same bytes.
 */
async function openEarly(i: FetchInput, owner: OwnerClient, pool: SlicePool, grantId: number, accessTx: string, gateways: readonly QueryAnswer['gateways'][number][], patientTags: ReadonlyMap<number, string>, released: () => void): Promise<Map<string, Early>> {
  const cands: Array<{ key: string; gatewayId: string; seq: number; dirBytes: Uint8Array; directory: Directory; entry: SliceEntry; ciphertext: Uint8Array }> = [];
  for (const g of gateways) {
    for (const b of g.batches) {
      if (b.slices.length === 0) continue;
      let directory: Directory;
      try {
        directory = decodeDirectory(b.directory);
      } catch {
        continue;
      }
      for (const s of b.slices) {
        const entry = directory.slices[s.index];
        if (!entry || entry.lastReceivedAt < i.from || entry.firstReceivedAt > i.to || dayOf(entry.firstReceivedAt) !== entry.day) continue;
        if (patientTags.get(entry.day) !== Buffer.from(entry.tag).toString('hex')) continue;
        if (s.ciphertext.length !== entry.ciphertextLength) continue;
        cands.push({ key: `${g.gatewayId}#${b.seq}#${s.index}`, gatewayId: g.gatewayId, seq: b.seq, dirBytes: b.directory, directory, entry, ciphertext: s.ciphertext });
      }
    }
  }
  const out = new Map<string, Early>();
  if (cands.length === 0) return out;
  const keys = await owner.keys(grantId, i.patient, accessTx, cands.map((c) => keyRequest(c.gatewayId, c.seq, c.directory, c.entry))).finally(released);
  const results = await pool.open(cands.map((c, j) => ({ id: j, key: keys[j]!, gatewayId: c.gatewayId, seq: c.seq, entry: c.entry, directoryVersion: c.directory.version, ciphertext: c.ciphertext })));
  cands.forEach((c, j) => out.set(c.key, { directory: c.dirBytes, ciphertext: c.ciphertext, result: results[j]! }));
  return out;
}

export async function fetchShare(i: FetchInput): Promise<FetchResult> {
  const pool = new SlicePool();
  try {
    return await fetchWith(i, pool);
  } finally {
    await pool.close();
  }
}

async function fetchWith(i: FetchInput, pool: SlicePool): Promise<FetchResult> {
  // What step 4 reads of the chain (gateways, keys, anchors), read while the tags and the node's
  // answer are on their way; the check drops it if the registry or anchors changed since.
  i.chain.prefetch?.(i.owner.hospital);
  const ownerKey = await new RegistryClient(i.provider, i.deployment.registry).ownerKey(i.owner.hospital);
  if (!ownerKey) throw new Error(`hospital ${i.owner.hospital} has published no owner key in the registry`);
  const owner = new OwnerClient({ url: i.owner.url, hospital: i.owner.hospital, ownerPublicKey: ownerKey, userId: i.user.id, blsSecretKey: i.user.blsSecretKey, encryptionSecretKey: i.user.encryptionSecretKey, ...(i.ca ? { ca: i.ca } : {}) });
  // 1. The grant and the patient's day tags.
  const found = i.grantId !== undefined ? { active: [i.grantId], revoked: [] } : await candidateGrants(i.chain, i.deployment.deployBlock, i.user.id, i.owner.hospital, i.from, i.to);
  const noGrant = new KeyRefused('no-grant', 403, `no grant on chain lets ${i.user.id} read ${i.owner.hospital}'s data over ${new Date(i.from).toISOString()} .. ${new Date(i.to).toISOString()} (ask the hospital: mcps data grant)`);
  let grantId = -1;
  let tags: { firstDay: number; tags: string[] } | null = null;
  // When no grant gives tags, the refusal reported is the first about this patient (expired,
  // revoked, ...); else "not this patient" when an active grant is another patient's; else "no grant"
  // (every covering grant was revoked and none was this patient's). Revoked grants are asked only
  // when no active one answered about this patient.
  let refusal: KeyRefused | null = null;
  let otherPatient: KeyRefused | null = null;
  for (const g of [...found.active, ...found.revoked]) {
    if (tags || (refusal && !found.active.includes(g))) break;
    try {
      tags = await owner.tags(g, i.patient);
      grantId = g;
    } catch (err) {
      if (!(err instanceof KeyRefused)) throw err;
      if (err.refusal !== 'wrong-patient') refusal ??= err;
      else if (found.active.includes(g)) otherPatient ??= err;
    }
  }
  if (!tags) throw refusal ?? otherPatient ?? noGrant;
  const grant = await i.chain.accessLog.getGrant(grantId);
  const tagBytes = tags.tags.map((t) => Uint8Array.from(Buffer.from(t, 'hex')));
  if (Buffer.from(tagsHash(tags.firstDay, tagBytes)).toString('hex') !== grant.tagsHash.slice(2)) throw new Error(`the key service's tags are not grant ${grantId}'s (their hash differs from the grant's tagsHash on chain)`);
  // 2. The chain node: handshake, access recorded on chain, the answer.
  const node = new DataNodeClient({ url: i.node.url, nodeId: i.node.id, userId: i.user.id, blsSecretKey: i.user.blsSecretKey, registry: i.registry, ...(i.ca ? { ca: i.ca } : {}) });
  // Each page's slices of the patient get their keys and are opened as the page arrives (step 3 below).
  const patientTags = new Map(tags.tags.map((t, k) => [tags!.firstDay + k, t]));
  const earlyParts: Array<Promise<Map<string, Early>>> = [];
  // When each page's key request has been answered (or failed, or there was none to make).
  const releasedParts: Array<Promise<void>> = [];
  const answer = await node.query({ grantId, firstDay: tags.firstDay, tags: tags.tags, from: i.from, to: i.to }, (d, n) => i.onProgress?.('fetch', d, n), (page) => {
    let released = (): void => undefined;
    releasedParts.push(new Promise<void>((r) => (released = r)));
    earlyParts.push(openEarly(i, owner, pool, grantId, page.access.txHash, page.gateways, patientTags, released).catch(() => new Map<string, Early>()).finally(released));
  });
  // 3. Against the chain, and meanwhile the patient's slices as the directories name them: their
  // keys released under the recorded access and the slices opened on the pool's threads, page by
  // page as the pages arrived. Only what the chain checks then confirm is used (the same directory
  // bytes and ciphertext as a checked batch's expected slice); anything else, or a failed release,
  // goes the plain way below.
  const early = Promise.all(earlyParts).then((maps) => new Map(maps.flatMap((m) => [...m])));
  // The signature checks (the long part of it, on this thread) begin once the keys are released:
  // the slice workers wait for the keys, and the key service's answer, its chain reads and (in one
  // process) its own work would otherwise only move between the parts of the signature checks.
  const range = await checkRange({ hospital: i.owner.hospital, from: i.from, to: i.to, asOfBlock: answer.access.blockNumber, patientTags, gateways: answer.gateways, beforeSignatures: Promise.all(releasedParts) }, i.chain, i.pairing, (n) => new Uint8Array(randomBytes(n)));
  const gaps = [...range.gaps];
  const problems = [...range.problems];
  let foreign = 0;
  // 4. The slices: exactly the expected ones, each delivered and intact.
  const expectedKeys = new Set(range.expected.map((e) => `${e.batch.gatewayId}#${e.batch.header.seq}#${e.index}`));
  for (const g of answer.gateways) for (const b of g.batches) for (const s of b.slices) if (!expectedKeys.has(`${g.gatewayId}#${b.seq}#${s.index}`) && !range.later.has(`${g.gatewayId}#${b.seq}`)) foreign++;
  if (foreign > 0) problems.push(`${foreign} slices delivered that are not the patient's in the range (not opened)`);
  // The chain checks are done: this thread helps open what the workers have not taken yet.
  await pool.assist();
  const opened0 = await early;
  const results = new Array<SliceResult | undefined>(range.expected.length);
  const rest: Array<{ k: number; e: (typeof range.expected)[number]; ct: Uint8Array }> = [];
  range.expected.forEach((e, k) => {
    const served = e.batch.delivered.slices.find((s) => s.index === e.index);
    if (!served) return;
    const pre = opened0.get(`${e.batch.gatewayId}#${e.batch.header.seq}#${e.index}`);
    if (pre && pre.directory === e.batch.delivered.directory && pre.ciphertext === served.ciphertext) results[k] = pre.result;
    else rest.push({ k, e, ct: served.ciphertext });
  });
  // 5. Key release for exactly the slices not yet opened, under the recorded access; decrypt and check.
  const restOk = rest.filter(({ e, ct }) => ct.length === e.entry.ciphertextLength && Buffer.from(sha256(ct)).equals(Buffer.from(e.entry.ciphertextHash)));
  const reqs: SliceKeyRequest[] = restOk.map(({ e }) => keyRequest(e.batch.gatewayId, e.batch.header.seq, e.batch.directory, e.entry));
  i.onProgress?.('keys', 0, range.expected.length);
  const keys = reqs.length > 0 ? await owner.keys(grantId, i.patient, answer.access.txHash, reqs) : [];
  const late = await pool.open(
    restOk.map(({ e, ct }, j) => ({ id: j, key: keys[j]!, gatewayId: e.batch.gatewayId, seq: e.batch.header.seq, entry: e.entry, directoryVersion: e.batch.directory.version, ciphertext: ct })),
    (d) => i.onProgress?.('decrypt', range.expected.length - restOk.length + d, range.expected.length),
  );
  restOk.forEach(({ k }, j) => (results[k] = late[j]));
  // "gateway#seq" → the batch's opened slices
  const opened = new Map<string, BundleSlice[]>();
  const readings: Reading[] = [];
  range.expected.forEach((e, k) => {
    const where = `gateway ${e.batch.gatewayId} batch ${e.batch.header.seq} slice ${e.index}`;
    if (!e.batch.delivered.slices.some((s) => s.index === e.index)) {
      gaps.push(`${where}: the patient's slice (${e.entry.count} readings) was not delivered`);
      return;
    }
    const s = results[k];
    if (!s || (!s.ok && s.altered)) {
      problems.push(`${where}: the ciphertext does not hash to its directory entry (slice altered)`);
      return;
    }
    try {
      if (!s.ok) throw new Error(s.error);
      const other = s.readings.filter((r) => r.patient !== i.patient).length;
      if (other > 0) {
        foreign += other;
        throw new Error(`${other} readings of another patient`);
      }
      if (dayOf(e.entry.firstReceivedAt) !== e.entry.day) throw new Error('slice day mismatch');
      const bk = `${e.batch.gatewayId}#${e.batch.header.seq}`;
      let list = opened.get(bk);
      if (!list) opened.set(bk, (list = []));
      list.push(bundleSlice(e.index, s.saltKey, s.readings, (j) => s.leaves.subarray(32 * j, 32 * j + 32), i.from, i.to));
      for (const r of s.readings) if (r.receivedAt >= i.from && r.receivedAt <= i.to) readings.push(r);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  });
  i.onProgress?.('decrypt', range.expected.length, range.expected.length);
  const report: ShareReport = { verified: gaps.length === 0 && problems.length === 0, readings: readings.length, batches: range.batches.length, slices: [...opened.values()].reduce((n, l) => n + l.length, 0), foreign, gaps, problems };
  const gateways = answer.gateways.map((g) => ({
    gatewayId: g.gatewayId,
    lo: g.lo,
    hi: range.effectiveHi.get(g.gatewayId) ?? g.hi,
    batches: g.batches.filter((b) => !range.later.has(`${g.gatewayId}#${b.seq}`)).map((b) => encodeBundleBatch(b, b.anchor?.txHash ?? null, opened.get(`${g.gatewayId}#${b.seq}`) ?? [])),
  }));
  const net = await i.provider.getNetwork();
  const bundle: ShareBundle = {
    format: BUNDLE_FORMAT,
    user: i.user.id,
    hospital: i.owner.hospital,
    patient: i.patient,
    grantId,
    from: i.from,
    to: i.to,
    access: { txHash: answer.access.txHash, blockNumber: answer.access.blockNumber, node: i.node.id },
    chain: { chainId: Number(net.chainId), registry: i.deployment.registry, anchor: i.deployment.anchor, accessLog: i.deployment.accessLog, deployBlock: i.deployment.deployBlock },
    tags,
    readings: sortReadings(readings),
    proof: { gateways },
    report,
  };
  return { bundle, bytesReceived: answer.bytesReceived, rawReplies: answer.rawReplies };
}
