/**
 * A party's public identity file: what a box (gateway, chain node) or a data user prints about
 * itself for the admin who registers it (`mcps gateway identity`, `mcps chain-node identity`,
 * `mcps user identity` → `mcps admin gateway|node|user add FILE`). Public values only: the id, the
 * BLS12-381 public key with its proof of possession (checked on chain at registration), for a
 * chain node its EVM operator account and X25519 handshake key, for a data user its X25519
 * encryption key. Nothing in it is secret.
 *
 *   {"format":"mcps-identity/1","role":"gateway","id":"gw-ward1",
 *    "blsPublicKey":"<96 bytes hex>","proofOfPossession":"<48 bytes hex>"}
 */
import { readFileSync } from 'node:fs';
import { ethers } from 'ethers';

export type PartyRole = 'gateway' | 'node' | 'user';
export const IDENTITY_FORMAT = 'mcps-identity/1';
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;

export interface PartyIdentity {
  readonly role: PartyRole;
  readonly id: string;
  readonly blsPublicKey: Uint8Array;
  readonly proofOfPossession: Uint8Array;
  /** Chain nodes: the EVM account that pays for and sends anchor transactions. */
  readonly operator?: string;
  /** Chain nodes: the X25519 key of the handshake. */
  readonly x25519PublicKey?: Uint8Array;
  /** Data users: the X25519 key the hospital's key service wraps released slice keys to. */
  readonly encryptionPublicKey?: Uint8Array;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function identityToJson(i: PartyIdentity): Record<string, string> {
  return {
    format: IDENTITY_FORMAT,
    role: i.role,
    id: i.id,
    blsPublicKey: hex(i.blsPublicKey),
    proofOfPossession: hex(i.proofOfPossession),
    ...(i.operator ? { operator: i.operator } : {}),
    ...(i.x25519PublicKey ? { x25519PublicKey: hex(i.x25519PublicKey) } : {}),
    ...(i.encryptionPublicKey ? { encryptionPublicKey: hex(i.encryptionPublicKey) } : {}),
  };
}

function bytes(o: Record<string, unknown>, field: string, len: number, where: string): Uint8Array {
  const v = o[field];
  if (typeof v !== 'string' || !new RegExp(`^(0x)?[0-9a-fA-F]{${len * 2}}$`).test(v)) throw new Error(`${where}: "${field}" must be ${len} bytes of hex`);
  return Uint8Array.from(Buffer.from(v.replace(/^0x/, ''), 'hex'));
}

/** Parses and checks an identity file's JSON; every error names the file and the field. */
export function parseIdentity(text: string, where: string, expectedRole?: PartyRole): PartyIdentity {
  let o: Record<string, unknown>;
  try {
    const x = JSON.parse(text) as unknown;
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Error('not a JSON object');
    o = x as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${where}: not an identity file (${(err as Error).message})`);
  }
  if (o.format !== IDENTITY_FORMAT) throw new Error(`${where}: "format" must be "${IDENTITY_FORMAT}" (made by mcps gateway|chain-node|user identity)`);
  const role = o.role;
  if (role !== 'gateway' && role !== 'node' && role !== 'user') throw new Error(`${where}: "role" must be gateway, node or user`);
  if (expectedRole && role !== expectedRole) throw new Error(`${where}: this is the identity of a ${role}, not of a ${expectedRole}`);
  if (typeof o.id !== 'string' || !ID.test(o.id)) throw new Error(`${where}: "id" must be 1..31 characters of [A-Za-z0-9._-]`);
  const base = { role, id: o.id, blsPublicKey: bytes(o, 'blsPublicKey', 96, where), proofOfPossession: bytes(o, 'proofOfPossession', 48, where) } as const;
  if (role === 'user') return { ...base, encryptionPublicKey: bytes(o, 'encryptionPublicKey', 32, where) };
  if (role !== 'node') return base;
  if (typeof o.operator !== 'string' || !ethers.isAddress(o.operator)) throw new Error(`${where}: "operator" must be an EVM address`);
  return { ...base, operator: ethers.getAddress(o.operator), x25519PublicKey: bytes(o, 'x25519PublicKey', 32, where) };
}

export function readIdentityFile(path: string, expectedRole?: PartyRole): PartyIdentity {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`identity file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseIdentity(text, `identity file ${path}`, expectedRole);
}
