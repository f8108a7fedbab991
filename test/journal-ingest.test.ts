// MQTT ingest with the journal, over real TCP: the PUBACK comes only after the reading is journaled
// (synced); a reading re-sent after a lost PUBACK is acknowledged but journaled once; when the disk
// budget is full the publish is refused (no PUBACK, the device keeps it) and counted.
import t from 'tap';
import mqtt from 'mqtt';
import { startBroker } from '../gateway/ingest/broker';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';
import type { MqttReadingEvent } from '../gateway/runtime';
import { testRuntime } from './gateway-runtime.helpers';

const creds = new DeviceCredentials([{ id: 'temp-bed1', patient: 'p-1', passwordHash: hashPassword('pw-temp-bed1') }]);
const payload = (seq: number, time = 1_764_000_000_000 + seq): string => JSON.stringify({ v: 1, deviceId: 'temp-bed1', patient: 'p-1', seq, kind: 'body_temp', value: 36.7, unit: 'Cel', time });

async function device(port: number): Promise<mqtt.MqttClient> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'temp-bed1', username: 'temp-bed1', password: 'pw-temp-bed1', reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

t.test('the PUBACK waits for the broker hook', async (t) => {
  let release: () => void = () => undefined;
  let called: () => void = () => undefined;
  const hookCalled = new Promise<void>((r) => (called = r));
  const broker = await startBroker({
    port: 0,
    credentials: creds,
    onReading: () => {
      called();
      return new Promise<void>((r) => (release = r));
    },
  });
  t.teardown(() => broker.close());
  const dev = await device(broker.port);
  t.teardown(() => dev.endAsync(true));
  let acked = false;
  const pub = dev.publishAsync('mcps/devices/temp-bed1/readings', payload(1), { qos: 1 }).then(() => (acked = true));
  await hookCalled;
  await new Promise((r) => setTimeout(r, 200));
  t.notOk(acked, 'no PUBACK while the reading is not yet stored');
  release();
  await pub;
  t.ok(acked, 'PUBACK once stored');
});

t.test('journaled before acknowledged, re-sends recognised, refused when the disk budget is full', async (t) => {
  let full = false;
  // No chain node in this test: the outbox's client is a stand-in that never answers (nothing is sealed here).
  const T = await testRuntime({ devices: creds, client: { submit: () => new Promise(() => undefined) }, measureBytes: () => (full ? 1 << 30 : 0) });
  t.teardown(() => T.close());
  const { rt, journal, logs } = T;
  const broker = await startBroker({ port: 0, credentials: creds, onReading: (topic, dev, p) => rt.ingestMqtt(topic, dev, p) });
  t.teardown(() => broker.close());
  rt.attachBroker(broker);
  const seen: MqttReadingEvent[] = [];
  rt.on('mqtt-reading', (e) => seen.push(e));

  const dev = await device(broker.port);
  t.teardown(() => dev.endAsync(true));
  await dev.publishAsync('mcps/devices/temp-bed1/readings', payload(1), { qos: 1 });
  t.equal(journal.unsealedCount, 1, 'acknowledged means journaled');
  t.equal(seen.length, 1);
  t.equal(typeof seen[0]!.journalId, 'number', 'the flow gets the journal id');

  await dev.publishAsync('mcps/devices/temp-bed1/readings', payload(1), { qos: 1 });
  t.equal(journal.unsealedCount, 1, 'the same reading sent again is acknowledged, not journaled twice');
  t.equal(rt.metrics.duplicatesDropped, 1);
  t.equal(seen.length, 1, 'and not passed to the flow again');
  await dev.publishAsync('mcps/devices/temp-bed1/readings', payload(1, 1_900_000_000_000), { qos: 1 });
  t.equal(journal.unsealedCount, 2, 'the same seq at another time (a rebooted device) is a new reading');

  await dev.publishAsync('mcps/devices/temp-bed1/readings', '{"v":1}', { qos: 1 });
  t.equal(rt.metrics.readingsRejected, 1, 'an invalid reading is acknowledged and kept aside as a dead letter');

  full = true;
  const closed = new Promise<void>((r) => dev.once('close', () => r()));
  let acked = false;
  dev.publish('mcps/devices/temp-bed1/readings', payload(2), { qos: 1 }, () => (acked = true));
  await closed;
  t.notOk(acked, 'at the budget the publish is not acknowledged (the connection closes; the device keeps the message)');
  t.equal(rt.metrics.readingsRefusedFull, 1);
  t.equal(broker.counters.publishesRefused, 1);
  t.match(logs.join('\n'), /storage FULL/);
  t.equal(journal.unsealedCount, 2, 'nothing was journaled at the budget');
});
