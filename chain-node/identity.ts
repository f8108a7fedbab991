/**
 * The chain node's keys, created on its own box (0600 files): a BLS12-381 key that signs receipts,
 * an X25519 key for the handshake, and the EVM operator key that pays for anchor transactions.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { nextKeyPath, promoteNextKey } from '../common/key-rotation';
import { ethers } from 'ethers';
import { x25519 } from '@noble/curves/ed25519.js';
import { loadOrCreateKey } from '../common/key-file';
import { loadOrCreateBlsIdentity, type BlsIdentity } from '../gateway/identity/identity';

export interface ChainNodeIdentity {
  readonly bls: BlsIdentity;
  readonly x25519SecretKey: Uint8Array;
  readonly x25519PublicKey: Uint8Array;
  readonly operator: ethers.Wallet;
  readonly operatorAddress: string;
}

export function nodeKeyPaths(dataDir: string): { bls: string; x25519: string; operator: string } {
  const keys = join(dataDir, 'keys');
  return { bls: join(keys, 'node-bls.key'), x25519: join(keys, 'node-x25519.key'), operator: join(keys, 'node-operator.key') };
}

/**
 * The node's next BLS and X25519 keys for a rotation (`mcps chain-node identity --new-key`), made
 * once and kept until promoted; the operator account stays (the registry ties the node to it).
 */
export function nextChainNodeKeys(dataDir: string): { bls: BlsIdentity; x25519PublicKey: Uint8Array } {
  const p = nodeKeyPaths(dataDir);
  const bls = loadOrCreateBlsIdentity(nextKeyPath(p.bls), 'mcps/node-bls');
  const xsk = loadOrCreateKey(nextKeyPath(p.x25519), 'mcps/node-x25519', () => x25519.utils.randomSecretKey()).key;
  return { bls, x25519PublicKey: x25519.getPublicKey(xsk) };
}

/** Promotes the next keys when the registry already lists them (`mcps admin rotate`); returns whether it did. */
export function promoteRotatedNodeKeys(dataDir: string, registeredBlsKey: Uint8Array): boolean {
  const p = nodeKeyPaths(dataDir);
  if (!existsSync(nextKeyPath(p.bls)) || !existsSync(nextKeyPath(p.x25519))) return false;
  const next = loadOrCreateBlsIdentity(nextKeyPath(p.bls), 'mcps/node-bls');
  if (Buffer.compare(Buffer.from(next.publicKey), Buffer.from(registeredBlsKey)) !== 0) return false;
  promoteNextKey(p.x25519);
  promoteNextKey(p.bls);
  return true;
}

export function loadChainNodeIdentity(dataDir: string): ChainNodeIdentity {
  const paths = nodeKeyPaths(dataDir);
  const bls = loadOrCreateBlsIdentity(paths.bls, 'mcps/node-bls');
  const xsk = loadOrCreateKey(paths.x25519, 'mcps/node-x25519', () => x25519.utils.randomSecretKey()).key;
  const opk = loadOrCreateKey(paths.operator, 'mcps/evm-operator', () => {
    // A secp256k1 scalar must be in [1, n); ethers checks the range and we retry on the rare miss.
    for (;;) {
      const k = randomBytes(32);
      try {
        new ethers.SigningKey(k);
        return new Uint8Array(k);
      } catch {
        continue;
      }
    }
  }).key;
  const operator = new ethers.Wallet(ethers.hexlify(opk));
  return { bls, x25519SecretKey: xsk, x25519PublicKey: x25519.getPublicKey(xsk), operator, operatorAddress: operator.address };
}
