/**
 * Secret key files: created on this box, written once with mode 0600, never logged.
 *
 * A key file holds one JSON object { kind, createdAt, key: hex }, or { kind, createdAt, encrypted }
 * when a passphrase protects it; systemd credentials can stand in for the file (keys at rest:
 * common/key-protection.ts). Creation uses O_EXCL so two processes starting at once cannot both
 * generate a key; loading refuses files that group or others can read, because a key that was
 * world-readable must be treated as leaked.
 */
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from './atomic-file';
import { credentialPath, decryptKey, encryptKey, keyPassphrase, type EncryptedKey } from './key-protection';

export class KeyFileError extends Error {
  constructor(readonly path: string, message: string) {
    super(`key file ${path}: ${message}`);
    this.name = 'KeyFileError';
  }
}

interface KeyFileContent {
  kind: string;
  createdAt: string;
  key?: string;
  encrypted?: EncryptedKey;
}

export function readKeyFile(path: string, kind: string): Uint8Array {
  // systemd credentials ($CREDENTIALS_DIRECTORY/<file name>) take the place of the file.
  const from = credentialPath(path) ?? path;
  return readKeyFileAt(from, kind);
}

/** Whether the key file at `path` is protected by a passphrase. */
export function isEncryptedKeyFile(path: string): boolean {
  try {
    return typeof (JSON.parse(readFileSync(path, 'utf8')) as KeyFileContent).encrypted === 'object';
  } catch {
    return false;
  }
}

function readKeyFileAt(path: string, kind: string, passphrase: string | undefined = keyPassphrase()): Uint8Array {
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) {
    throw new KeyFileError(path, `permissions ${(st.mode & 0o777).toString(8)} let others read it; expected 600 (chmod 600 it only if you are sure it never leaked)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new KeyFileError(path, `not valid JSON (${(err as Error).message})`);
  }
  const c = parsed as Partial<KeyFileContent>;
  if (c.kind !== kind) throw new KeyFileError(path, `holds a "${String(c.kind)}" key, expected "${kind}"`);
  if (c.encrypted && typeof c.encrypted === 'object') {
    if (passphrase === undefined) throw new KeyFileError(path, 'is encrypted with a passphrase: give it as the systemd credential mcps-key-passphrase, in a file named by MCPS_KEY_PASSPHRASE_FILE, or in MCPS_KEY_PASSPHRASE (docs/operations.md, "Keys at rest")');
    return decryptKey(c.encrypted, kind, passphrase, path);
  }
  if (typeof c.key !== 'string' || !/^([0-9a-f]{2})+$/.test(c.key)) throw new KeyFileError(path, 'field "key" is not lowercase hex');
  return Uint8Array.from(Buffer.from(c.key, 'hex'));
}

function keyFileBody(kind: string, key: Uint8Array, passphrase: string | undefined, createdAt = new Date().toISOString()): KeyFileContent {
  return passphrase !== undefined ? { kind, createdAt, encrypted: encryptKey(key, kind, passphrase) } : { kind, createdAt, key: Buffer.from(key).toString('hex') };
}

/**
 * Writes a new key file with mode 0600; fails if the file already exists. Encrypted when this
 * process has a key passphrase (common/key-protection.ts).
 */
export function writeKeyFile(path: string, kind: string, key: Uint8Array, passphrase: string | undefined = keyPassphrase()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const body = keyFileBody(kind, key, passphrase);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, JSON.stringify(body, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Loads the key at `path`, creating it with `create()` the first time. */
export function loadOrCreateKey(path: string, kind: string, create: () => Uint8Array): { key: Uint8Array; created: boolean } {
  try {
    return { key: readKeyFile(path, kind), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = create();
  try {
    writeKeyFile(path, kind, key);
    return { key, created: true };
  } catch (err) {
    // Another process won the race: use its key.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { key: readKeyFile(path, kind), created: false };
    throw err;
  }
}

/**
 * Encrypts an existing key file with `passphrase` (or decrypts it: `passphrase` null), in place and
 * atomically (0600). `current` opens it when it is encrypted already. Returns the file's kind.
 */
export function reprotectKeyFile(path: string, passphrase: string | null, current?: string): string {
  let parsed: KeyFileContent;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as KeyFileContent;
  } catch (err) {
    throw new KeyFileError(path, `not a key file (${(err as Error).message})`);
  }
  if (typeof parsed.kind !== 'string') throw new KeyFileError(path, 'not a key file (no "kind")');
  const key = readKeyFileAt(path, parsed.kind, current ?? keyPassphrase());
  writeFileAtomic(path, JSON.stringify(keyFileBody(parsed.kind, key, passphrase ?? undefined, parsed.createdAt), null, 2) + '\n', 0o600);
  return parsed.kind;
}
