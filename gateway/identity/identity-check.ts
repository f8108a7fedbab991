/**
 * Is this gateway what the registry says it is? The flow's identity (mcps-gateway-identity) against
 * the running gateway, and the gateway's key against its on-chain registry entry: the first thing a
 * field engineer checks when batches are refused. Pure.
 */
import type { RegistryRecord } from '../../protocol/handshake/registry';

export type RegistrationState = 'registered' | 'not-registered' | 'other-key' | 'revoked' | 'not-a-gateway';

export interface IdentityFacts {
  gatewayId: string;
  /** Compressed BLS12-381 G2 public key of the key file on this box. */
  publicKey: Uint8Array;
  registry: string;
}

export function registrationState(rec: RegistryRecord | undefined, self: IdentityFacts): { state: RegistrationState; epoch?: number } {
  if (!rec) return { state: 'not-registered' };
  if (rec.role !== 'gateway') return { state: 'not-a-gateway' };
  if (Buffer.compare(Buffer.from(rec.blsPublicKey), Buffer.from(self.publicKey)) !== 0) return { state: 'other-key', epoch: rec.epoch };
  if (rec.status !== 'active') return { state: 'revoked', epoch: rec.epoch };
  return { state: 'registered', epoch: rec.epoch };
}

/** Differences between what a flow's identity node says and the running gateway; empty when they agree. */
export function identityMismatch(flow: { gatewayId: string; registry: string }, self: IdentityFacts): string[] {
  const out: string[] = [];
  if (flow.gatewayId && flow.gatewayId !== self.gatewayId) out.push(`the flow is for gateway "${flow.gatewayId}", this gateway is "${self.gatewayId}"`);
  if (flow.registry && flow.registry.toLowerCase() !== self.registry.toLowerCase()) out.push(`the flow names registry ${flow.registry}, this gateway uses ${self.registry}`);
  return out;
}

export const shortKey = (k: Uint8Array): string => {
  const h = Buffer.from(k).toString('hex');
  return `${h.slice(0, 8)}…${h.slice(-4)}`;
};
