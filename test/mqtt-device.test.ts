// Simulated MQTT devices against the gateway's broker over real TCP.
import t from 'tap';
import { startBroker } from '../gateway/ingest/broker';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';
import { readingFromMqtt } from '../gateway/ingest/mqtt-reading';
import { SimulatedMqttDevice } from '../device-sim/devices/mqtt-device';

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
