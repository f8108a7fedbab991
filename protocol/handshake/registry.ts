/**
 * What the handshake needs from the on-chain registry, and the canonical hash of a record that
 * both ends put in the transcript (so both agree on exactly which keys and epoch they used).
 */
import { sha256, utf8 } from '../hash';
import { Writer } from './wire';

export type PartyRole = 'gateway' | 'node' | 'user';

export interface RegistryRecord {
  readonly id: string;
  readonly role: PartyRole;
  readonly epoch: number;
  readonly status: 'active' | 'revoked';
  /** Compressed G2, 96 bytes. */
  readonly blsPublicKey: Uint8Array;
  /** Nodes only: the static X25519 handshake key. */
  readonly x25519PublicKey?: Uint8Array;
}

/** Resolves parties; the chain-backed implementation caches and refreshes (gateway/, chain-node/). */
export interface Registry {
  lookup(id: string): RegistryRecord | undefined;
}

const ROLE_BYTE: Record<PartyRole, number> = { gateway: 1, node: 2, user: 3 };

/** H("mcps-hs-v1/record" ‖ role ‖ id ‖ epoch ‖ status ‖ BLS key ‖ X25519 key or nothing). */
export function recordHash(r: RegistryRecord): Uint8Array {
  const w = new Writer()
    .bytes(utf8('mcps-hs-v1/record'))
    .u8(ROLE_BYTE[r.role])
    .id(r.id)
    .u32(r.epoch)
    .u8(r.status === 'active' ? 1 : 0)
    .bytes(r.blsPublicKey);
  if (r.x25519PublicKey) w.bytes(r.x25519PublicKey);
  return sha256(w.done());
}
