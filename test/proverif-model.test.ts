// Runs the symbolic models in models/ with ProVerif when `proverif` is on PATH (ProVerif is not a
// Debian package; docs/protocol.md says how to build 2.05 from source) and says plainly when it
// skips. Every query of every model must be proved true: a query ProVerif refutes or cannot prove
// fails the test with ProVerif's own words. models/reachability.pv is the sanity check the other way
// round: each of its queries claims an honest run never completes, and ProVerif must refute each
// with a trace, so no result elsewhere holds only because a party can never finish.
// Each model takes a minute or more of CPU; they run one after the other.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const MODELS = join(ROOT, 'models');
const models = readdirSync(MODELS).filter((f) => f.endsWith('.pv')).sort();

function proverifVersion(): string | null {
  const r = spawnSync('proverif', ['-help'], { encoding: 'utf8' });
  if (r.error) return null;
  return /Proverif (\d+\.\d+)/i.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
}

function run(file: string): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const p = spawn('proverif', ['-lib', join(MODELS, 'mcps.pvl'), join(MODELS, file)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => res({ code, out }));
  });
}

t.test('the models list their queries', async (t) => {
  t.ok(models.length >= 4, `models: ${models.join(', ')}`);
  for (const m of models) t.ok(/^query /m.test(readFileSync(join(MODELS, m), 'utf8')), `${m} has queries`);
});

const version = proverifVersion();
if (version === null) {
  t.comment('SKIP ProVerif models: proverif is not on PATH (build ProVerif 2.05 from source, see docs/protocol.md "Machine-checked model")');
  t.test('ProVerif proves every query', { skip: 'proverif is not on PATH' }, async () => undefined);
} else {
  if (version !== '2.05') t.comment(`ProVerif ${version} found; the results in docs/protocol.md were obtained with 2.05`);
  for (const m of models) {
    t.test(`ProVerif ${version} proves every query of models/${m}`, { timeout: 60 * 60_000 }, async (t) => {
      const queries = (readFileSync(join(MODELS, m), 'utf8').match(/^query /gm) ?? []).length;
      const { code, out } = await run(m);
      t.equal(code, 0, `proverif exits 0${code === 0 ? '' : `:\n${out.slice(-2000)}`}`);
      const results = out.split('\n').filter((l) => l.startsWith('RESULT '));
      const expected = m.startsWith('reachability') ? ' is false.' : ' is true.';
      const failed = results.filter((l) => !l.endsWith(expected));
      t.same(failed, [], expected === ' is true.' ? 'no query refuted or left unproved' : 'every honest run completes (each query refuted with a trace)');
      t.equal(results.filter((l) => l.endsWith(expected)).length, queries, `one result per query (${queries})`);
    });
  }
}
