// The gateway's own heap cap: found on the command line or in NODE_OPTIONS, read from the config, and
// applied by running the process again under it (exit status passed through).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_GATEWAY_HEAP_MB, configuredHeapMb, explicitHeapCapMb, heapCapArgs } from '../cli/heap-cap';

t.test('an explicit cap is found in the flags or NODE_OPTIONS', async (t) => {
  t.equal(explicitHeapCapMb(['--max-old-space-size=200'], ''), 200);
  t.equal(explicitHeapCapMb([], '--enable-source-maps --max_old_space_size=300'), 300);
  t.equal(explicitHeapCapMb(['--enable-source-maps'], ''), null);
});

t.test('memory.heapMB of the config, 128 by default', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-heap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'gateway.json');
  writeFileSync(cfg, JSON.stringify({ memory: { heapMB: 192 } }));
  t.equal(configuredHeapMb(cfg), 192);
  t.same(heapCapArgs(cfg), ['--max-old-space-size=192', '--max-semi-space-size=2', '--single-threaded-gc'], 'with the young generation bounded');
  writeFileSync(cfg, JSON.stringify({ dataDir: '/x' }));
  t.equal(configuredHeapMb(cfg), DEFAULT_GATEWAY_HEAP_MB);
  t.equal(configuredHeapMb(join(dir, 'missing.json')), DEFAULT_GATEWAY_HEAP_MB);
});

t.test('a process started without a cap runs itself again under it', async (t) => {
  const child = join(__dirname, 'fixtures', 'heap-cap-child.js');
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.MCPS_HEAP_CAP_SET;
  const r = spawnSync(process.execPath, [child], { env, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 7, "the child's exit status is passed through");
  const out = JSON.parse(r.stdout.trim()) as { pid: number; limitMb: number; flag: number; mmapThreshold: string | null; execArgv: string[] };
  t.equal(out.flag, 96, 'the rerun has the flag');
  t.ok(out.execArgv.includes('--max-semi-space-size=2'), 'and the young-generation bound');
  t.equal(out.mmapThreshold, '1048576', 'and large blocks go back to the system when freed (malloc)');
  t.ok(out.limitMb < 200, `its V8 heap limit follows the cap (${out.limitMb.toFixed(0)} MB)`);
  t.not(out.pid, r.pid, 'in a new process');

  const capped = spawnSync(process.execPath, ['--max-old-space-size=80', child], { env, encoding: 'utf8', timeout: 60_000 });
  const o2 = JSON.parse(capped.stdout.trim()) as { pid: number; flag: number; mmapThreshold: string | null };
  t.equal(o2.flag, 80, 'an explicit cap wins');
  t.equal(o2.mmapThreshold, '1048576', 'the malloc setting is added');
  const ready = spawnSync(process.execPath, ['--max-old-space-size=80', child], { env: { ...env, MALLOC_MMAP_THRESHOLD_: '1048576' }, encoding: 'utf8', timeout: 60_000 });
  const o3 = JSON.parse(ready.stdout.trim()) as { pid: number; flag: number };
  t.equal(o3.pid, ready.pid, 'a process started with both (the systemd unit, mcps up) runs as it is');
  t.equal(o3.flag, 80);
});
