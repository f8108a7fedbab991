// promtool (Debian package prometheus) checks our metrics and alert rules when it is installed;
// tests say plainly when they skip for want of it.
import { spawnSync } from 'node:child_process';

export function promtool(): string | null {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'promtool' : null;
}
