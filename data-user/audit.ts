/**
 * `mcps data audit`: who accessed what, when, under which grant — from the AccessLog's events
 * alone. A patient is found by its scope commitment (the hospital computes it with its tag key), a
 * user by id. Each access names the grant, the node that served it, the range, the block time and
 * the transaction; an access the chain refused (grant revoked or expired when it ran) is listed as
 * refused.
 */
import type { ethers } from 'ethers';
import { AccessLogClient } from '../contracts/clients';
import type { Deployment } from '../contracts/deploy';

export interface AuditGrant {
  readonly grant: number;
  readonly user: string;
  readonly hospital: string;
  readonly from: string;
  readonly to: string;
  readonly expires: string;
  readonly granted_tx: string;
  readonly revoked_tx: string | null;
}

export interface AuditAccess {
  readonly grant: number;
  readonly user: string;
  readonly node: string;
  readonly from: string;
  readonly to: string;
  readonly at: string;
  readonly block: number;
  readonly tx: string;
  readonly recorded: boolean;
}

export interface AuditReport {
  readonly grants: AuditGrant[];
  readonly accesses: AuditAccess[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

export async function audit(provider: ethers.Provider, d: Deployment, f: { scope: string | null; user: string | null }): Promise<AuditReport> {
  const al = new AccessLogClient(provider, d.accessLog);
  const grants = (await al.grantEvents(d.deployBlock)).filter((g) => (f.scope === null || g.patientScope === f.scope) && (f.user === null || g.user === f.user));
  const byId = new Map(grants.map((g) => [g.grantId, g]));
  const events = (await al.accessEvents(d.deployBlock)).filter((a) => byId.has(a.grantId));
  const times = new Map<number, number>();
  for (const e of events) if (!times.has(e.blockNumber)) times.set(e.blockNumber, (await provider.getBlock(e.blockNumber))!.timestamp);
  return {
    grants: grants.map((g) => ({ grant: g.grantId, user: g.user, hospital: g.hospital, from: iso(g.fromTime), to: iso(g.toTime), expires: iso(g.expiry * 1000), granted_tx: g.txHash, revoked_tx: g.revokedIn?.txHash ?? null })),
    accesses: events.map((a) => ({ grant: a.grantId, user: byId.get(a.grantId)!.user, node: a.node, from: iso(a.fromTime), to: iso(a.toTime), at: iso(times.get(a.blockNumber)! * 1000), block: a.blockNumber, tx: a.txHash, recorded: a.recorded })),
  };
}

export function formatAudit(r: AuditReport, patient: string | null, user: string | null): string {
  const who = [patient ? `patient ${patient}` : null, user ? `user ${user}` : null].filter(Boolean).join(', ');
  let s = `grants (${who}): ${r.grants.length}\n`;
  for (const g of r.grants) s += `  grant ${g.grant}: ${g.user} of ${g.hospital}'s data, ${g.from} .. ${g.to}, until ${g.expires}${g.revoked_tx ? ', REVOKED' : ''} (tx ${g.granted_tx})\n`;
  s += `accesses: ${r.accesses.length}\n`;
  for (const a of r.accesses) s += `  ${a.at}  ${a.user} under grant ${a.grant}: ${a.from} .. ${a.to}, served by the node whose operator is ${a.node}${a.recorded ? '' : ' — REFUSED by the chain (grant no longer valid)'} (tx ${a.tx}, block ${a.block})\n`;
  return s;
}
