/**
 * The gateway's long-term identity: a BLS12-381 key pair created on this box (0600 key file) and its
 * proof of possession, which the registrar checks before the public key goes into the registry.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { blsKeygen, blsPopProve, blsPublicKey } from '../../protocol/bls';
import { loadOrCreateKey } from '../../common/key-file';

export interface BlsIdentity {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly proofOfPossession: Uint8Array;
}

export function loadOrCreateBlsIdentity(path: string, kind: string): BlsIdentity & { created: boolean } {
  const { key, created } = loadOrCreateKey(path, kind, () => blsKeygen(randomBytes(48)));
  return { secretKey: key, publicKey: blsPublicKey(key), proofOfPossession: blsPopProve(key), created };
}

export function gatewayKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'gateway-bls.key');
}
