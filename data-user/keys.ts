/**
 * A data user's own keys, made by `mcps user identity --data DIR --id ID` (0600): user-bls.key signs
 * the handshake and key requests, user-hpke.key opens released keys. Read, never created, here: a
 * user without keys is told how to make and register them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readKeyFile } from '../common/key-file';
import { USER_BLS_KEY_KIND, USER_ENCRYPTION_KEY_KIND } from '../common/key-kinds';

export interface UserKeys {
  readonly id: string;
  readonly blsSecretKey: Uint8Array;
  readonly encryptionSecretKey: Uint8Array;
}

export function loadUserKeys(dir: string, id: string): UserKeys {
  const bls = join(dir, 'user-bls.key');
  const enc = join(dir, 'user-hpke.key');
  for (const p of [bls, enc]) if (!existsSync(p)) throw new Error(`no key file ${p}: make the user's keys with \`mcps user identity --data ${dir} --id ${id}\` and have the hospital register them (mcps admin user add)`);
  return { id, blsSecretKey: readKeyFile(bls, USER_BLS_KEY_KIND), encryptionSecretKey: readKeyFile(enc, USER_ENCRYPTION_KEY_KIND) };
}
