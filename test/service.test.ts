// Running as a service: the systemd units (rendered by `mcps service install`, checked by
// systemd-analyze verify when it is installed), the sd_notify datagrams (READY, WATCHDOG, STOPPING)
// received on a real unix datagram socket, and the alert rules (promtool check rules when installed).
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installService, renderUnit, PACKAGE_ROOT } from '../cli/service';
import { SdNotify } from '../common/sd-notify';
import { promtool } from './promtool.helpers';

const gatewayConfig = (dataDir: string): Record<string, unknown> => ({
  dataDir,
  gatewayId: 'gw-ward1',
  editor: { host: '127.0.0.1', port: 1880 },
  mqtt: { host: '0.0.0.0', port: 1883 },
  chainNode: { url: 'https://node-1.example:7545', nodeId: 'node-1' },
  chain: { rpcUrl: 'https://rpc.example', registry: `0x${'11'.repeat(20)}` },
  ownerPublicKey: 'ab'.repeat(32),
});

t.test('the units carry what the issue asks for, and systemd-analyze verify accepts them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfgPath = join(dir, 'gateway.json');
  writeFileSync(cfgPath, JSON.stringify(gatewayConfig('/var/lib/mcps/gateway')));
  const text = installService({ role: 'gateway', config: cfgPath, user: 'mcps', unitDir: dir, print: false });
  t.match(text, /useradd --system .* --groups dialout mcps/, 'says how to create the service user in dialout');
  t.match(text, /systemctl daemon-reload && systemctl enable --now mcps-gateway\.service/);
  const unit = readFileSync(join(dir, 'mcps-gateway.service'), 'utf8');
  for (const line of ['Type=notify', 'NotifyAccess=all', 'Restart=on-failure', 'WatchdogSec=30', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/mcps/gateway', 'PrivateTmp=yes', 'User=mcps', 'SupplementaryGroups=dialout', 'MemoryMax=512M']) {
    t.ok(unit.split('\n').includes(line), line);
  }
  t.match(unit, new RegExp(`^ExecStart=${process.execPath} --max-old-space-size=128 --max-semi-space-size=2 --single-threaded-gc ${PACKAGE_ROOT}/dist/cli/mcps\\.js gateway --config ${cfgPath}$`, 'm'), 'the heap cap and the absolute paths');
  t.notMatch(unit, /@[A-Z_]+@/, 'every placeholder filled');
  writeFileSync(cfgPath, JSON.stringify({ ...gatewayConfig('/var/lib/mcps/gateway'), memory: { heapMB: 192 } }));
  t.match(installService({ role: 'gateway', config: cfgPath, user: 'mcps', unitDir: dir, print: true }), /^ExecStart=\S+ --max-old-space-size=192 /m, "the unit's heap cap is the config's memory.heapMB");
  const nodeCfg = join(dir, 'node.json');
  writeFileSync(nodeCfg, JSON.stringify({ dataDir: '/var/lib/mcps/chain-node', nodeId: 'node-1', host: '127.0.0.1', port: 7545, chain: { rpcUrl: 'https://rpc.example', registry: `0x${'11'.repeat(20)}`, anchor: `0x${'22'.repeat(20)}` } }));
  installService({ role: 'chain-node', config: nodeCfg, user: 'mcps', unitDir: dir, print: false });
  t.match(readFileSync(join(dir, 'mcps-chain-node.service'), 'utf8'), /^ReadWritePaths=\/var\/lib\/mcps\/chain-node$/m);
  t.throws(() => renderUnit('gateway', { node: '/usr/bin/node', mcps: '/opt/mcps/dist/cli/mcps.js', config: '/etc/mcps/my gateway.json', user: 'mcps', dataDir: '/var/lib/mcps', packageRoot: '/opt/mcps' }), /contains a space/, 'a path systemd would split is refused');

  const sa = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (sa.status !== 0) {
    t.comment('SKIP systemd-analyze verify: systemd-analyze is not installed (Debian package systemd)');
    return;
  }
  // verify resolves User= against this machine: render with a user that exists here.
  const me = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
  for (const role of ['gateway', 'chain-node'] as const) {
    const path = join(dir, `mcps-${role}.service`);
    writeFileSync(path, renderUnit(role, { node: process.execPath, mcps: join(PACKAGE_ROOT, 'dist', 'cli', 'mcps.js'), config: cfgPath, user: me, dataDir: dir, packageRoot: PACKAGE_ROOT }));
    const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
    // verify exits 0 on unknown keys and bad values too, only warning: any output is a finding.
    t.equal(r.status, 0, `systemd-analyze verify mcps-${role}.service exits 0`);
    t.equal((r.stdout + r.stderr).trim(), '', `and has nothing to say about mcps-${role}.service`);
  }
  // The check would catch a mistake: a misspelt directive makes it speak.
  const bad = join(dir, 'mcps-bad.service');
  writeFileSync(bad, readFileSync(join(dir, 'mcps-gateway.service'), 'utf8').replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'));
  t.match(spawnSync('systemd-analyze', ['verify', bad], { encoding: 'utf8' }).stderr, /Unknown key/, 'a misspelt directive is reported');
});

t.test('sd_notify: READY, STATUS, WATCHDOG at half of WATCHDOG_USEC, STOPPING, as datagrams on NOTIFY_SOCKET', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'notify.sock');
  // A receiver as systemd has one: a unix datagram socket; python3 prints each datagram as JSON.
  const rx = spawn('python3', ['-u', '-c', `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => rx.kill());
  const got: string[] = [];
  await new Promise<void>((resolve) => {
    let buf = '';
    rx.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'bound') resolve();
        else got.push(JSON.parse(line) as string);
      }
    });
  });
  t.equal(SdNotify.fromEnv({}), null, 'not under systemd: nothing to do');
  const sd = SdNotify.fromEnv({ NOTIFY_SOCKET: sock })!;
  t.teardown(() => sd.close());
  sd.ready('editor http://127.0.0.1:1880/');
  t.equal(sd.startWatchdog({ WATCHDOG_USEC: '400000', WATCHDOG_PID: String(process.pid) }), 200, 'pings every WATCHDOG_USEC / 2');
  t.equal(sd.startWatchdog({ WATCHDOG_USEC: '400000', WATCHDOG_PID: '1' }), null, 'a watchdog meant for another process is left alone');
  const deadline = Date.now() + 10_000;
  while (got.filter((m) => m === 'WATCHDOG=1').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  sd.stopping();
  while (!got.some((m) => m.startsWith('STOPPING=1')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(got[0], 'READY=1\nSTATUS=editor http://127.0.0.1:1880/', 'READY with a status, one datagram');
  t.ok(got.filter((m) => m === 'WATCHDOG=1').length >= 3, 'the watchdog is fed from the event loop');
  t.ok(got.includes('STOPPING=1\nSTATUS=stopping'), 'STOPPING');
});

t.test('the alert rules file is valid Prometheus rules (promtool check rules)', async (t) => {
  const rules = join(PACKAGE_ROOT, 'deploy', 'prometheus', 'mcps-alerts.yml');
  const text = readFileSync(rules, 'utf8');
  const alerts = [...text.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
  t.ok(alerts.length >= 10, `${alerts.length} alerts`);
  const doc = readFileSync(join(PACKAGE_ROOT, 'docs', 'operations.md'), 'utf8');
  t.same(alerts.filter((a) => !doc.includes(`\`${a}\``)), [], 'every alert has its entry (what to do) in docs/operations.md');
  const tool = promtool();
  if (!tool) {
    t.comment('SKIP promtool check rules: promtool is not installed (Debian package prometheus)');
    return;
  }
  const r = spawnSync(tool, ['check', 'rules', rules], { encoding: 'utf8' });
  t.equal(r.status, 0, `promtool check rules: ${r.stdout}${r.stderr}`);
  t.match(r.stdout + r.stderr, new RegExp(`SUCCESS: ${alerts.length} rules found`));
  // The rules' own unit tests: an outbox backlog, a full disk and a silent serial port fire as expected.
  const ut = spawnSync(tool, ['test', 'rules', 'mcps-alerts.test.yml'], { cwd: join(PACKAGE_ROOT, 'deploy', 'prometheus'), encoding: 'utf8' });
  t.equal(ut.status, 0, `promtool test rules: ${ut.stdout}${ut.stderr}`);
});
