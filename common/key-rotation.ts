/**
 * Key rotation on a box: the new key is made beside the current one (`<name>.next.key`, 0600) and
 * its identity file handed to the admin; once the registry lists the new key (`mcps admin rotate`),
 * the process promotes it at its next start: the current key is kept as `<name>.retired-<time>.key`
 * (so nothing is lost if the rotation is undone by hand) and the next key takes its place. Renames
 * only, each followed by a sync of the directory, so a crash leaves one of the two states.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';

export function nextKeyPath(path: string): string {
  return `${path.replace(/\.key$/, '')}.next.key`;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes the next key the current one; returns where the old key was kept. */
export function promoteNextKey(path: string, now: Date = new Date()): string {
  const next = nextKeyPath(path);
  if (!existsSync(next)) throw new Error(`no next key at ${next}`);
  const retired = `${path.replace(/\.key$/, '')}.retired-${now.toISOString().replace(/[:.]/g, '-')}.key`;
  if (existsSync(path)) renameSync(path, retired);
  renameSync(next, path);
  syncDir(dirname(path));
  return retired;
}
