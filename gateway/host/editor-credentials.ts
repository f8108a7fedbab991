/**
 * The Node-RED editor login. Generated on first start (random password, bcrypt-hashed for Node-RED's
 * adminAuth) and kept in a 0600 file in the gateway's data directory; the console names the file,
 * never the password.
 */
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface EditorCredentials {
  username: string;
  password: string;
}

export function loadOrCreateEditorCredentials(path: string): { creds: EditorCredentials; created: boolean } {
  if (existsSync(path)) {
    const c = JSON.parse(readFileSync(path, 'utf8')) as Partial<EditorCredentials>;
    if (typeof c.username !== 'string' || typeof c.password !== 'string' || c.password.length < 12) {
      throw new Error(`editor credentials ${path}: need "username" and a "password" of at least 12 characters`);
    }
    return { creds: { username: c.username, password: c.password }, created: false };
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const creds = { username: 'admin', password: randomBytes(18).toString('base64url') };
  writeFileSync(path, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return { creds, created: true };
}

export function adminAuthFor(creds: EditorCredentials): { type: 'credentials'; users: Array<{ username: string; password: string; permissions: string }> } {
  return { type: 'credentials', users: [{ username: creds.username, password: bcrypt.hashSync(creds.password, 10), permissions: '*' }] };
}
