/**
 * `npm run bench -- NAME`: runs bench/NAME (compiled to dist/bench/NAME.js).
 *
 * Each benchmark prints a readable table and, as its very last line, one JSON object of its figures,
 * so scripts can read the figures with `tail -n 1`. Benchmarks compare against a baseline run beside
 * them in the same process: absolute times on shared machines are noise, ratios are the signal.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

async function main(): Promise<void> {
  const name = process.argv[2];
  const available = readdirSync(__dirname)
    .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.includes('.helpers.'))
    .map((f) => f.slice(0, -3));
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`usage: npm run bench -- NAME [options]\navailable: ${available.join(', ')}\n`);
    process.exitCode = name ? 0 : 2;
    return;
  }
  const file = join(__dirname, `${name}.js`);
  if (!existsSync(file)) {
    process.stderr.write(`bench: no benchmark named "${name}"; available: ${available.join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const mod = require(file) as { main?: (args: string[]) => Promise<void> };
  if (typeof mod.main !== 'function') throw new Error(`bench/${name} does not export main(args)`);
  await mod.main(process.argv.slice(3));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
