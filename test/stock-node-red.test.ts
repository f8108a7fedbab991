// Installable into a stock Node-RED: `npm install <this package>` in a fresh user directory, then a
// plain `node-red` started as its own process shows our node types (admin API) and an example flow
// using them deploys and runs.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

t.test('a stock Node-RED loads the mcps palette and runs a flow with it', async (t) => {
  const userDir = mkdtempSync(join(tmpdir(), 'mcps-nr-'));
  t.teardown(() => rmSync(userDir, { recursive: true, force: true }));
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-user', private: true }));
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', ROOT], { cwd: userDir, encoding: 'utf8', timeout: 180_000 });
  t.equal(npm.status, 0, `npm install <this package> succeeds ${npm.stderr.slice(-300)}`);
  writeFileSync(join(userDir, 'settings.js'), `module.exports = { uiHost: '127.0.0.1', uiPort: 0, flowFile: 'flows.json', logging: { console: { level: 'info' } }, editorTheme: { tours: false } };\n`);

  const red = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', join(userDir, 'settings.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => red.once('exit', () => r()));
  t.teardown(async () => {
    red.kill('SIGTERM');
    await exited;
  });
  let out = '';
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`Node-RED did not start: ${out.slice(-1000)}`)), 60_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /Server now running at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    };
    red.stdout!.on('data', onData);
    red.stderr!.on('data', onData);
  });

  const nodes = (await (await fetch(`${url}/nodes`, { headers: { accept: 'application/json' } })).json()) as Array<{ module: string; types: string[]; enabled: boolean; loaded: boolean; err?: string }>;
  const ours = nodes.filter((n) => n.module === 'mcps-edge');
  const types = ours.flatMap((n) => n.types).sort();
  t.same(types, ['mcps-anchor-status', 'mcps-batch', 'mcps-chain-node', 'mcps-decode', 'mcps-fhir-out', 'mcps-gateway-identity', 'mcps-hl7-device', 'mcps-mqtt-broker', 'mcps-mqtt-device', 'mcps-seal-forward', 'mcps-serial-device', 'mcps-serial-port', 'mcps-to-fhir'], 'our node types are registered');
  t.same(ours.filter((n) => !n.enabled || n.err).map((n) => `${n.types.join(',')}: ${n.err}`), [], 'loaded without errors');
  const help = await (await fetch(`${url}/nodes`, { headers: { accept: 'text/html' } })).text();
  t.match(help, /data-help-name="mcps-batch"/, 'the editor gets our templates and help');

  // The package's examples are offered under Import → Examples and each deploys.
  const listing = (await (await fetch(`${url}/library/examples/flows/mcps-edge`, { headers: { accept: 'application/json' } })).json()) as Array<{ fn?: string }>;
  const names = listing.map((e) => e.fn).filter((n): n is string => typeof n === 'string').sort();
  t.same(names, ['01 Gateway default flow', '02 Serial bench test', '03 MQTT devices only', '04 Alarms from out-of-range readings', '05 FHIR export'], 'examples are listed');
  for (const name of names) {
    const ex = (await (await fetch(`${url}/library/examples/flows/mcps-edge/${encodeURIComponent(name)}`, { headers: { accept: 'application/json' } })).json()) as unknown[];
    const res = await fetch(`${url}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify(ex) });
    t.ok(res.ok, `example "${name}" deploys (HTTP ${res.status})`);
  }

  // A flow that uses the batch node: each GET /mcps-test sends one reading; batches of one come back.
  const flow = [
    { id: 'tab1', type: 'tab', label: 'mcps test' },
    { id: 'in1', z: 'tab1', type: 'http in', url: '/mcps-test', method: 'get', wires: [['fn1']] },
    { id: 'fn1', z: 'tab1', type: 'function', func: "msg.res0 = msg.res; msg.payload = { deviceId: 'oxi-1', patient: 'p-1', kind: 'spo2', mdc: '150456', loinc: '2708-6', value: 97, unit: '%', deviceTime: null, receivedAt: Date.now(), deviceSeq: 1, source: 'serial' }; flow.set('res', msg.res); return msg;", outputs: 1, wires: [['b1']] },
    { id: 'b1', z: 'tab1', type: 'mcps-batch', maxCount: 1, maxAgeMs: 1000, wires: [['fn2']] },
    { id: 'fn2', z: 'tab1', type: 'function', func: "msg.res = flow.get('res'); msg.payload = { count: msg.count, kinds: msg.payload.map(r => r.kind) }; return msg;", outputs: 1, wires: [['out1']] },
    { id: 'out1', z: 'tab1', type: 'http response', wires: [] },
  ];
  const deploy = await fetch(`${url}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify(flow) });
  t.ok(deploy.ok, `the flow deploys (HTTP ${deploy.status})`);
  await new Promise((r) => setTimeout(r, 300));
  const res = await fetch(`${url}/mcps-test`);
  t.same(await res.json(), { count: 1, kinds: ['spo2'] }, 'the flow runs through mcps-batch');
});
