/**
 * The gateway's long-term identity: a BLS12-381 key pair created on this box (0600 key file) and its
 * proof of possession, which the registrar checks before the public key goes into the registry.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { blsKeygen, blsPopProve, blsPublicKey } from '../../protocol/bls';
import { loadOrCreateKey } from '../../common/key-file';
import { nextKeyPath, promoteNextKey } from '../../common/key-rotation';
import { existsSync } from 'node:fs';

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

/**
 * The gateway's key, promoting a rotated one: when a next key exists (`mcps gateway identity
 * --new-key`) and the registry already lists it (`mcps admin rotate`), it becomes the current key.
 */
export function loadGatewayIdentity(dataDir: string, registeredKey: Uint8Array | null, log?: (msg: string) => void): BlsIdentity & { created: boolean } {
  const path = gatewayKeyPath(dataDir);
  const next = nextKeyPath(path);
  if (registeredKey && existsSync(next)) {
    const n = loadOrCreateBlsIdentity(next, 'mcps/gateway-bls');
    if (Buffer.compare(Buffer.from(n.publicKey), Buffer.from(registeredKey)) === 0) {
      const retired = promoteNextKey(path);
      log?.(`the registry lists the rotated key: ${next} is now the gateway key (the old one is kept as ${retired})`);
    }
  }
  return loadOrCreateBlsIdentity(path, 'mcps/gateway-bls');
}
