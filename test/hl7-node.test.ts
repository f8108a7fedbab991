// The mcps-hl7-device node under node-red-node-test-helper in a real gateway runtime: a simulated
// monitor over real TCP, readings out of output 1 already journaled, refusals out of output 2 with
// the ACK code, statuses, an unset port variable, a port in use, and the port released on close.
import t from 'tap';
import { createServer, connect } from 'node:net';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';
import { RUNTIME_SETTING } from '../gateway/runtime';
import { SimulatedHl7Monitor, type Hl7SendResult } from '../device-sim/devices/hl7-monitor';
import { encodeOruR01 } from '../device-sim/devices/hl7-oru-encoder';
import { mllpFrame } from '../gateway/ingest/hl7/mllp';
import { freePort } from '../common/free-port';
import { nodeRedHelper } from './node-red.helpers';
import { testRuntime } from './gateway-runtime.helpers';

const helper = nodeRedHelper();
const hl7Node = require('../nodes/hl7-device') as unknown;
type Status = { fill: string; shape: string; text: string };
const lastStatus = (id: string): Status => helper.getNode(id).status.lastCall?.args[0] as Status;

t.test('mcps-hl7-device: readings journaled before the ACK, refusals with their reason, port released on close', async (t) => {
  const T = await testRuntime({ devices: new DeviceCredentials([{ id: 'mon-1', patient: 'p-1', passwordHash: hashPassword('unused') }]), client: { submit: () => new Promise(() => undefined) } });
  t.teardown(() => T.close());
  helper.settings({ [RUNTIME_SETTING]: T.rt });
  await new Promise<void>((r) => helper.startServer(r));
  t.teardown(() => new Promise<void>((r) => helper.stopServer(r)));
  const port = await freePort();
  await helper.load(hl7Node, [
    { id: 'h', type: 'mcps-hl7-device', host: '127.0.0.1', port: String(port), wires: [['out'], ['bad']] },
    { id: 'out', type: 'helper' },
    { id: 'bad', type: 'helper' },
  ]);
  const out: Array<{ payload: { kind: string; deviceSeq: number; source: string }; journalId: number }> = [];
  const bad: Array<{ error: string; ack: string }> = [];
  helper.getNode('out').on('input', (m) => out.push(m as never));
  helper.getNode('bad').on('input', (m) => bad.push(m as never));
  for (let i = 0; i < 50 && !/listening/.test(lastStatus('h')?.text ?? ''); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(lastStatus('h'), { fill: 'green', text: /status\.listening/ });

  const results: Hl7SendResult[] = [];
  const mon = await SimulatedHl7Monitor.connect({ host: '127.0.0.1', port, deviceId: 'mon-1', patient: 'p-1', seed: 2, ratePerS: 10, onResult: (r) => results.push(r) });
  mon.start();
  await new Promise((r) => setTimeout(r, 1000));
  await mon.stop();
  const acked = results.filter((r) => r.acked);
  t.ok(acked.length >= 7 * 5, `${acked.length} readings acknowledged`);
  // The ACK goes out once a reading is journaled; Node-RED delivers it to the next node a moment later.
  for (let i = 0; i < 40 && out.length < acked.length; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(out.length, acked.length, 'one message per acknowledged reading');
  t.ok(out.every((m) => typeof m.journalId === 'number' && m.payload.source === 'hl7'), 'each already journaled');
  t.equal(T.journal.unsealed(10_000).length, acked.length);

  // Another device's message, and one for the wrong patient, over a raw connection.
  const send = (text: string): Promise<void> =>
    new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => s.write(mllpFrame(text)));
      s.on('data', () => {
        s.destroy();
        resolve();
      });
    });
  await send(encodeOruR01({ deviceId: 'mon-9', eui64: '00', patient: 'p-1', controlId: 1, time: Date.now(), values: [{ kind: 'heart_rate', value: 70 }] }));
  await send(encodeOruR01({ deviceId: 'mon-1', eui64: '00', patient: 'p-2', controlId: 99, time: Date.now(), values: [{ kind: 'heart_rate', value: 70 }] }));
  for (let i = 0; i < 20 && bad.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  t.match(bad, [{ ack: 'AR', error: /device "mon-9" \(MSH-3\) is not registered/ }, { ack: 'AE', error: /PID-3 patient "p-2"/ }]);
  await new Promise((r) => setTimeout(r, 600));
  t.match(lastStatus('h'), { fill: 'green', text: /status\.receiving/ });

  await helper.unload();
  // The port is free again: a plain server can take it.
  await new Promise<void>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
  t.pass('port released on close');
});

t.test('mcps-hl7-device: configuration problems are named', async (t) => {
  const T = await testRuntime({ devices: new DeviceCredentials([]), client: { submit: () => new Promise(() => undefined) } });
  t.teardown(() => T.close());
  helper.settings({ [RUNTIME_SETTING]: T.rt });
  await new Promise<void>((r) => helper.startServer(r));
  t.teardown(() => new Promise<void>((r) => helper.stopServer(r)));
  await helper.load(hl7Node, [{ id: 'h', type: 'mcps-hl7-device', host: '127.0.0.1', port: '${MCPS_UNSET_HL7_PORT}', wires: [[], []] }]);
  t.match(lastStatus('h'), { fill: 'grey', text: /status\.not-configured/ }, 'an unset port variable: idle, grey');
  await helper.unload();
  await helper.load(hl7Node, [{ id: 'h', type: 'mcps-hl7-device', host: '127.0.0.1', port: '99999', wires: [[], []] }]);
  t.match(lastStatus('h'), { fill: 'red', text: /errors\.port/ });
  await helper.unload();
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => busy.close(() => r())));
  await helper.load(hl7Node, [{ id: 'h', type: 'mcps-hl7-device', host: '127.0.0.1', port: String((busy.address() as { port: number }).port), wires: [[], []] }]);
  for (let i = 0; i < 40 && lastStatus('h')?.fill !== 'red'; i++) await new Promise((r) => setTimeout(r, 50));
  t.match(lastStatus('h'), { fill: 'red', text: /errors\.listen/ }, 'a port in use: red, named');
  await helper.unload();
  helper.settings({});
  await helper.load(hl7Node, [{ id: 'h', type: 'mcps-hl7-device', host: '127.0.0.1', port: '2575', wires: [[], []] }]);
  t.match(lastStatus('h'), { fill: 'red', text: /status\.no-runtime/ }, 'outside a gateway: red, it needs the device registry');
  await helper.unload();
});
