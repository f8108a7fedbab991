// `mcps doctor` against real things: a real chain (anvil, the registry), a real tty (a pty), ports
// held by a real listener, key files with loose permissions. Each problem is found, named, and
// comes with what to do; a healthy box passes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKeyFile } from '../common/key-file';
import { freePort } from '../common/free-port';
import { clockCheck, doctorGateway, formatChecks, nodeVersionCheck, type DoctorCheck } from '../cli/doctor';
import { gatewayKeyPath } from '../gateway/identity/identity';
import { openPtyPair } from '../device-sim/pty';
import { testChain } from './chain.helpers';

const byName = (cs: DoctorCheck[], name: string): DoctorCheck | undefined => cs.find((c) => c.name === name);

t.test('a gateway box: healthy checks pass; each problem is named with what to do', async (t) => {
  const chain = await testChain(t);
  const sk = await chain.addGateway('gw-doc', 7);
  const dir = mkdtempSync(join(tmpdir(), 'mcps-doctor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  writeKeyFile(gatewayKeyPath(dataDir), 'mcps/gateway-bls', sk);
  const pty = await openPtyPair();
  t.teardown(() => pty.close());
  const [editor, mqtt, metrics] = [await freePort(), await freePort(), await freePort()];
  const cfg = {
    dataDir,
    gatewayId: 'gw-doc',
    editor: { host: '127.0.0.1', port: editor },
    mqtt: { host: '127.0.0.1', port: mqtt },
    chainNode: { url: 'http://127.0.0.1:1', nodeId: 'n' },
    chain: { rpcUrl: chain.rpcUrl, registry: chain.deployment.registry },
    ownerPublicKey: 'ab'.repeat(32),
    serialPorts: { MCPS_OXIMETER_PORT: pty.path, MCPS_OXIMETER_ID: 'oxi-1', MCPS_OXIMETER_PATIENT: 'p-1' },
    metrics: { host: '127.0.0.1', port: metrics },
  };
  const cfgPath = join(dir, 'gateway.json');
  writeFileSync(cfgPath, JSON.stringify(cfg));

  let checks = await doctorGateway(cfgPath);
  t.same(checks.filter((c) => c.verdict === 'fail'), [], `a healthy box passes:\n${formatChecks(checks)}`);
  t.match(byName(checks, 'registration'), { verdict: 'ok', found: /gw-doc is registered with this box's key/ });
  t.match(byName(checks, 'clock'), { verdict: 'ok' }, "this clock agrees with the chain's latest block");
  t.match(byName(checks, 'serial MCPS_OXIMETER_PORT'), { verdict: 'ok', found: /a tty this user may open/ });
  t.match(byName(checks, 'key files'), { verdict: 'ok' });
  t.match(byName(checks, 'disk budget'), { verdict: 'ok' });

  // Problems, one of each kind.
  const squatter = createServer();
  await new Promise<void>((r) => squatter.listen(mqtt, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => squatter.close(() => r())));
  chmodSync(gatewayKeyPath(dataDir), 0o644);
  const other = { ...cfg, gatewayId: 'gw-unknown', serialPorts: { MCPS_OXIMETER_PORT: '/dev/serial/by-id/usb-gone-if00-port0' } };
  writeFileSync(cfgPath, JSON.stringify(other));
  checks = await doctorGateway(cfgPath);
  t.match(byName(checks, 'MQTT port'), { verdict: 'fail', found: new RegExp(`127\\.0\\.0\\.1:${mqtt} is in use by another process`), fix: /ss -ltnp/ });
  t.match(byName(checks, 'key files'), { verdict: 'fail', found: /gateway-bls\.key \(644\)/, fix: /chmod 600/ });
  t.match(byName(checks, 'serial MCPS_OXIMETER_PORT'), { verdict: 'fail', found: /does not exist/, fix: /plug the device/ });
  t.match(byName(checks, 'registration'), { verdict: 'warn', found: /no usable gateway key.*permissions 644/ }, 'a loose key is not used, even to check');
  t.match(formatChecks(checks), /FAIL  MQTT port .*\n\s+→ find it with/, 'printed with what to do under each failure');
  chmodSync(gatewayKeyPath(dataDir), 0o600);
  checks = await doctorGateway(cfgPath);
  t.match(byName(checks, 'registration'), { verdict: 'fail', found: /gw-unknown: not-registered/, fix: /register gateway gw-unknown/ });

  writeFileSync(cfgPath, JSON.stringify({ ...cfg, chain: { ...cfg.chain, rpcUrl: 'http://127.0.0.1:1' } }));
  checks = await doctorGateway(cfgPath);
  t.match(byName(checks, 'chain'), { verdict: 'fail', found: /does not answer/, fix: /chain\.rpcUrl/ });

  writeFileSync(cfgPath, JSON.stringify({ ...cfg, gatewayId: 'bad id with spaces' }));
  checks = await doctorGateway(cfgPath);
  t.match(byName(checks, 'config'), { verdict: 'fail', found: /gatewayId/, fix: /correct the field/ });

  // The command itself: exit code 1 when a check fails, JSON on request.
  const r = spawnSync(process.execPath, [join(__dirname, '..', 'cli', 'mcps.js'), 'doctor', '--config', cfgPath, '--json'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 1, 'mcps doctor exits 1');
  t.match(JSON.parse(r.stdout), { failed: 1, checks: [{ name: 'node.js', verdict: 'ok' }, { name: 'config', verdict: 'fail' }] });
});

t.test('clock skew and Node.js version verdicts', async (t) => {
  const now = 1_800_000_000_000;
  t.equal(clockCheck(now / 1000 - 5, now).verdict, 'ok');
  t.match(clockCheck(now / 1000 + 120, now), { verdict: 'fail', fix: /timedatectl set-ntp true/ }, 'behind the chain: fail');
  t.match(clockCheck(now / 1000 - 3600, now), { verdict: 'warn' }, 'ahead (or an idle chain): warn');
  t.equal(nodeVersionCheck('20.19.0').verdict, 'ok');
  t.equal(nodeVersionCheck('22.1.0').verdict, 'ok');
  t.match(nodeVersionCheck('20.18.1'), { verdict: 'fail', fix: /20\.19/ });
  t.match(nodeVersionCheck('18.20.0'), { verdict: 'fail' });
});
