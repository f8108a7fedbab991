// MQTT ingest with the journal, over real TCP: the PUBACK comes only after the reading is journaled
// (synced); a reading re-sent after a lost PUBACK is acknowledged but journaled once; when the disk
// budget is full the publish is refused (no PUBACK, the device keeps it) and counted.
import t from 'tap';
import mqtt from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startBroker } from '../gateway/broker';
import { DeviceCredentials, hashPassword } from '../gateway/device-credentials';
import { DeadLetterFile } from '../gateway/dead-letter';
import { openStateDb } from '../gateway/state-db';
import { ReadingJournal } from '../gateway/journal';
import { OutboxStore } from '../gateway/outbox-store';
import { Sealer } from '../gateway/sealer';
import { Outbox } from '../gateway/outbox';
import { StorageBudget } from '../gateway/storage-budget';
import { GatewayRuntime, type MqttReadingEvent } from '../gateway/runtime';
import { generateOwnerKeyPair } from '../gateway/envelope';
import { blsKeygen } from '../protocol/bls';

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
  const dir = mkdtempSync(join(tmpdir(), 'mcps-ingest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = openStateDb(join(dir, 'gateway.db'));
  t.teardown(() => db.close());
  const journal = new ReadingJournal(db);
  const store = new OutboxStore(db);
  const owner = await generateOwnerKeyPair();
  const sealer = new Sealer({ gatewayId: 'gw-1', blsSecretKey: blsKeygen(randomBytes(48)), ownerPublicKey: owner.publicKey, state: store, journal, onSealed: () => undefined });
  // No chain node in this test: the outbox's client is a stand-in that never answers (nothing is sealed here).
  const outbox = new Outbox({ client: { submit: () => new Promise(() => undefined) } });
  let full = false;
  const logs: string[] = [];
  const budget = new StorageBudget({ budgetBytes: 1 << 30, measure: () => (full ? 1 << 30 : 0), log: (_l, m) => logs.push(m), intervalMs: 0 });
  const rt = new GatewayRuntime({ gatewayId: 'gw-1', broker: null, devices: creds, deadLetters: new DeadLetterFile(join(dir, 'dead.jsonl')), journal, budget, sealer, outbox, log: (_l, m) => logs.push(m) });
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
