// The "to fhir" and "fhir out" nodes under node-red-node-test-helper (a real Node-RED runtime),
// posting over real HTTP to a FHIR server written for the test (test/fhir-server.helpers.ts):
// batches arrive as valid transaction Bundles with the login from the node's credentials; an outage
// (connection refused, then 503) and a restart of the node while the server is away lose nothing and
// keep the order; a refusal's OperationOutcome shows in the status and leaves on output 2 while later
// Bundles still go; a wrong password stops delivery but drops nothing.
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, FhirResource, Observation } from 'fhir/r4';
import { READING_KINDS, type Reading, type ReadingKind } from '../protocol/reading';
import { fhirSchemaErrors } from './fhir-schema.helpers';
import { startFhirServer, type FhirTestServer } from './fhir-server.helpers';
import { nodeRedHelper, type HelperNode } from './node-red.helpers';

const helper = nodeRedHelper();
// The helper's RED._ returns the key; these wrappers translate with the nodes' real message catalogues.
type Register = (RED: { _: (k: string, subs?: Record<string, unknown>) => string }) => void;
const withCatalog = (file: string, catalog: string): Register => {
  const register = require(file) as Register;
  const messages = JSON.parse(readFileSync(join(__dirname, '..', 'nodes', 'locales', 'en-US', catalog), 'utf8')) as Record<string, unknown>;
  return (RED) => {
    RED._ = (key, subs = {}) => {
      let v: unknown = messages;
      for (const part of key.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
      if (typeof v !== 'string') return key;
      return v.replace(/__(\w+)__/g, (_m, name: string) => String(subs[name] ?? ''));
    };
    register(RED);
  };
};
const toFhirNode = withCatalog('../nodes/to-fhir', 'to-fhir.json');
const fhirOutNode = withCatalog('../nodes/fhir-out', 'fhir-out.json');
const dir = mkdtempSync(join(tmpdir(), 'mcps-fhir-out-'));
const T0 = Date.UTC(2026, 11, 2, 10, 0, 0);
const BASIC = `Basic ${Buffer.from('gateway:s3cret pass').toString('base64')}`;

const reading = (kind: ReadingKind, seq: number, patient = 'p-0001'): Reading => {
  const k = READING_KINDS[kind];
  return { deviceId: `dev-${patient}`, patient, kind, mdc: k.mdc, loinc: k.loinc, value: k.min + 1, unit: k.unit, deviceTime: T0 + seq * 1000, receivedAt: T0 + seq * 1000 + 20, deviceSeq: seq, source: 'mqtt' };
};
const batch = (n: number, patient = 'p-0001'): Reading[] => [reading('spo2', n, patient), reading('pulse_rate', n, patient)];

// The helper spies on status for all nodes at once: follow each node's own calls.
const statuses = new WeakMap<HelperNode, { fill?: string; text?: string }>();
function follow(n: HelperNode): HelperNode {
  n.on('call:status', (call) => statuses.set(n, (call as { args: [{ fill?: string; text?: string }] }).args[0]));
  return n;
}
function lastStatus(n: HelperNode): { fill?: string; text?: string } {
  return statuses.get(n) ?? {};
}

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function flow(url: string, queueDir: string, extra: Record<string, unknown> = {}) {
  return [
    { id: 'conv', type: 'mcps-to-fhir', bundleType: 'transaction', wires: [['out']] },
    { id: 'out', type: 'mcps-fhir-out', url, authType: 'basic', queueDir, initialBackoffMs: 40, maxBackoffS: 0.2, timeoutS: 5, wires: [['ok'], ['refused']], ...extra },
    { id: 'ok', type: 'helper' },
    { id: 'refused', type: 'helper' },
  ];
}
const creds = (password = 's3cret pass') => ({ out: { username: 'gateway', password } });
const observationsIn = (srv: FhirTestServer) => [...srv.store.values()].filter((r): r is Observation => r.resourceType === 'Observation');

t.before(() => new Promise<void>((r) => helper.startServer(r)));
t.teardown(async () => {
  await new Promise<void>((r) => helper.stopServer(r));
  rmSync(dir, { recursive: true, force: true });
});
t.afterEach(() => helper.unload());

t.test('to fhir: a reading to an Observation, a batch to a Bundle, a bad reading reported and left out', async (t) => {
  await helper.load(toFhirNode, [
    { id: 'c', type: 'mcps-to-fhir', bundleType: 'collection', patientSystem: 'urn:oid:1.2.3.4', wires: [['h']] },
    { id: 'h', type: 'helper' },
  ]);
  const c = follow(helper.getNode('c'));
  const got: Array<{ payload: FhirResource }> = [];
  helper.getNode('h').on('input', (m) => got.push(m as { payload: FhirResource }));
  const errors: unknown[] = [];
  c.on('call:error', (call) => errors.push(call));
  c.receive({ payload: reading('body_temp', 1) });
  c.receive({ payload: [reading('nibp_systolic', 2), { ...reading('nibp_diastolic', 3), deviceTime: T0 + 2000 }, { ...reading('spo2', 4), patient: '' }, 'junk'] });
  await until('two outputs', () => got.length === 2);
  const obs = got[0].payload as Observation;
  t.equal(obs.resourceType, 'Observation');
  t.same(fhirSchemaErrors(obs), []);
  t.equal(obs.subject?.identifier?.system, 'urn:oid:1.2.3.4');
  t.match(obs.device?.reference, /^DeviceMetric\//);
  const b = got[1].payload as Bundle;
  t.equal(b.type, 'collection');
  t.same(fhirSchemaErrors(b), []);
  const codes = (b.entry ?? []).map((e) => e.resource as FhirResource).filter((r): r is Observation => r.resourceType === 'Observation').map((o) => o.code.coding?.[0]?.code);
  t.same(codes, ['85354-9'], 'systolic and diastolic at the same time: one panel');
  await until('two errors', () => errors.length === 2);
  await until('the status counts', () => /2 observations in 1 bundles, 2 refused/.test(lastStatus(c).text ?? ''));
});

t.test('fhir out: Bundles reach the server with the login from the credentials', async (t) => {
  const srv = await startFhirServer({ auth: BASIC });
  t.teardown(() => srv.close());
  const q = join(dir, 'happy');
  await helper.load([toFhirNode, fhirOutNode], flow(srv.url, q), creds());
  follow(helper.getNode('out'));
  const ok: Array<{ statusCode: number; payload: Bundle }> = [];
  helper.getNode('ok').on('input', (m) => ok.push(m as { statusCode: number; payload: Bundle }));
  for (let i = 1; i <= 3; i++) helper.getNode('conv').receive({ payload: batch(i) });
  await until('three accepted', () => ok.length === 3);
  t.same(ok.map((m) => [m.statusCode, m.payload.type]), [[200, 'transaction-response'], [200, 'transaction-response'], [200, 'transaction-response']]);
  t.equal(observationsIn(srv).length, 6);
  t.ok(srv.posts.every((p) => p.auth === BASIC), 'every POST carries the Basic login');
  await until('status', () => /3 sent, 0 queued, 0 refused/.test(lastStatus(helper.getNode('out')).text ?? ''));
  t.same(readdirSync(q).filter((f) => f.endsWith('.json')), [], 'the queue is empty');
  helper.getNode('conv').receive({ payload: batch(1) });
  await until('the repeat', () => ok.length === 4);
  t.equal(observationsIn(srv).length, 6, 'the same batch again updates, never duplicates');
});

t.test('fhir out: an outage and a restart while it lasts lose nothing and keep the order', async (t) => {
  let srv = await startFhirServer({ auth: BASIC });
  const port = srv.port;
  await srv.close(); // connection refused from now on
  const q = join(dir, 'outage');
  await helper.load([toFhirNode, fhirOutNode], flow(`http://127.0.0.1:${port}/fhir`, q), creds());
  follow(helper.getNode('out'));
  for (let i = 1; i <= 4; i++) helper.getNode('conv').receive({ payload: batch(i) });
  await until('retrying', () => /retry in/.test(lastStatus(helper.getNode('out')).text ?? ''));
  t.equal(lastStatus(helper.getNode('out')).fill, 'red');
  t.match(lastStatus(helper.getNode('out')).text, /ECONNREFUSED.*4 queued/);
  t.equal(readdirSync(q).filter((f) => f.endsWith('.json')).length, 4, 'four Bundles on disk');

  await helper.unload(); // the gateway restarts while the server is still away
  srv = await startFhirServer({ port, auth: BASIC });
  t.teardown(() => srv.close());
  srv.mode = 'down'; // it answers now, but with 503
  await helper.load([toFhirNode, fhirOutNode], flow(srv.url, q), creds());
  follow(helper.getNode('out'));
  helper.getNode('conv').receive({ payload: batch(5) });
  await until('a 503 seen', () => srv.posts.some((p) => p.status === 503));
  await until('retrying after 503', () => /HTTP 503/.test(lastStatus(helper.getNode('out')).text ?? ''));
  t.equal(observationsIn(srv).length, 0);

  const ok: Array<{ bundle: Bundle }> = [];
  helper.getNode('ok').on('input', (m) => ok.push(m as { bundle: Bundle }));
  srv.mode = 'up';
  await until('all five delivered', () => ok.length === 5);
  t.equal(observationsIn(srv).length, 10, 'every reading arrived');
  const order = srv.posts.filter((p) => p.status === 200).map((p) => (p.bundle?.entry ?? []).map((e) => e.resource as FhirResource).filter((r): r is Observation => r.resourceType === 'Observation')[0]?.identifier?.[0]?.value?.split('/')[2]);
  t.same(order, ['1', '2', '3', '4', '5'], 'in the order they were queued');
  t.same(readdirSync(q).filter((f) => f.endsWith('.json')), []);
});

t.test('fhir out: a refusal shows its OperationOutcome, goes to output 2 and is kept; the next Bundle still goes', async (t) => {
  const srv = await startFhirServer({ auth: BASIC });
  t.teardown(() => srv.close());
  srv.knownPatients = new Set(['p-0001']);
  const q = join(dir, 'refusal');
  await helper.load([toFhirNode, fhirOutNode], flow(srv.url, q), creds());
  follow(helper.getNode('out'));
  const ok: unknown[] = [];
  const refused: Array<{ payload: { resourceType: string; issue: { diagnostics: string }[] }; statusCode: number; keptAt: string }> = [];
  helper.getNode('ok').on('input', (m) => ok.push(m));
  helper.getNode('refused').on('input', (m) => refused.push(m as (typeof refused)[number]));
  helper.getNode('conv').receive({ payload: batch(1, 'p-9999') });
  helper.getNode('conv').receive({ payload: batch(2) });
  await until('one refused, one accepted', () => refused.length === 1 && ok.length === 1);
  t.equal(refused[0].statusCode, 422);
  t.equal(refused[0].payload.resourceType, 'OperationOutcome');
  t.match(refused[0].payload.issue[0].diagnostics, /p-9999 is not a known patient/);
  t.ok(existsSync(refused[0].keptAt), 'the refused Bundle is kept');
  t.ok(existsSync(refused[0].keptAt.replace(/\.json$/, '.response.json')), 'with the answer beside it');
  helper.getNode('conv').receive({ payload: batch(3, 'p-9999') });
  await until('the status names the outcome', () => /refused: HTTP 422: .*p-9999 is not a known patient/.test(lastStatus(helper.getNode('out')).text ?? ''));
  t.equal(observationsIn(srv).length, 2);
});

t.test('fhir out: a wrong password stops delivery and drops nothing; not a transaction Bundle is an error', async (t) => {
  const srv = await startFhirServer({ auth: BASIC });
  t.teardown(() => srv.close());
  const q = join(dir, 'wrong-password');
  await helper.load([toFhirNode, fhirOutNode], flow(srv.url, q), creds('wrong'));
  follow(helper.getNode('out'));
  helper.getNode('conv').receive({ payload: batch(1) });
  await until('401 retried', () => srv.posts.filter((p) => p.status === 401).length >= 2);
  await until('the status says 401', () => /HTTP 401/.test(lastStatus(helper.getNode('out')).text ?? ''));
  t.equal(readdirSync(q).filter((f) => f.endsWith('.json')).length, 1, 'still queued');
  t.notOk(existsSync(join(q, 'refused')), 'nothing set aside');
  const errors: unknown[] = [];
  helper.getNode('out').on('call:error', (c) => errors.push(c));
  helper.getNode('out').receive({ payload: { resourceType: 'Bundle', type: 'collection' } });
  await until('an error', () => errors.length === 1);
});
