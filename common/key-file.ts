/**
 * Secret key files: created on this box, written once with mode 0600, never logged.
 *
 * A key file holds one JSON object { kind, createdAt, key: hex }. Creation uses O_EXCL so two
 * processes starting at once cannot both generate a key; loading refuses files that group or others
 * can read, because a key that was world-readable must be treated as leaked.
 */
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class KeyFileError extends Error {
  constructor(readonly path: string, message: string) {
    super(`key file ${path}: ${message}`);
    this.name = 'KeyFileError';
  }
}

interface KeyFileContent {
  kind: string;
  createdAt: string;
  key: string;
}

export function readKeyFile(path: string, kind: string): Uint8Array {
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
  if (typeof c.key !== 'string' || !/^([0-9a-f]{2})+$/.test(c.key)) throw new KeyFileError(path, 'field "key" is not lowercase hex');
  return Uint8Array.from(Buffer.from(c.key, 'hex'));
}

/** Writes a new key file with mode 0600; fails if the file already exists. */
export function writeKeyFile(path: string, kind: string, key: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const body: KeyFileContent = { kind, createdAt: new Date().toISOString(), key: Buffer.from(key).toString('hex') };
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
