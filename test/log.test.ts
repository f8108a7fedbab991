// Structured logs (pino): one JSON event per line with stable fields, levels, redaction of secrets
// and reading values, Node-RED's own log brought into the same lines, and a real process's output.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { createLogger, logFn, parseLogLine, prettyChildLine, REDACTED, type LogFields } from '../common/log';
import { nodeRedLogging } from '../gateway/host/node-red-host';
import { startBroker } from '../gateway/ingest/broker';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';

function memoryLogger(name: string, level: 'debug' | 'info' | 'warn' = 'info'): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const logger = createLogger(name, { level, destination: { write: (s: string) => void lines.push(...s.split('\n').filter(Boolean)) } });
  return { lines, logger };
}

t.test('one JSON object per line with time, level, name, pid, msg, component and the event fields', async (t) => {
  const { lines, logger } = memoryLogger('gateway', 'debug');
  const log = logFn(logger, 'outbox');
  log('warn', 'batch 7: chain node unreachable (attempt 3, will retry)', { event: 'submit-failed', seq: 7, attempt: 3 });
  log('debug', 'a detail');
  t.equal(lines.length, 2);
  const e = JSON.parse(lines[0]!) as LogFields;
  t.match(e, { level: 'warn', name: 'gateway', pid: process.pid, component: 'outbox', event: 'submit-failed', seq: 7, attempt: 3, msg: 'batch 7: chain node unreachable (attempt 3, will retry)' });
  t.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'time in ISO 8601 UTC');
  t.notOk('hostname' in e, 'no hostname (the journal has it)');
  t.equal(parseLogLine(lines[1]!)?.level, 'debug');
  t.equal(parseLogLine('plain text'), null, 'a line that is not ours is recognised as such');
});

t.test('levels below the configured one are not written; MCPS_LOG_LEVEL sets the default', async (t) => {
  const { lines, logger } = memoryLogger('up', 'warn');
  const log = logFn(logger);
  log('info', 'not shown');
  log('debug', 'not shown');
  log('warn', 'shown');
  log('error', 'shown');
  t.same(lines.map((l) => parseLogLine(l)!.level), ['warn', 'error']);
  const before = process.env.MCPS_LOG_LEVEL;
  process.env.MCPS_LOG_LEVEL = 'error';
  t.teardown(() => (before === undefined ? delete process.env.MCPS_LOG_LEVEL : (process.env.MCPS_LOG_LEVEL = before)));
  const l2: string[] = [];
  const fromEnv = createLogger('x', { destination: { write: (s: string) => void l2.push(s) } });
  t.equal(fromEnv.level, 'error');
  process.env.MCPS_LOG_LEVEL = 'loud';
  t.equal(createLogger('x', { destination: { write: () => undefined } }).level, 'info', 'an unknown level falls back to info');
});

t.test('secrets and reading values are redacted wherever a careless caller puts them', async (t) => {
  const { lines, logger } = memoryLogger('gateway');
  const log = logFn(logger, 'test');
  const secretish = {
    password: 'hunter2-password',
    passwordHash: 'scrypt$abc$hash-of-it',
    secretKey: 'sk-00112233445566',
    privateKey: '0xdeadbeefprivate',
    token: 'tok-123456',
    authorization: 'Basic YWRtaW46cGFzcw==',
    cookie: 'session=abcdef123',
    value: 97.25,
    values: [120, 80],
    samples: [0.125, 0.25],
    payload: '{"v":36.6}',
    raw: 'ff00aa55',
    reading: { kind: 'spo2', value: 96.5 },
    device: { id: 'oxi-bed1', password: 'nested-password-1', value: 61.5 },
  };
  log('info', 'something happened', { ...secretish, seq: 3, deviceId: 'oxi-bed1' });
  const line = lines.join('\n');
  for (const leak of ['hunter2-password', 'hash-of-it', 'sk-00112233445566', 'deadbeefprivate', 'tok-123456', 'YWRtaW46cGFzcw', 'abcdef123', '97.25', '36.6', 'ff00aa55', '96.5', 'nested-password-1', '61.5', '0.125']) {
    t.notOk(line.includes(leak), `"${leak}" is not in the log`);
  }
  const e = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.equal(e.password, REDACTED);
  t.equal(e.value, REDACTED);
  t.equal(e.reading, REDACTED);
  t.match(e.device, { id: 'oxi-bed1', password: REDACTED, value: REDACTED }, 'one level down too, ids kept');
  t.equal(e.seq, 3, 'ordinary facts kept');
  t.equal(e.deviceId, 'oxi-bed1');
});

t.test('the broker logs a refused login with the client id, never the password, as structured fields', async (t) => {
  const { lines, logger } = memoryLogger('gateway');
  const creds = new DeviceCredentials([{ id: 'temp-bed1', patient: 'p-1', passwordHash: hashPassword('the-right-password') }]);
  const broker = await startBroker({ port: 0, credentials: creds, log: logFn(logger) });
  t.teardown(() => broker.close());
  const c = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'temp-bed1', username: 'temp-bed1', password: 'a-wrong-password', reconnectPeriod: 0 });
  await new Promise<void>((r) => c.once('error', () => r()));
  c.end(true);
  const all = lines.join('\n');
  t.notOk(all.includes('a-wrong-password') || all.includes('the-right-password'), 'no password in the log');
  const e = lines.map((l) => parseLogLine(l)).find((x) => x?.event === 'login-refused');
  t.match(e, { level: 'warn', component: 'mqtt', client: 'temp-bed1' }, 'the refusal as an event with its client id');
});

t.test("Node-RED's log (its own and the nodes') becomes our JSON lines with the node's type and id", async (t) => {
  const { lines, logger } = memoryLogger('gateway', 'debug');
  const cfg = nodeRedLogging(logFn(logger), 'warn') as { mcps: { handler: () => (m: unknown) => void; level: string } };
  t.equal(cfg.mcps.level, 'warn');
  const h = cfg.mcps.handler();
  h({ level: 30, msg: '/dev/pts/9: port closed (retrying)', type: 'mcps-serial-device', id: 'a1b2', name: 'bed 1' });
  h({ level: 20, msg: new Error('boom'), type: 'function', id: 'c3' });
  h({ level: 98, msg: { event: 'audit' } });
  t.equal(lines.length, 2, 'audit and metric events are not log lines');
  t.match(parseLogLine(lines[0]!), { level: 'warn', component: 'node-red', nodeType: 'mcps-serial-device', nodeId: 'a1b2', nodeName: 'bed 1', msg: '/dev/pts/9: port closed (retrying)' });
  t.match(parseLogLine(lines[1]!), { level: 'error', nodeType: 'function', msg: 'boom' });
});

t.test('on a terminal, `mcps up` pretty-prints JSON lines and passes anything else through', async (t) => {
  const fmt = prettyChildLine();
  const out = fmt(JSON.stringify({ level: 'warn', time: '2026-01-01T10:00:00.000Z', name: 'gateway', pid: 1, component: 'mqtt', msg: 'refused login' }));
  t.match(out, /WARN/);
  t.match(out, /refused login/);
  t.notOk(out.startsWith('{'), 'not JSON any more');
  t.equal(fmt('    at Object.<anonymous> (file.js:1:1)'), '    at Object.<anonymous> (file.js:1:1)');
});

t.test('a real `mcps gateway` process logs its failure as a JSON line on stdout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'gateway.json');
  writeFileSync(cfg, JSON.stringify({ dataDir: dir, gatewayId: 'gw 1' }));
  const r = spawnSync(process.execPath, [join(__dirname, '..', 'cli', 'mcps.js'), 'gateway', '--config', cfg], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 1, 'exits 1');
  const lines = r.stdout.split('\n').filter(Boolean);
  t.ok(lines.length >= 1, 'it logged');
  const parsed = lines.map((l) => parseLogLine(l));
  t.same(lines.filter((_, i) => parsed[i] === null), [], 'every stdout line is a JSON event');
  t.match(parsed.find((p) => p?.level === 'error'), { name: 'gateway', msg: /gatewayId|editor/ }, 'the error names the field');
});
