/**
 * The data owner's side of a grant: what goes on chain for "user U may read patient P's readings
 * received in [from, to] until `expiry`". The patient appears only as keyed commitments made with
 * the hospital's patient tag key (protocol/sharing/tags.ts): patientScope(P), the same for all of
 * P's grants, and the hash of P's day tags over the grant's days, which a chain node checks a
 * user's query against. `mcps data grant` and the local stack call this.
 */
import type { AccessLogClient } from '../contracts/clients';
import { patientScope, rangeTags, tagsHash } from '../protocol/sharing/tags';

export interface GrantRequest {
  readonly hospital: string;
  readonly user: string;
  readonly patient: string;
  /** ms since the epoch, inclusive */
  readonly from: number;
  readonly to: number;
  /** s since the epoch (chain time) */
  readonly expiry: number;
}

export interface GrantCommitments {
  readonly patientScope: Uint8Array;
  readonly tagsHash: Uint8Array;
  readonly firstDay: number;
  readonly tags: Uint8Array[];
}

export function grantCommitments(tagKey: Uint8Array, patient: string, from: number, to: number): GrantCommitments {
  const { firstDay, tags } = rangeTags(tagKey, patient, from, to);
  return { patientScope: patientScope(tagKey, patient), tagsHash: tagsHash(firstDay, tags), firstDay, tags };
}

export async function grantAccess(accessLog: Pick<AccessLogClient, 'grant'>, tagKey: Uint8Array, g: GrantRequest): Promise<{ grantId: number; txHash: string; blockNumber: number }> {
  const c = grantCommitments(tagKey, g.patient, g.from, g.to);
  return accessLog.grant({ hospital: g.hospital, user: g.user, patientScope: c.patientScope, tagsHash: c.tagsHash, fromTime: g.from, toTime: g.to, expiry: g.expiry });
}
