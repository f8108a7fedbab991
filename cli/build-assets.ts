/**
 * The non-TypeScript half of `npm run build`: compiles the Solidity contracts (solc from npm) and
 * copies the files Node-RED and the simulator load at run time (node editor templates, message
 * catalogues, icons, the pty bridge) next to the compiled JavaScript in dist/, and marks the
 * package's `bin` entries executable.
 */
import { chmodSync, cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');

function copyAssets(): void {
  const nodesSrc = join(root, 'nodes');
  const nodesOut = join(root, 'dist', 'nodes');
  for (const f of readdirSync(nodesSrc)) {
    if (f.endsWith('.html')) cpSync(join(nodesSrc, f), join(nodesOut, f));
  }
  for (const dir of ['locales', 'icons']) {
    if (existsSync(join(nodesSrc, dir))) cpSync(join(nodesSrc, dir), join(nodesOut, dir), { recursive: true });
  }
  const simSrc = join(root, 'device-sim');
  for (const f of readdirSync(simSrc)) {
    if (f.endsWith('.py')) cpSync(join(simSrc, f), join(root, 'dist', 'device-sim', f));
  }
}

/**
 * tsc writes every file 0644, but `npx mcps` (the README's commands) executes the package's `bin`
 * entries directly: without the execute bit a fresh clone answers "Permission denied".
 */
function markBinsExecutable(): void {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
  for (const rel of Object.values(pkg.bin ?? {})) {
    const file = join(root, rel);
    if (existsSync(file)) chmodSync(file, 0o755);
  }
}

async function main(): Promise<void> {
  copyAssets();
  markBinsExecutable();
  const { buildContracts } = require('../contracts/build') as typeof import('../contracts/build');
  await buildContracts();
}

main().catch((err: unknown) => {
  process.stderr.write(`build: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
