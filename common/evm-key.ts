/**
 * An EVM account's secret key in a key file (0600, common/key-file.ts): what `mcps admin` signs
 * registry transactions with. Made on the admin's machine (`mcps admin key new`) or imported from
 * an existing account (`mcps admin key import`, hex on stdin); never printed, never logged.
 */
import { randomBytes } from 'node:crypto';
import { ethers } from 'ethers';
import { readKeyFile, writeKeyFile } from './key-file';

export const EVM_ACCOUNT_KIND = 'mcps/evm-account';

/** A random valid secp256k1 secret key (a scalar in [1, n): ethers checks, and we retry on the rare miss). */
export function randomEvmKey(): Uint8Array {
  for (;;) {
    const k = randomBytes(32);
    try {
      new ethers.SigningKey(k);
      return new Uint8Array(k);
    } catch {
      continue;
    }
  }
}

export function createEvmKeyFile(path: string, key: Uint8Array = randomEvmKey()): string {
  const w = new ethers.Wallet(ethers.hexlify(key));
  writeKeyFile(path, EVM_ACCOUNT_KIND, key);
  return w.address;
}

/** Parses a hex secret key (with or without 0x, surrounding whitespace ignored). */
export function parseEvmKeyHex(text: string): Uint8Array {
  const t = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(t)) throw new Error('expected a 32-byte secret key as 64 hex digits (optionally 0x-prefixed)');
  const k = Uint8Array.from(Buffer.from(t, 'hex'));
  new ethers.SigningKey(k); // throws on 0 or >= n
  return k;
}

/**
 * The key file's account as a signer. Connected to a provider it is wrapped in a NonceManager:
 * ethers caches eth_getTransactionCount for a moment, so transactions sent back to back (a deploy,
 * a registration and a funding) would otherwise reuse a nonce.
 */
export function loadEvmSigner(path: string, provider: ethers.Provider): ethers.NonceManager {
  return new ethers.NonceManager(loadEvmWallet(path, provider));
}

export function loadEvmWallet(path: string, provider?: ethers.Provider): ethers.Wallet {
  let key: Uint8Array;
  try {
    key = readKeyFile(path, EVM_ACCOUNT_KIND);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`no key file at ${path}: make one with \`mcps admin key new --key ${path}\` (or import an account's key with \`mcps admin key import\`)`);
    throw err;
  }
  return new ethers.Wallet(ethers.hexlify(key), provider ?? null);
}
