/**
 * Keys at rest. A key file's secret can be kept three ways (docs/operations.md, "Keys at rest"):
 *   plain        {kind, createdAt, key: hex}, mode 0600 (the default);
 *   passphrase   {kind, createdAt, encrypted: {...}}: the key sealed with AES-256-GCM under a key
 *                derived from a passphrase with scrypt (node:crypto only), the kind as associated
 *                data, so a file cannot be passed off as another kind of key;
 *   systemd      the key file is taken from $CREDENTIALS_DIRECTORY/<file name> (LoadCredential= or
 *                LoadCredentialEncrypted=), where systemd puts it for this service only.
 * The passphrase comes from $CREDENTIALS_DIRECTORY/mcps-key-passphrase, a file named by
 * MCPS_KEY_PASSPHRASE_FILE, or MCPS_KEY_PASSPHRASE; never from a command line (ps shows those).
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** scrypt cost: 2^16 × 8 × 128 bytes = 64 MiB and about a second on a Raspberry Pi 4, once per key file at start. */
export const SCRYPT_PARAMS = { N: 65536, r: 8, p: 1 } as const;
const MAXMEM = 160 * 1024 * 1024;

export interface EncryptedKey {
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  cipher: 'aes-256-gcm';
  iv: string;
  tag: string;
  data: string;
}

export class WrongPassphraseError extends Error {
  constructor(path: string) {
    super(`key file ${path}: the passphrase does not open it (or the file was altered)`);
    this.name = 'WrongPassphraseError';
  }
}

function derive(passphrase: string, salt: Buffer, p: { N: number; r: number; p: number }): Buffer {
  return scryptSync(passphrase.normalize('NFKC'), salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: MAXMEM });
}

export function encryptKey(key: Uint8Array, kind: string, passphrase: string): EncryptedKey {
  if (passphrase.length < 8) throw new RangeError('a key passphrase needs at least 8 characters');
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', derive(passphrase, salt, SCRYPT_PARAMS), iv);
  c.setAAD(Buffer.from(`mcps-key-file/1\n${kind}`));
  const data = Buffer.concat([c.update(key), c.final()]);
  return { kdf: 'scrypt', ...SCRYPT_PARAMS, salt: salt.toString('hex'), cipher: 'aes-256-gcm', iv: iv.toString('hex'), tag: c.getAuthTag().toString('hex'), data: data.toString('hex') };
}

export function decryptKey(e: EncryptedKey, kind: string, passphrase: string, path: string): Uint8Array {
  if (e.kdf !== 'scrypt' || e.cipher !== 'aes-256-gcm' || ![e.salt, e.iv, e.tag, e.data].every((h) => typeof h === 'string' && /^([0-9a-f]{2})+$/.test(h))) throw new Error(`key file ${path}: unknown encryption (expected scrypt + aes-256-gcm)`);
  if (!(e.N >= 16384 && e.N <= 1048576 && e.r >= 1 && e.r <= 32 && e.p >= 1 && e.p <= 16)) throw new Error(`key file ${path}: scrypt parameters out of range`);
  const d = createDecipheriv('aes-256-gcm', derive(passphrase, Buffer.from(e.salt, 'hex'), e), Buffer.from(e.iv, 'hex'));
  d.setAAD(Buffer.from(`mcps-key-file/1\n${kind}`));
  d.setAuthTag(Buffer.from(e.tag, 'hex'));
  try {
    return new Uint8Array(Buffer.concat([d.update(Buffer.from(e.data, 'hex')), d.final()]));
  } catch {
    throw new WrongPassphraseError(path);
  }
}

/** The passphrase for key files, from the places this process was given; undefined when none. */
export function keyPassphrase(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const cred = env.CREDENTIALS_DIRECTORY ? join(env.CREDENTIALS_DIRECTORY, 'mcps-key-passphrase') : null;
  const file = cred && existsSync(cred) ? cred : env.MCPS_KEY_PASSPHRASE_FILE;
  if (file) return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  return env.MCPS_KEY_PASSPHRASE || undefined;
}

/** Where systemd put this key file for the service, if it did. */
export function credentialPath(path: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (!env.CREDENTIALS_DIRECTORY) return null;
  const p = join(env.CREDENTIALS_DIRECTORY, basename(path));
  return existsSync(p) ? p : null;
}
