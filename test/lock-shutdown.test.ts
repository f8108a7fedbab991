// One process per data directory, and stopping with a deadline, on real processes: the gateway,
// the chain node and `mcps up` refuse a data directory another process holds, naming its pid; a
// holder killed with SIGKILL leaves no stale lock; SIGTERM drains and the exit code says whether
// the drain completed (0) or the deadline came first (3) — it never hangs on an outbox that cannot drain.
import t from 'tap';
import mqtt from 'mqtt';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { DirLockedError, lockDataDir } from '../common/dir-lock';
import { writeKeyFile } from '../common/key-file';
import { PATIENT_TAG_KEY_KIND } from '../common/key-kinds';
import { randomBytes } from 'node:crypto';
import { MCPS, lastJson, mcps } from './cli.helpers';

t.test('the data directory lock: refused at once naming the holder, free again after a crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Another process holds it.
  const holder = spawn(process.execPath, ['-e', `require(${JSON.stringify(join(__dirname, '..', 'common', 'dir-lock.js'))}).lockDataDir(process.argv[1], 'test holder'); console.log('held'); setInterval(() => {}, 1000);`, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => holder.kill('SIGKILL'));
  await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
  const started = Date.now();
  const err = (() => {
    try {
      lockDataDir(dir);
    } catch (e) {
      return e;
    }
    return null;
  })();
  t.ok(err instanceof DirLockedError, 'a second holder is refused');
  t.match((err as Error).message, new RegExp(`in use by pid ${holder.pid} \\(test holder`), 'naming the holder\'s pid and command');
  t.ok(Date.now() - started < 2000, 'at once');
  // The holder dies without releasing anything: the kernel drops its lock.
  const gone = new Promise<void>((r) => holder.once('exit', () => r()));
  holder.kill('SIGKILL');
  await gone;
  const mine = lockDataDir(dir);
  t.pass('after a SIGKILL the directory is free at once (no stale lock)');
  // And within one process a second take is refused too.
  t.throws(() => lockDataDir(dir), new RegExp(`in use by pid ${process.pid}`));
  mine.release();
  lockDataDir(dir).release();
});

t.test('mcps up, mcps chain-node and mcps gateway each exit at once on a held data directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-lock-cmds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const locks = ['stack', 'node', 'gw'].map((d) => lockDataDir(join(dir, d), 'test'));
  t.teardown(() => locks.forEach((l) => l.release()));
  const node = join(dir, 'node.json');
  writeFileSync(node, JSON.stringify({ dataDir: join(dir, 'node'), nodeId: 'node-1', host: '127.0.0.1', port: 0, chain: { rpcUrl: 'http://127.0.0.1:1', registry: `0x${'1'.repeat(40)}`, anchor: `0x${'2'.repeat(40)}` } }));
  const gw = join(dir, 'gw.json');
  writeFileSync(gw, JSON.stringify(gatewayConfig(join(dir, 'gw'))));
  const [up, chainNode, gateway] = await Promise.all([
    mcps(['up', '--data', join(dir, 'stack'), '--editor-port', '0', '--mqtt-port', '0', '--node-port', '0', '--no-status'], { timeoutMs: 60_000 }),
    mcps(['chain-node', '--config', node], { timeoutMs: 60_000 }),
    mcps(['gateway', '--config', gw], { timeoutMs: 60_000 }),
  ]);
  for (const [name, r] of [['mcps up', up], ['mcps chain-node', chainNode], ['mcps gateway', gateway]] as const) {
    t.equal(r.code, 1, `${name} exits with 1`);
    t.match(r.stdout + r.stderr, new RegExp(`is in use by pid ${process.pid}`), `${name} names the holder's pid`);
  }
});

function gatewayConfig(dataDir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dataDir,
    gatewayId: 'gw-lock',
    editor: { host: '127.0.0.1', port: 0 },
    mqtt: { host: '127.0.0.1', port: 0 },
    // No chain node and no chain answer here: batches are sealed and wait in the outbox.
    chainNode: { url: 'http://127.0.0.1:1', nodeId: 'node-1' },
    chain: { rpcUrl: 'http://127.0.0.1:1', registry: `0x${'1'.repeat(40)}` },
    ownerPublicKey: Buffer.from(x25519.getPublicKey(x25519.utils.randomSecretKey())).toString('hex'),
    ...extra,
  };
}

interface Running {
  proc: ChildProcess;
  lines: string[];
  mqttPort: number;
  exited: Promise<number | null>;
}

/** Starts `mcps gateway` and waits for its ready line (JSON logs on stdout). */
async function startGateway(config: string): Promise<Running> {
  const proc = spawn(process.execPath, [MCPS, 'gateway', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let buf = '';
  const onData = (d: Buffer): void => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = lines.map((l) => (l.startsWith('{') ? (JSON.parse(l) as { event?: string; mqttPort?: number }) : {})).find((l) => l.event === 'ready');
    if (ready?.mqttPort) return { proc, lines, mqttPort: ready.mqttPort, exited };
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`gateway did not start: ${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('SIGTERM drains with a deadline: exit 0 when drained, 3 when the outbox cannot drain; never hangs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-shutdown-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'gw');
  const config = join(dir, 'gw.json');
  writeFileSync(config, JSON.stringify(gatewayConfig(data, { drainTimeoutS: 3 })));
  // The hospital's patient tag key, which a gateway needs before it seals (installed by the hospital).
  writeKeyFile(join(data, 'keys', 'patient-tag.key'), PATIENT_TAG_KEY_KIND, new Uint8Array(randomBytes(32)));
  const device = lastJson(await mcps(['devices', 'add', 'temp-bed1', '--patient', 'p-0001', '--config', config, '--json'])) as { password: string };

  // 1. Nothing held: SIGTERM drains at once, exit 0; a second gateway meanwhile is refused.
  const a = await startGateway(config);
  t.teardown(() => a.proc.kill('SIGKILL'));
  const b = await mcps(['gateway', '--config', config], { timeoutMs: 60_000 });
  t.equal(b.code, 1, 'a second gateway on the same data directory exits with 1');
  t.match(b.stdout + b.stderr, new RegExp(`in use by pid ${a.proc.pid}`), 'naming the running one\'s pid');
  a.proc.kill('SIGTERM');
  t.equal(await a.exited, 0, 'exit 0: drained');
  t.match(a.lines.join('\n'), /drained and stopped/);

  // 2. Readings that cannot be anchored (no chain node): after SIGKILL the next start takes the
  // directory at once, and SIGTERM gives up at the deadline with exit 3, the work kept on disk.
  const c = await startGateway(config);
  t.teardown(() => c.proc.kill('SIGKILL'));
  const client = mqtt.connect(`mqtt://127.0.0.1:${c.mqttPort}`, { clientId: 'temp-bed1', username: 'temp-bed1', password: device.password, reconnectPeriod: 0 });
  await new Promise<void>((r, j) => {
    client.once('connect', () => r());
    client.once('error', j);
  });
  for (let seq = 1; seq <= 5; seq++) await client.publishAsync('mcps/devices/temp-bed1/readings', JSON.stringify({ v: 1, deviceId: 'temp-bed1', patient: 'p-0001', seq, kind: 'body_temp', value: 36.5, unit: 'Cel', time: Date.now() }), { qos: 1 });
  await client.endAsync(true);
  t.pass('5 readings acknowledged (journaled)');
  c.proc.kill('SIGKILL');
  await c.exited;
  const d = await startGateway(config);
  t.teardown(() => d.proc.kill('SIGKILL'));
  t.pass('after a SIGKILL the gateway starts again on its directory (the crashed holder left no lock)');
  const stopAt = Date.now();
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 3, 'exit 3: stopped at the deadline with work left');
  const took = Date.now() - stopAt;
  t.ok(took < 3000 + 15_000, `stopped within the deadline plus the stop grace (${took} ms)`);
  t.match(d.lines.join('\n'), /stopped at the drain deadline with work left \(0 readings not yet sealed, [1-9]\d* sealed batches without a receipt\)/, 'the log says what is left');
});
