// Simulated MQTT devices against the gateway's broker over real TCP.
import t from 'tap';
import { startBroker } from '../gateway/ingest/broker';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';
import { readingFromMqtt } from '../gateway/ingest/mqtt-reading';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import { ReconnectBackoff, SimulatedMqttDevice } from '../device-sim/devices/mqtt-device';
import { SeededRandom } from '../device-sim/random';

t.test('every acknowledged reading reaches the broker and validates; a wrong password is refused', async (t) => {
  const creds = new DeviceCredentials([
    { id: 'temp-bed1', patient: 'p-1', passwordHash: hashPassword('pw-temp-bed1-xxxx') },
    { id: 'resp-bed2', patient: 'p-2', passwordHash: hashPassword('pw-resp-bed2-xxxx') },
  ]);
  const broker = await startBroker({ port: 0, credentials: creds });
  t.teardown(() => broker.close());
  const received: string[] = [];
  const invalid: string[] = [];
  const status: string[] = [];
  await new Promise<void>((r) => broker.aedes.subscribe('mcps/devices/+/readings', (p, cb) => {
    const device = p.topic.split('/')[2]!;
    try {
      const reading = readingFromMqtt(p.topic, p.payload as Buffer, device, creds.get(device)?.patient, Date.now());
      received.push(`${reading.deviceId}#${reading.deviceSeq}`);
    } catch (err) {
      invalid.push((err as Error).message);
    }
    cb();
  }, r));
  await new Promise<void>((r) => broker.aedes.subscribe('mcps/devices/+/status', (p, cb) => { status.push(`${p.topic.split('/')[2]} ${p.payload.toString()}`); cb(); }, r));

  const acked: string[] = [];
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const onResult = (r: { deviceId: string; deviceSeq: number; acked: boolean }): void => {
    if (r.acked) acked.push(`${r.deviceId}#${r.deviceSeq}`);
  };
  const a = await SimulatedMqttDevice.connect({ url, deviceId: 'temp-bed1', password: 'pw-temp-bed1-xxxx', patient: 'p-1', kind: 'body_temp', ratePerS: 20, seed: 1, onResult });
  const b = await SimulatedMqttDevice.connect({ url, deviceId: 'resp-bed2', password: 'pw-resp-bed2-xxxx', patient: 'p-2', kind: 'resp_rate', ratePerS: 20, seed: 2, onResult });
  a.start();
  b.start();
  await new Promise((r) => setTimeout(r, 1500));
  await a.stop();
  await b.stop();
  t.ok(acked.length >= 40, `devices published (${acked.length} acknowledged)`);
  t.same([...received].sort(), [...acked].sort(), 'received by the broker = acknowledged to the devices');
  t.same(invalid, [], 'every payload passes the gateway validation');
  t.ok(status.includes('temp-bed1 online') && status.includes('temp-bed1 offline'), 'online/offline status published');

  await t.rejects(SimulatedMqttDevice.connect({ url, deviceId: 'temp-bed1', password: 'wrong-password', patient: 'p-1', kind: 'body_temp', ratePerS: 1, seed: 3, onResult }), /temp-bed1/, 'a wrong password is refused');
});

t.test('reconnect waits grow with each failed try, jittered, up to a cap, and start over once connected', async (t) => {
  const b = new ReconnectBackoff(new SeededRandom(7), 1000, 30_000);
  const waits = Array.from({ length: 8 }, () => b.next());
  const steps = [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
  waits.forEach((w, i) => t.ok(w >= steps[i]! / 2 && w <= steps[i]!, `try ${i + 1}: ${w} ms within 50-100 % of ${steps[i]} ms`));
  const other = new ReconnectBackoff(new SeededRandom(8), 1000, 30_000);
  t.not(Array.from({ length: 8 }, () => other.next()).join(), waits.join(), 'two devices do not wait in lock-step');
  b.reset();
  t.ok(b.next() <= 1000, 'after a connection, the first wait again');
});

t.test('a device refused with "server unavailable" (a gateway with too many logins waiting) tries again until let in', async (t) => {
  let refusals = 0;
  const broker = await Aedes.createBroker({
    authenticate: (_client, _u, _p, done) => {
      if (refusals < 2) {
        refusals++;
        return done(Object.assign(new Error('busy'), { returnCode: 3 }) as AuthenticateError, false);
      }
      done(null, true);
    },
  });
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => broker.close(() => server.close(() => r()))));
  const device = await SimulatedMqttDevice.connect({
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deviceId: 'spo2-bed3',
    password: 'pw',
    patient: 'p-3',
    kind: 'spo2',
    ratePerS: 1,
    seed: 3,
    onResult: () => undefined,
  });
  t.equal(refusals, 2, 'refused twice, then connected');
  t.ok(device.connected);
  await device.stop(0);
});
