/**
 * The chain node's keys, created on its own box (0600 files): a BLS12-381 key that signs receipts,
 * an X25519 key for the handshake, and the EVM operator key that pays for anchor transactions.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
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

export function loadChainNodeIdentity(dataDir: string): ChainNodeIdentity {
  const keys = join(dataDir, 'keys');
  const bls = loadOrCreateBlsIdentity(join(keys, 'node-bls.key'), 'mcps/node-bls');
  const xsk = loadOrCreateKey(join(keys, 'node-x25519.key'), 'mcps/node-x25519', () => x25519.utils.randomSecretKey()).key;
  const opk = loadOrCreateKey(join(keys, 'node-operator.key'), 'mcps/evm-operator', () => {
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
