// The gateway's MQTT broker over real TCP: per-device logins and topic ACLs.
import t from 'tap';
import mqtt from 'mqtt';
import { dirname } from 'node:path';
import { deviceTopicOwner, startBroker } from '../gateway/ingest/broker';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';

const creds = new DeviceCredentials([
  { id: 'temp-bed1', patient: 'p-1', passwordHash: hashPassword('right-password-1') },
  { id: 'resp-bed2', patient: 'p-2', passwordHash: hashPassword('right-password-2') },
]);

async function connect(port: number, clientId: string, username: string | undefined, password: string | undefined): Promise<mqtt.MqttClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, username, password, reconnectPeriod: 0, connectTimeout: 3000 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

t.test('devices need their own credentials and may publish only to their own topics', async (t) => {
  const logs: string[] = [];
  const broker = await startBroker({ port: 0, credentials: creds, log: (_l, m) => logs.push(m) });
  t.teardown(() => broker.close());
  const received: string[] = [];
  await new Promise<void>((r) => broker.aedes.subscribe('mcps/devices/+/readings', (p, cb) => { received.push(`${p.topic} ${p.payload.toString()}`); cb(); }, r));

  await t.rejects(connect(broker.port, 'temp-bed1', 'temp-bed1', 'wrong'), /Bad username or password|Not authorized|bad/i, 'wrong password refused');
  await t.rejects(connect(broker.port, 'temp-bed1', undefined, undefined), 'no credentials refused');
  await t.rejects(connect(broker.port, 'resp-bed2', 'temp-bed1', 'right-password-1'), 'a login under another client id is refused');
  t.equal(broker.counters.authFailures, 3, 'each refusal counted');
  t.notOk(logs.join('\n').includes('right-password'), 'no password in the log');

  const dev = await connect(broker.port, 'temp-bed1', 'temp-bed1', 'right-password-1');
  t.teardown(() => dev.endAsync(true));
  await dev.publishAsync('mcps/devices/temp-bed1/readings', 'ok', { qos: 1 });
  t.same(received, ['mcps/devices/temp-bed1/readings ok'], 'own topic delivered after authentication');

  // A publish outside its own topics: aedes refuses it and drops the connection (MQTT 3.1.1 has no
  // negative PUBACK), and the refusal is counted.
  const closed = new Promise<void>((r) => dev.once('close', () => r()));
  dev.publish('mcps/devices/resp-bed2/readings', 'spoofed', { qos: 1 });
  await closed;
  t.notOk(received.some((r) => r.includes('spoofed')), "another device's topic refused");
  t.equal(broker.counters.aclDenied, 1, 'ACL refusal counted');
  t.match(logs.join('\n'), /device "temp-bed1" may not publish to "mcps\/devices\/resp-bed2\/readings"/, 'the refusal is logged with who and where');

  const sub = await connect(broker.port, 'resp-bed2', 'resp-bed2', 'right-password-2');
  t.teardown(() => sub.endAsync(true));
  const granted = await sub.subscribeAsync('mcps/devices/temp-bed1/#', { qos: 1 }).catch((e: Error) => e);
  t.ok(granted instanceof Error || (Array.isArray(granted) && granted[0]?.qos === 128), "subscribing to another device's topics is refused");
});

t.test('a device owns its readings, status, alarms and waveform topics, and nothing else', async (t) => {
  t.equal(deviceTopicOwner('mcps/devices/pump-1/readings'), 'pump-1');
  t.equal(deviceTopicOwner('mcps/devices/pump-1/status'), 'pump-1');
  t.equal(deviceTopicOwner('mcps/devices/pump-1/alarms'), 'pump-1');
  t.equal(deviceTopicOwner('mcps/devices/ecg-1/waveform'), 'ecg-1');
  t.equal(deviceTopicOwner('mcps/devices/ecg-1/config'), undefined);
  t.equal(deviceTopicOwner('mcps/devices/ecg-1/readings/extra'), undefined);
  t.equal(deviceTopicOwner('$SYS/broker'), undefined);
});

t.test("aedes' packet writer runs without its 65,536-Buffer packet-id table, and PUBACKs still carry the right ids", async (t) => {
  const packets = require(require.resolve('mqtt-packet', { paths: [dirname(require.resolve('aedes'))] })) as typeof import('mqtt-packet') & { writeToStream: { cacheNumbers: boolean } };
  const numbers = require(require.resolve('mqtt-packet/numbers', { paths: [dirname(require.resolve('aedes'))] })) as { cache: Record<number, Buffer> };
  t.equal(packets.writeToStream.cacheNumbers, false, 'turned off when the broker module loads');
  const broker = await startBroker({ port: 0, credentials: creds });
  t.teardown(() => broker.close());
  const c = await connect(broker.port, 'temp-bed1', 'temp-bed1', 'right-password-1');
  for (let i = 0; i < 300; i++) await c.publishAsync('mcps/devices/temp-bed1/readings', `{"n":${i}}`, { qos: 1 });
  t.pass('300 QoS 1 publishes acknowledged');
  t.equal(Object.keys(numbers.cache).length, 0, 'no packet-id table was built');
  await c.endAsync();
});

t.test("aedes' PUBACKs leave as one 4-byte write, the same bytes mqtt-packet makes; other packets as before", async (t) => {
  const { PassThrough } = await import('node:stream');
  const packets = require(require.resolve('mqtt-packet', { paths: [dirname(require.resolve('aedes'))] })) as typeof import('mqtt-packet');
  const bytes = async (packet: object): Promise<{ data: Buffer; writes: number }> => {
    const s = new PassThrough();
    let writes = 0;
    const write = s.write.bind(s);
    s.write = ((chunk: never, ...rest: never[]) => {
      writes++;
      return write(chunk, ...rest);
    }) as typeof s.write;
    packets.writeToStream(packet as never, s);
    await new Promise((r) => setImmediate(r));
    s.end();
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    return { data: Buffer.concat(chunks), writes };
  };
  for (const id of [1, 0x1234, 0xffff]) {
    const fast = await bytes({ cmd: 'puback', messageId: id });
    t.same(fast.data, packets.generate({ cmd: 'puback', messageId: id } as never), `PUBACK ${id}`);
    t.equal(fast.writes, 1, 'in one write');
  }
  const pub = { cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, messageId: 7, retain: false, dup: false };
  t.same((await bytes(pub)).data, packets.generate(pub as never), 'a PUBLISH is written by mqtt-packet');
  t.equal(packets.writeToStream.cacheNumbers, false, "mqtt-packet's packet-id table stays off");
});
