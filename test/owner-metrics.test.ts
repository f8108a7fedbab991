// The hospital's key service (`mcps owner serve`) on its monitoring listener, over real HTTP:
// releases and refusals by reason counted at scrape time, readiness naming the chain, every metric
// documented in docs/operations.md, the exposition checked by promtool when it is installed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { registerUser, setOwnerKey } from '../contracts/deploy';
import { blsKeygen, blsPopProve, blsPublicKey } from '../protocol/bls';
import { loadOrCreateOwnerKeyPair } from '../owner/keys';
import { runOwnerService } from '../owner/serve';
import { OwnerClient } from '../data-user/owner-client';
import { chainWithHospital } from './chain.helpers';
import { promtool } from './promtool.helpers';

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('key service metrics: refusals by reason, releases, readiness', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-owner-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { anvil, hosp, d } = await chainWithHospital(t);
  const ownerDir = join(dir, 'owner');
  const owner = loadOrCreateOwnerKeyPair(ownerDir);
  await setOwnerKey(hosp, d.registry, 'h', owner.publicKey);
  const usk = blsKeygen(new Uint8Array(randomBytes(48)));
  const uenc = x25519.utils.randomSecretKey();
  await registerUser(hosp, d.registry, { id: 'dr-x', hospital: 'h', blsPublicKey: blsPublicKey(usk), pop: blsPopProve(usk), encryptionPublicKey: x25519.getPublicKey(uenc) });

  const svc = await runOwnerService({ hospital: 'h', ownerDir, host: '127.0.0.1', port: 0, chain: { rpcUrl: anvil.url, registry: d.registry, accessLog: d.accessLog }, metrics: { host: '127.0.0.1', port: 0 } }, () => undefined);
  t.teardown(() => svc.stop());
  t.match(svc.metricsUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  const scrape = async (): Promise<string> => (await fetch(`${svc.metricsUrl}/metrics`)).text();

  const before = await scrape();
  t.equal(value(before, 'mcps_key_service_info{hospital="h",version="' + (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version + '"}'), 1);
  t.equal(value(before, 'mcps_key_service_refusals_total{reason="no-grant"}'), 0, 'every reason is there from the start');
  t.equal(value(before, 'mcps_key_service_slice_keys_released_total'), 0);

  const client = (sk: Uint8Array): OwnerClient => new OwnerClient({ url: svc.url, hospital: 'h', ownerPublicKey: owner.publicKey, userId: 'dr-x', blsSecretKey: sk, encryptionSecretKey: uenc });
  await t.rejects(client(usk).tags(7, 'p-1'), { name: 'KeyRefused', refusal: 'no-grant' });
  await t.rejects(client(usk).tags(8, 'p-1'), { name: 'KeyRefused', refusal: 'no-grant' });
  await t.rejects(client(blsKeygen(new Uint8Array(randomBytes(48)))).tags(7, 'p-1'), { name: 'KeyRefused', refusal: 'bad-signature' });
  const after = await scrape();
  t.equal(value(after, 'mcps_key_service_refusals_total{reason="no-grant"}'), 2, 'refusals counted by reason');
  t.equal(value(after, 'mcps_key_service_refusals_total{reason="bad-signature"}'), 1);
  t.equal(value(after, 'mcps_key_service_tags_released_total'), 0);

  const ready = (await (await fetch(`${svc.metricsUrl}/readyz`)).json()) as { status: string; checks: Array<{ name: string; ok: boolean }> };
  t.match(ready, { status: 'ready' });
  t.same(ready.checks.map((c) => c.name), ['listening', 'chain']);

  // Every mcps_ metric is in the operations guide's reference table.
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8');
  const names = [...new Set([...after.matchAll(/^# TYPE (mcps_\w+) /gm)].map((m) => m[1]!))];
  t.equal(names.length, 4);
  t.same(names.filter((n) => !doc.includes(`\`${n}\``)), [], 'every metric documented in docs/operations.md');
  const tool = promtool();
  if (!tool) t.comment('SKIP promtool check metrics: promtool is not installed (Debian package prometheus)');
  else {
    const r = spawnSync(tool, ['check', 'metrics'], { input: after, encoding: 'utf8' });
    t.equal(r.status, 0, `promtool check metrics accepts the exposition: ${r.stdout}${r.stderr}`);
    t.equal((r.stdout + r.stderr).trim(), '', 'and has no lint remarks');
  }
});

t.test('a key service metrics listener off loopback without TLS is refused', async (t) => {
  const { anvil, d } = await chainWithHospital(t);
  const err = await runOwnerService({ hospital: 'h', ownerDir: mkdtempSync(join(tmpdir(), 'mcps-owner-m2-')), host: '127.0.0.1', port: 0, chain: { rpcUrl: anvil.url, registry: d.registry, accessLog: d.accessLog }, metrics: { host: '0.0.0.0', port: 0 } }, () => undefined).then(() => null, (e: Error) => e.message);
  t.match(err, /monitoring listener \(metrics\) would listen on 0\.0\.0\.0 without TLS/);
});
