/**
 * The data owner's (hospital's) secrets, created on the hospital's own machine (0600 key files):
 *   <ownerDir>/hospital-hpke.key   X25519 key: gateways wrap their epoch keys to its public half,
 *                                  data users seal their key requests to it (docs/sharing.md);
 *   <ownerDir>/patient-tag.key     32 random bytes: the patient tag key the hospital also installs on
 *                                  each of its gateways (docs/protocol.md, "Patient tags").
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { loadOrCreateKey } from '../common/key-file';
import { OWNER_KEY_KIND, PATIENT_TAG_KEY_KIND } from '../common/key-kinds';
import type { X25519KeyPair } from '../common/hpke';

export function ownerKeyPath(ownerDir: string): string {
  return join(ownerDir, 'hospital-hpke.key');
}

export function ownerTagKeyPath(ownerDir: string): string {
  return join(ownerDir, 'patient-tag.key');
}

export function loadOrCreateOwnerKeyPair(ownerDir: string): X25519KeyPair {
  const { key } = loadOrCreateKey(ownerKeyPath(ownerDir), OWNER_KEY_KIND, () => x25519.utils.randomSecretKey());
  return { privateKey: key, publicKey: x25519.getPublicKey(key) };
}

export function loadOrCreateOwnerTagKey(ownerDir: string): Uint8Array {
  return loadOrCreateKey(ownerTagKeyPath(ownerDir), PATIENT_TAG_KEY_KIND, () => new Uint8Array(randomBytes(32))).key;
}
