// Prometheus metrics and health of the gateway, over real HTTP on the monitoring listener: values
// from a real runtime (journal, sealer, outbox), bounded labels, readiness that names what is wrong,
// every metric documented, and the exposition checked by promtool when it is installed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';
import { startMonitoringServer } from '../common/monitoring-server';
import { gatewayRegistry } from '../gateway/monitoring/gateway-metrics';
import { gatewayReadiness } from '../gateway/monitoring/readiness';
import { probeWritable } from '../gateway/journal/state-db';
import type { SerialLinkStatus } from '../gateway/ingest/serial-link';
import { testRuntime } from './gateway-runtime.helpers';
import { promtool } from './promtool.helpers';

const creds = new DeviceCredentials([{ id: 'temp-bed1', patient: 'p-1', passwordHash: hashPassword('pw-temp-bed1') }]);
const base = Date.now() - 1000;
const payload = (seq: number): Buffer => Buffer.from(JSON.stringify({ v: 1, deviceId: 'temp-bed1', patient: 'p-1', seq, kind: 'body_temp', value: 36.7, unit: 'Cel', time: base + seq }));


/** The value of one series in Prometheus text format (labels given as they appear, or none). */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('the gateway metrics come from the runtime, over HTTP, at scrape time', async (t) => {
  // The chain node is away: every submission fails, so batches wait in the outbox.
  const h = await testRuntime({ devices: creds, client: { submit: () => Promise.reject(new Error('chain node unreachable')) } });
  t.teardown(() => h.close());
  const rt = h.rt;
  let flow = true;
  const server = await startMonitoringServer({
    host: '127.0.0.1',
    port: 0,
    registry: gatewayRegistry(rt),
    readiness: gatewayReadiness({ runtime: rt, flowRunning: () => flow, probeJournal: () => probeWritable(h.db), outboxMaxAgeS: 3600 }),
  });
  t.teardown(() => server.close());
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  for (let i = 1; i <= 5; i++) await rt.acceptMqtt('mcps/devices/temp-bed1/readings', 'temp-bed1', payload(i));
  await rt.acceptMqtt('mcps/devices/temp-bed1/readings', 'temp-bed1', payload(3)); // a re-sent one
  await rt.acceptMqtt('mcps/devices/temp-bed1/readings', 'temp-bed1', Buffer.from('{"v":1,"nonsense":true}'));
  const entries = h.journal.unsealed(100, Number.MAX_SAFE_INTEGER).map((e) => ({ reading: e.reading, journalId: e.id }));
  await rt.sealBatch(entries.slice(0, 3));
  const serial: SerialLinkStatus = { path: '/dev/serial/by-id/usb-Nonin-if00', state: 'stale', openedAt: Date.now() - 20_000, lastByteAt: Date.now() - 12_000, lastFrameAt: Date.now() - 12_000, reopens: { error: 2, stale: 3 }, staleEvents: 1 };
  rt.serialLinks.add({ deviceId: 'oxi-bed1', status: serial });

  const res = await fetch(`${server.url}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  t.equal(value(text, 'mcps_gateway_readings_accepted_total'), 5, 'accepted');
  t.equal(value(text, 'mcps_gateway_readings_duplicate_total'), 1, 'the re-sent reading');
  t.equal(value(text, 'mcps_gateway_readings_refused_total{reason="invalid"}'), 1, 'refused, by reason');
  t.equal(value(text, 'mcps_gateway_readings_refused_total{reason="storage_full"}'), 0, 'every reason present, zero or not');
  t.equal(value(text, 'mcps_gateway_journal_unsealed_readings'), 2, 'journal depth');
  t.ok(value(text, 'mcps_gateway_journal_commits_total')! >= 1, 'journal commits');
  t.equal(value(text, 'mcps_gateway_batches_sealed_total'), 1);
  t.equal(value(text, 'mcps_gateway_outbox_batches'), 1, 'outbox depth');
  t.ok(value(text, 'mcps_gateway_outbox_oldest_age_seconds')! > 0, 'outbox oldest age');
  t.equal(typeof value(text, 'mcps_gateway_batch_submit_failures_total'), 'number', 'failed submissions (counted by the gateway process; the stack test sees them)');
  t.equal(value(text, 'mcps_gateway_storage_state{state="ok"}'), 1);
  t.equal(value(text, 'mcps_gateway_storage_state{state="full"}'), 0);
  t.equal(value(text, 'mcps_gateway_registration_state{state="unknown"}'), 1);
  t.equal(value(text, 'mcps_gateway_serial_port_state{port="/dev/serial/by-id/usb-Nonin-if00",device="oxi-bed1",state="stale"}'), 1, 'serial state per port');
  t.equal(value(text, 'mcps_gateway_serial_port_state{port="/dev/serial/by-id/usb-Nonin-if00",device="oxi-bed1",state="open"}'), 0);
  t.ok(value(text, 'mcps_gateway_serial_last_byte_age_seconds{port="/dev/serial/by-id/usb-Nonin-if00",device="oxi-bed1"}')! >= 11, 'last byte age');
  t.equal(value(text, 'mcps_gateway_serial_reopens_total{port="/dev/serial/by-id/usb-Nonin-if00",device="oxi-bed1",reason="stale"}'), 3);
  t.equal(value(text, 'mcps_gateway_serial_stale_total{port="/dev/serial/by-id/usb-Nonin-if00",device="oxi-bed1"}'), 1);
  t.equal(value(text, 'mcps_gateway_handshake_failures_total{reason="unreachable"}'), 0, 'handshake failure reasons present');
  t.match(text, /^mcps_gateway_anchor_latency_seconds_bucket\{le="60"\} 0$/m, 'anchoring latency histogram');
  t.match(text, /^mcps_gateway_info\{gateway_id="gw-1",version="[^"]+"\} 1$/m);
  for (const std of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) t.match(text, new RegExp(`^${std} `, 'm'), `${std} (process metrics)`);
  t.notOk(/p-1|36\.7|temp-bed1/.test(text), 'no patient, device login or reading value in the metrics');

  // Counters never go down between scrapes, and readings on the hot path only bump numbers.
  await rt.acceptMqtt('mcps/devices/temp-bed1/readings', 'temp-bed1', payload(6));
  const again = await (await fetch(`${server.url}/metrics`)).text();
  t.equal(value(again, 'mcps_gateway_readings_accepted_total'), 6);

  // Every mcps_ metric is in the operations guide's reference table.
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8');
  const names = [...new Set([...text.matchAll(/^# TYPE (mcps_\w+) /gm)].map((m) => m[1]!))];
  t.ok(names.length >= 25, `${names.length} mcps_ metrics`);
  t.same(names.filter((n) => !doc.includes(`\`${n}\``)), [], 'every metric documented in docs/operations.md');

  const tool = promtool();
  if (!tool) t.comment('SKIP promtool check metrics: promtool is not installed (Debian package prometheus)');
  else {
    const r = spawnSync(tool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    t.equal(r.status, 0, `promtool check metrics accepts the exposition: ${r.stdout}${r.stderr}`);
    t.equal((r.stdout + r.stderr).trim(), '', 'and has no lint remarks');
  }
});

t.test('/healthz answers while the process lives; /readyz says which check fails and what to do', async (t) => {
  const h = await testRuntime({ devices: creds, client: { submit: () => Promise.reject(new Error('chain node unreachable')) } });
  t.teardown(() => h.close());
  let flow = true;
  let clock = Date.now();
  let journalBroken = false;
  const server = await startMonitoringServer({
    host: '127.0.0.1',
    port: 0,
    registry: gatewayRegistry(h.rt, { processMetrics: false }),
    readiness: gatewayReadiness({
      runtime: h.rt,
      flowRunning: () => flow,
      probeJournal: () => {
        if (journalBroken) throw new Error('SQLITE_READONLY: attempt to write a readonly database');
        probeWritable(h.db);
      },
      outboxMaxAgeS: 600,
      now: () => clock,
      probeEveryMs: 0,
    }),
  });
  t.teardown(() => server.close());
  const ready = async (): Promise<{ status: number; body: { status: string; checks: Array<{ name: string; ok: boolean; detail: string }> } }> => {
    const r = await fetch(`${server.url}/readyz`);
    return { status: r.status, body: (await r.json()) as { status: string; checks: Array<{ name: string; ok: boolean; detail: string }> } };
  };
  const alive = await fetch(`${server.url}/healthz`);
  t.equal(alive.status, 200);
  t.match(await alive.json(), { status: 'alive' });

  // No broker attached in this runtime: not ready, and it says the broker is why.
  let r = await ready();
  t.equal(r.status, 503);
  t.same(r.body.checks.filter((c) => !c.ok).map((c) => c.name), ['broker']);
  const fakeBroker = { listening: true, port: 1883, counters: { authFailures: 0, aclDenied: 0, clientsConnected: 3, publishesRefused: 0 } };
  h.rt.attachBroker(fakeBroker as unknown as Parameters<typeof h.rt.attachBroker>[0]); // a stand-in: only listening, port and counters are read
  r = await ready();
  t.equal(r.status, 200, 'flow, broker, journal and chain all fine');
  t.same(r.body.checks.map((c) => c.name), ['flow', 'broker', 'journal', 'chain']);

  flow = false;
  journalBroken = true;
  r = await ready();
  t.equal(r.status, 503);
  t.match(r.body.checks.find((c) => c.name === 'flow'), { ok: false, detail: /deploy a flow/ });
  t.match(r.body.checks.find((c) => c.name === 'journal'), { ok: false, detail: /SQLITE_READONLY.*check the disk/ });
  flow = true;
  journalBroken = false;

  // A batch that waits longer than the outbox budget: not ready, naming the chain node.
  await h.rt.acceptMqtt('mcps/devices/temp-bed1/readings', 'temp-bed1', payload(1));
  await h.rt.sealBatch(h.journal.unsealed(10, Number.MAX_SAFE_INTEGER).map((e) => ({ reading: e.reading, journalId: e.id })));
  r = await ready();
  t.equal(r.status, 200, 'a young outbox is fine: store and forward');
  clock += 3600_000;
  r = await ready();
  t.equal(r.status, 503);
  t.match(r.body.checks.find((c) => c.name === 'chain'), { ok: false, detail: /1 batches waiting.*over the 600 s budget.*reachable/ });

  t.equal((await fetch(`${server.url}/metrics`, { method: 'POST' })).status, 405, 'read-only');
  t.equal((await fetch(`${server.url}/nope`)).status, 404);
});

t.test('a metrics port in use is named in the error', async (t) => {
  const h = await testRuntime({ devices: creds, client: { submit: () => Promise.reject(new Error('x')) } });
  t.teardown(() => h.close());
  const reg = gatewayRegistry(h.rt, { processMetrics: false });
  const a = await startMonitoringServer({ host: '127.0.0.1', port: 0, registry: reg, readiness: async () => [] });
  t.teardown(() => a.close());
  await t.rejects(startMonitoringServer({ host: '127.0.0.1', port: a.port, registry: reg, readiness: async () => [] }), new RegExp(`metrics port 127\\.0\\.0\\.1:${a.port} is in use`));
});
