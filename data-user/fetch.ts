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
import { openAndCheckSlice } from '../protocol/batch';
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

export async function fetchShare(i: FetchInput): Promise<FetchResult> {
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
  const answer = await node.query({ grantId, firstDay: tags.firstDay, tags: tags.tags, from: i.from, to: i.to }, (d, n) => i.onProgress?.('fetch', d, n));
  // 3. Against the chain.
  const patientTags = new Map(tags.tags.map((t, k) => [tags!.firstDay + k, t]));
  const range = await checkRange({ hospital: i.owner.hospital, from: i.from, to: i.to, asOfBlock: answer.access.blockNumber, patientTags, gateways: answer.gateways }, i.chain, i.pairing, (n) => new Uint8Array(randomBytes(n)));
  const gaps = [...range.gaps];
  const problems = [...range.problems];
  let foreign = 0;
  // 4. The slices: exactly the expected ones, each delivered and intact.
  const expectedKeys = new Set(range.expected.map((e) => `${e.batch.gatewayId}#${e.batch.header.seq}#${e.index}`));
  for (const g of answer.gateways) for (const b of g.batches) for (const s of b.slices) if (!expectedKeys.has(`${g.gatewayId}#${b.seq}#${s.index}`) && !range.later.has(`${g.gatewayId}#${b.seq}`)) foreign++;
  if (foreign > 0) problems.push(`${foreign} slices delivered that are not the patient's in the range (not opened)`);
  const toOpen: Array<{ e: (typeof range.expected)[number]; ct: Uint8Array }> = [];
  for (const e of range.expected) {
    const served = e.batch.delivered.slices.find((s) => s.index === e.index);
    const where = `gateway ${e.batch.gatewayId} batch ${e.batch.header.seq} slice ${e.index}`;
    if (!served) {
      gaps.push(`${where}: the patient's slice (${e.entry.count} readings) was not delivered`);
      continue;
    }
    const ct = served.ciphertext;
    if (ct.length !== e.entry.ciphertextLength || !Buffer.from(sha256(ct)).equals(Buffer.from(e.entry.ciphertextHash))) {
      problems.push(`${where}: the ciphertext does not hash to its directory entry (slice altered)`);
      continue;
    }
    toOpen.push({ e, ct });
  }
  // 5. Key release for exactly those slices, under the recorded access; decrypt and check.
  const reqs: SliceKeyRequest[] = toOpen.map(({ e }) => ({ gatewayId: e.batch.gatewayId, seq: e.batch.header.seq, epochId: e.batch.directory.epochId, wrappedEpochKey: Buffer.from(e.batch.directory.wrappedEpochKey).toString('hex'), tag: Buffer.from(e.entry.tag).toString('hex'), day: e.entry.day, count: e.entry.count, first: e.entry.firstReceivedAt, last: e.entry.lastReceivedAt }));
  i.onProgress?.('keys', 0, reqs.length);
  const keys = reqs.length > 0 ? await owner.keys(grantId, i.patient, answer.access.txHash, reqs) : [];
  // "gateway#seq" → the batch's opened slices
  const opened = new Map<string, BundleSlice[]>();
  const readings: Reading[] = [];
  toOpen.forEach(({ e, ct }, k) => {
    const where = `gateway ${e.batch.gatewayId} batch ${e.batch.header.seq} slice ${e.index}`;
    try {
      const s = openAndCheckSlice(keys[k]!, e.batch.gatewayId, e.batch.header.seq, e.entry, ct);
      const other = s.readings.filter((r) => r.patient !== i.patient).length;
      if (other > 0) {
        foreign += other;
        throw new Error(`${other} readings of another patient`);
      }
      if (dayOf(e.entry.firstReceivedAt) !== e.entry.day) throw new Error('slice day mismatch');
      const bk = `${e.batch.gatewayId}#${e.batch.header.seq}`;
      let list = opened.get(bk);
      if (!list) opened.set(bk, (list = []));
      list.push(bundleSlice(e.index, s.saltKey, s.readings, s.leaves, i.from, i.to));
      for (const r of s.readings) if (r.receivedAt >= i.from && r.receivedAt <= i.to) readings.push(r);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
    if (k % 256 === 0) i.onProgress?.('decrypt', k, toOpen.length);
  });
  i.onProgress?.('decrypt', toOpen.length, toOpen.length);
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
