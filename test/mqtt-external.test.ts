// The mqtt device node on an external broker (an mcps-mqtt-broker config node): a separate aedes
// over real TCP that wants a login, a device publishing to it, the node journaling each reading in a
// real gateway runtime before the broker gets the PUBACK, refusing what is invalid or unregistered,
// and getting a message again when it could not store it the first time.
import t from 'tap';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';
import { RUNTIME_SETTING } from '../gateway/runtime';
import { parseBrokerSettings } from '../gateway/ingest/mqtt-broker-settings';
import { nodeRedHelper } from './node-red.helpers';
import { testRuntime } from './gateway-runtime.helpers';
import { createServer as createTlsServer } from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, issueServerCertificate, serverFilesIn } from '../cli/tls/certificates';

const helper = nodeRedHelper();
const nodes = ['mqtt-broker', 'mqtt-device'].map((n) => require(`../nodes/${n}`) as unknown);
const msg = (device: string, seq: number, over: Record<string, unknown> = {}): string => JSON.stringify({ v: 1, deviceId: device, patient: 'p-1', seq, kind: 'heart_rate', value: 70 + seq, unit: '/min', time: 1_764_000_000_000 + seq, ...over });

t.test('settings: URL and client id checked, credentials carried', async (t) => {
  t.match(parseBrokerSettings({ url: 'http://x' }, undefined, 'id'), { problem: /broker URL "http:\/\/x"/ });
  t.match(parseBrokerSettings({ url: 'mqtt://h:1883', clientId: 'bad id' }, undefined, 'id'), { problem: /client id "bad id"/ });
  t.same(parseBrokerSettings({ url: 'mqtts://h:8883' }, { username: 'u', password: 'p' }, 'mcps-1'), { settings: { url: 'mqtts://h:8883', clientId: 'mcps-1', username: 'u', password: 'p' } });
});

t.test('an external broker: PUBACK after the journal, refusals on output 2, redelivery when not stored', async (t) => {
  const broker = await Aedes.createBroker();
  broker.authenticate = (_c, user, pass, cb) => cb(null, user === 'gw' && pass?.toString() === 'pw-gw' ? true : user === 'dev' && pass?.toString() === 'pw-dev');
  // When the gateway's PUBACK reaches the broker, per reading (aedes hands back the message).
  const ackedAt = new Map<number, number>();
  broker.on('ack', (packet, client) => {
    if (client?.id !== 'gw-test' || !packet || !('payload' in packet)) return;
    const seq = (JSON.parse(packet.payload.toString()) as { seq: number }).seq;
    if (!ackedAt.has(seq)) ackedAt.set(seq, Date.now());
  });
  const gatewaySubscribed = new Promise<void>((resolve) => broker.on('subscribe', (_s, client) => client?.id === 'gw-test' && resolve()));
  const server: Server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  t.teardown(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
  });

  const T = await testRuntime({ devices: new DeviceCredentials([{ id: 'hr-1', patient: 'p-1', passwordHash: hashPassword('x') }]), client: { submit: () => new Promise(() => undefined) } });
  t.teardown(() => T.close());
  // The journal is slow here (150 ms) and refuses the first attempt at seq 4, as a full disk would.
  const journaledAt = new Map<number, number>();
  let refuseOnce = true;
  const ingest = T.rt.ingest.bind(T.rt);
  T.rt.ingest = async (r, key) => {
    await new Promise((res) => setTimeout(res, 150));
    if (r.deviceSeq === 4 && refuseOnce) {
      refuseOnce = false;
      throw new Error('storage budget full (test)');
    }
    const out = await ingest(r, key);
    journaledAt.set(r.deviceSeq, Date.now());
    return out;
  };
  helper.settings({ [RUNTIME_SETTING]: T.rt });
  await new Promise<void>((r) => helper.startServer(r));
  t.teardown(() => new Promise<void>((r) => helper.stopServer(r)));
  await helper.load(
    nodes,
    [
      { id: 'b', type: 'mcps-mqtt-broker', url: `mqtt://127.0.0.1:${port}`, clientId: 'gw-test' },
      { id: 'm', type: 'mcps-mqtt-device', broker: 'b', topic: 'mcps/devices/+/readings', wires: [['out'], ['bad']] },
      { id: 'out', type: 'helper' },
      { id: 'bad', type: 'helper' },
    ],
    { b: { username: 'gw', password: 'pw-gw' } },
  );
  const out: Array<{ payload: { deviceSeq: number }; journalId: number }> = [];
  const bad: string[] = [];
  helper.getNode('out').on('input', (m) => out.push(m as never));
  helper.getNode('bad').on('input', (m) => bad.push((m as { error: string }).error));
  await gatewaySubscribed;

  const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'hr-1', username: 'dev', password: 'pw-dev' });
  t.teardown(() => dev.endAsync());
  for (const seq of [1, 2, 3, 4, 5]) await dev.publishAsync('mcps/devices/hr-1/readings', msg('hr-1', seq), { qos: 1 });
  await dev.publishAsync('mcps/devices/hr-1/readings', msg('hr-1', 6, { value: 900 }), { qos: 1 });
  await dev.publishAsync('mcps/devices/hr-9/readings', msg('hr-9', 1), { qos: 1 });
  await dev.publishAsync('mcps/devices/hr-1/readings', msg('hr-1', 7, { patient: 'p-2' }), { qos: 1 });
  for (let i = 0; i < 100 && (out.length < 5 || bad.length < 3); i++) await new Promise((r) => setTimeout(r, 100));

  t.same(out.map((m) => m.payload.deviceSeq).sort(), [1, 2, 3, 4, 5], 'five readings, seq 4 after it was delivered again');
  t.ok(out.every((m) => typeof m.journalId === 'number'), 'each already journaled');
  t.equal(T.journal.unsealed(100).length, 5, 'journaled once each');
  t.match(bad, [/heart_rate value 900 outside/, /device "hr-9" is not registered on this gateway/, /patient "p-2" is not the patient device "hr-1" is registered to/]);
  for (let i = 0; i < 50 && ackedAt.size < 5; i++) await new Promise((r) => setTimeout(r, 100));
  for (const seq of [1, 2, 3, 4, 5]) t.ok((ackedAt.get(seq) ?? 0) >= journaledAt.get(seq)!, `seq ${seq}: the broker got the PUBACK after the reading was journaled`);
  await helper.unload();
});

t.test('an external broker over TLS with a private CA (caFile): certificate checked, readings taken', async (t) => {
  t.match(parseBrokerSettings({ url: 'mqtt://h:1883', caFile: '/etc/ca.pem' }, undefined, 'id'), { problem: /for mqtts:\/\/ or wss:\/\/ only/ });
  t.match(parseBrokerSettings({ url: 'mqtts://h:8883', caFile: 'ca.pem' }, undefined, 'id'), { problem: /absolute path/ });
  const dir = mkdtempSync(join(tmpdir(), 'mcps-ext-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { ca } = await ensureCa(dir, 'hospital broker CA');
  const files = await issueServerCertificate(ca, ['127.0.0.1'], serverFilesIn(dir));
  const broker = await Aedes.createBroker();
  broker.authenticate = (_c, user, pass, cb) => cb(null, user === 'gw' && pass?.toString() === 'pw-gw' ? true : user === 'dev' && pass?.toString() === 'pw-dev');
  const gatewaySubscribed = new Promise<void>((resolve) => broker.on('subscribe', (_s, client) => client?.id === 'gw-tls' && resolve()));
  const server = createTlsServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) }, broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  t.teardown(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
  });
  const T = await testRuntime({ devices: new DeviceCredentials([{ id: 'hr-1', patient: 'p-1', passwordHash: hashPassword('x') }]), client: { submit: () => new Promise(() => undefined) } });
  t.teardown(() => T.close());
  helper.settings({ [RUNTIME_SETTING]: T.rt });
  await new Promise<void>((r) => helper.startServer(r));
  t.teardown(() => new Promise<void>((r) => helper.stopServer(r)));
  await helper.load(
    nodes,
    [
      { id: 'b', type: 'mcps-mqtt-broker', url: `mqtts://127.0.0.1:${port}`, clientId: 'gw-tls', caFile: ca.files.cert },
      { id: 'm', type: 'mcps-mqtt-device', broker: 'b', topic: 'mcps/devices/+/readings', wires: [['out'], []] },
      { id: 'out', type: 'helper' },
    ],
    { b: { username: 'gw', password: 'pw-gw' } },
  );
  const out: Array<{ payload: { deviceSeq: number } }> = [];
  helper.getNode('out').on('input', (m) => out.push(m as never));
  await gatewaySubscribed;
  t.pass('the gateway connected over TLS, checking the broker against the CA file, and subscribed');
  const dev = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { clientId: 'hr-1', username: 'dev', password: 'pw-dev', ca: readFileSync(ca.files.cert), rejectUnauthorized: true });
  t.teardown(() => dev.endAsync());
  await dev.publishAsync('mcps/devices/hr-1/readings', msg('hr-1', 1), { qos: 1 });
  for (let i = 0; i < 100 && out.length < 1; i++) await new Promise((r) => setTimeout(r, 100));
  t.same(out.map((m) => m.payload.deviceSeq), [1], 'the reading arrived over TLS and was journaled');
  await helper.unload();
});
