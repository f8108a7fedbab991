/**
 * The README runs every command as `npx mcps ...`, which executes the package's bin entry itself:
 * it must be executable after `npm run build` and start with a shebang.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';

const root = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };

for (const [name, rel] of Object.entries(pkg.bin)) {
  t.test(`bin ${name} runs as a program`, async (t) => {
    const file = join(root, rel);
    t.ok(statSync(file).mode & 0o111, `${rel} is executable`);
    t.match(readFileSync(file, 'utf8').split('\n')[0], /^#!\/usr\/bin\/env node/, `${rel} starts with a shebang`);
    const { stdout } = await promisify(execFile)(file, ['--help'], { cwd: root });
    t.match(stdout, /^Usage: mcps/, `${rel} --help prints the usage`);
  });
}
