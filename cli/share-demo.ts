/**
 * The local stack's sharing exercise, run by `mcps up` before it stops (the summary's `share`
 * object) through exactly the code a newcomer runs from a second terminal (README, "Sharing data"):
 * user-1 asks for a patient's readings without a grant and is refused (by the key service and by
 * the chain node); the hospital grants user-1 that patient over the run; user-1 fetches, verifies
 * and decrypts; the fetched file is verified again against the chain alone; the accesses are
 * counted on chain. `expected` comes from the simulator's send log, not from anything fetched.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { loadEvmSigner } from '../common/evm-key';
import { ChainRegistry } from '../contracts/chain-registry';
import { AccessLogClient, RegistryClient } from '../contracts/clients';
import type { Deployment } from '../contracts/deploy';
import { chainView } from '../data-user/chain-view';
import { fetchShare } from '../data-user/fetch';
import { loadUserKeys } from '../data-user/keys';
import { AccessRefused, DataNodeClient } from '../data-user/node-client';
import { KeyRefused } from '../data-user/owner-client';
import { verifyBundle } from '../data-user/verify-bundle';
import { readSendLog } from '../device-sim/send-log';
import { mclPairing } from '../common/mcl-pairing';
import { noblePairing } from '../protocol/handshake';
import { grantAccess } from '../owner/grants';

export interface ShareSummary {
  readonly patient: string;
  readonly from: string;
  readonly to: string;
  readonly expected: number;
  readonly fetched: number;
  readonly verified: boolean;
  readonly foreign: number;
  readonly refused_without_grant: boolean;
  readonly accesses_on_chain: number;
  readonly grant: number;
  readonly access_tx: string;
}

export interface ShareDemoInput {
  readonly data: string;
  readonly rpcUrl: string;
  readonly deployment: Deployment;
  readonly hospital: string;
  readonly node: { readonly id: string; readonly url: string };
  readonly ownerServiceUrl: string;
  readonly userId: string;
  readonly patientTagKey: Uint8Array;
  readonly sendLogPath: string;
  /** Readings received from here on belong to this run (ms). */
  readonly from: number;
  /** With `mcps up --tls`: the stack's CA, trusted for the node and the key service. */
  readonly ca?: Buffer;
}

export async function shareDemo(i: ShareDemoInput): Promise<ShareSummary> {
  const provider = new ethers.JsonRpcProvider(i.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 200 });
  try {
    // The patient with the most readings of the run, and what the simulator says it sent for them.
    const log = readSendLog(i.sendLogPath).filter((e) => e.acked && e.expect !== 'refused');
    const perPatient = new Map<string, number>();
    for (const e of log) perPatient.set(e.patient, (perPatient.get(e.patient) ?? 0) + 1);
    const patient = [...perPatient.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
    if (!patient) throw new Error('the simulator sent no readings');
    const expected = perPatient.get(patient)!;
    const to = Date.now();
    const user = loadUserKeys(join(i.data, 'users', i.userId), i.userId);
    const chain = chainView(provider, i.deployment);
    const registry = new ChainRegistry(new RegistryClient(provider, i.deployment.registry));
    const pairing = await mclPairing().catch(() => noblePairing);
    const input = { user, node: i.node, owner: { url: i.ownerServiceUrl, hospital: i.hospital }, deployment: i.deployment, provider, chain, registry, pairing, patient, from: i.from, to, ...(i.ca ? { ca: i.ca } : {}) };
    // Without a grant: refused by the key service (no grant of user-1 on chain) and by the node.
    const keyRefused = await fetchShare(input).then(() => false, (e: unknown) => e instanceof KeyRefused && e.refusal === 'no-grant');
    const al = new AccessLogClient(provider, i.deployment.accessLog);
    const node = new DataNodeClient({ url: i.node.url, nodeId: i.node.id, userId: i.userId, blsSecretKey: user.blsSecretKey, registry, ...(i.ca ? { ca: i.ca } : {}) });
    const noGrant = await al.grantCount();
    const nodeRefused = await node.query({ grantId: noGrant, firstDay: Math.floor(i.from / 86_400_000), tags: [randomBytes(32).toString('hex')], from: i.from, to }).then(() => false, (e: unknown) => e instanceof AccessRefused && e.refusal === 'no-grant');
    // The hospital grants; the user fetches, verifies, decrypts; the file re-verifies.
    const hospitalAdmin = loadEvmSigner(join(i.data, 'run', 'hospital-admin.key'), provider);
    const now = (await provider.getBlock('latest'))!.timestamp;
    const g = await grantAccess(new AccessLogClient(hospitalAdmin, i.deployment.accessLog), i.patientTagKey, { hospital: i.hospital, user: i.userId, patient, from: i.from, to, expiry: now + 3600 });
    const r = await fetchShare({ ...input, grantId: g.grantId });
    const again = await verifyBundle(JSON.parse(JSON.stringify(r.bundle)) as typeof r.bundle, chainView(provider, i.deployment), pairing);
    const accesses = (await al.accessEvents(i.deployment.deployBlock)).filter((a) => a.grantId === g.grantId && a.recorded).length;
    return {
      patient,
      from: new Date(i.from).toISOString(),
      to: new Date(to).toISOString(),
      expected,
      fetched: r.bundle.readings.length,
      verified: r.bundle.report.verified && again.verified,
      foreign: r.bundle.report.foreign,
      refused_without_grant: keyRefused && nodeRefused,
      accesses_on_chain: accesses,
      grant: g.grantId,
      access_tx: r.bundle.access.txHash,
    };
  } finally {
    provider.destroy();
  }
}
