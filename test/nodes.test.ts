// Our Node-RED nodes under node-red-node-test-helper (a real Node-RED runtime in the test process):
// configuration errors, happy paths, bad input, status, close releasing what they hold.
import t from 'tap';
import { SerialPort } from 'serialport';
import { openPtyPair } from '../device-sim/pty';
import { encodeDf7Packet } from '../device-sim/devices/nonin-df7-encoder';
import type { Reading } from '../protocol/reading';

import { nodeRedHelper, type HelperNode } from './node-red.helpers';

const helper = nodeRedHelper();
const batchNode = require('../nodes/batch') as unknown;
const serialNode = require('../nodes/serial-device') as unknown;
const serialPortNode = require('../nodes/serial-port') as unknown;
const sealNode = require('../nodes/seal-forward') as unknown;
const mqttNode = require('../nodes/mqtt-device') as unknown;
const anchorStatusNode = require('../nodes/anchor-status') as unknown;

const reading = (i: number): Reading => ({ deviceId: 'd', patient: 'p', kind: 'spo2', mdc: '150456', loinc: '2708-6', value: 97, unit: '%', deviceTime: null, receivedAt: i, deviceSeq: i, source: 'serial' });
const lastStatus = (n: HelperNode): Record<string, unknown> => {
  const s = n.status as unknown as { lastCall: { args: Array<Record<string, unknown>> } };
  return s.lastCall.args[0]!;
};

t.before(() => new Promise<void>((r) => helper.startServer(r)));
t.teardown(() => new Promise<void>((r) => helper.stopServer(r)));
t.afterEach(() => helper.unload());

t.test('mcps-batch: closes by count, refuses what is not a reading, flushes on close', async (t) => {
  await helper.load(batchNode, [
    { id: 'b', type: 'mcps-batch', maxCount: 3, maxAgeMs: 60000, wires: [['out']] },
    { id: 'out', type: 'helper' },
  ]);
  const b = helper.getNode('b');
  const out = helper.getNode('out');
  const got: Array<Record<string, unknown>> = [];
  out.on('input', (msg) => got.push(msg as Record<string, unknown>));
  const errors: unknown[] = [];
  b.on('call:error', (call) => errors.push(call));
  for (let i = 1; i <= 4; i++) b.receive({ payload: reading(i) });
  b.receive({ payload: { nonsense: true } });
  await new Promise((r) => setTimeout(r, 100));
  t.equal(got.length, 1, 'one batch of 3');
  t.same((got[0]!.payload as Reading[]).map((r) => r.deviceSeq), [1, 2, 3]);
  t.equal(errors.length, 1, 'the bad message is reported once through done(err), so Catch nodes see it');
  t.match(lastStatus(b), { fill: 'green' });
  b.receive({ flush: true });
  await new Promise((r) => setTimeout(r, 50));
  t.same((got[1]!.payload as Reading[]).map((r) => r.deviceSeq), [4], 'msg.flush closes the open batch');
});

t.test('mcps-batch: a configuration error is shown in the status', async (t) => {
  await helper.load(batchNode, [{ id: 'b', type: 'mcps-batch', maxCount: 0, maxAgeMs: 1000, wires: [[]] }]);
  t.match(lastStatus(helper.getNode('b')), { fill: 'red', shape: 'ring' });
});

t.test('nodes that need the gateway runtime say so without it', async (t) => {
  await helper.load([sealNode, mqttNode, anchorStatusNode], [
    { id: 's', type: 'mcps-seal-forward', wires: [[]] },
    { id: 'm', type: 'mcps-mqtt-device', topic: 'mcps/devices/+/readings', wires: [[], []] },
    { id: 'a', type: 'mcps-anchor-status', wires: [[], []] },
  ]);
  t.match(lastStatus(helper.getNode('a')), { fill: 'red' });
  const s = helper.getNode('s');
  t.match(lastStatus(s), { fill: 'red' });
  t.match(lastStatus(helper.getNode('m')), { fill: 'red' });
  const errors: unknown[] = [];
  s.on('call:error', (c) => errors.push(c));
  s.receive({ payload: [reading(1)] });
  await new Promise((r) => setTimeout(r, 50));
  t.equal(errors.length, 1, 'input is refused with an error, not dropped silently');
});

t.test('mcps-serial-device: reads a real tty, sends refused frames to output 2, releases the port on close', async (t) => {
  const pty = await openPtyPair();
  t.teardown(() => pty.close());
  await helper.load([serialPortNode, serialNode], [
    { id: 'port', type: 'mcps-serial-port', path: pty.path, baud: 9600, dataBits: 8, parity: 'none', stopBits: 1, format: 'nonin-df7', reconnectMs: 500 },
    { id: 'sd', type: 'mcps-serial-device', serial: 'port', deviceId: 'oxi-1', patient: 'p-1', wires: [['ok'], ['bad']] },
    { id: 'ok', type: 'helper' },
    { id: 'bad', type: 'helper' },
  ]);
  const good: Reading[] = [];
  const bad: Array<Record<string, unknown>> = [];
  helper.getNode('ok').on('input', (m) => good.push((m as { payload: Reading }).payload));
  helper.getNode('bad').on('input', (m) => bad.push(m as Record<string, unknown>));
  const sd = helper.getNode('sd');
  for (let i = 0; i < 50 && lastStatus(sd).fill !== 'green'; i++) await new Promise((r) => setTimeout(r, 50));
  t.match(lastStatus(sd), { fill: 'green' }, 'port open');
  const pleth = Array(25).fill(30000);
  await pty.write(encodeDf7Packet({ spo2: 96, pulseRate: 70, pleth }));
  const broken = encodeDf7Packet({ spo2: 95, pulseRate: 71, pleth });
  broken[4 * 5 + 4] ^= 0x55;
  await pty.write(broken);
  await pty.write(encodeDf7Packet({ spo2: 94, pulseRate: 72, pleth }));
  for (let i = 0; i < 40 && good.length < 4; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(good.map((r) => `${r.kind}=${r.value}#${r.deviceSeq}`), ['spo2=96#1', 'pulse_rate=70#1', 'spo2=94#2', 'pulse_rate=72#2']);
  t.ok(bad.length >= 1 && /checksum/.test(String(bad[0]!.error)), 'the bad frame goes to output 2 with its reason');
  await helper.unload();
  // serialport locks the tty; opening it again succeeds only if the node released it.
  const again = new SerialPort({ path: pty.path, baudRate: 9600, autoOpen: false });
  await new Promise<void>((res, rej) => again.open((e) => (e ? rej(e) : res())));
  await new Promise<void>((r) => again.close(() => r()));
  t.pass('the port was released on close');
});

t.test('mcps-serial-port: invalid settings name themselves in the device node\'s status', async (t) => {
  await helper.load([serialPortNode, serialNode], [
    { id: 'port', type: 'mcps-serial-port', path: '/dev/ttyUSB9', baud: 9600, dataBits: 9, parity: 'mark', stopBits: 1, format: 'nonin-df7', reconnectMs: 2000 },
    { id: 'sd', type: 'mcps-serial-device', serial: 'port', deviceId: 'oxi-1', patient: 'p-1', wires: [[], []] },
  ]);
  const st = lastStatus(helper.getNode('sd'));
  t.match(st, { fill: 'red', shape: 'ring' });
  t.match(String(st.text), /errors\.data-bits/, 'the first problem is named (the helper shows message keys, not the English text)');
  await helper.unload();
  await helper.load([serialPortNode, serialNode], [{ id: 'sd', type: 'mcps-serial-device', serial: 'missing', deviceId: 'oxi-1', patient: 'p-1', wires: [[], []] }]);
  t.match(lastStatus(helper.getNode('sd')), { fill: 'red', text: /errors\.no-config/ }, 'a missing config node is named');
  await helper.unload();
  await helper.load([serialPortNode, serialNode], [
    { id: 'port', type: 'mcps-serial-port', path: '/dev/null', baud: 9600, dataBits: 8, parity: 'none', stopBits: 1, format: 'nonin-df7', reconnectMs: 2000 },
    { id: 'sd', type: 'mcps-serial-device', serial: 'port', deviceId: '${MCPS_UNSET_ID}', patient: 'p-1', wires: [[], []] },
  ]);
  t.match(lastStatus(helper.getNode('sd')), { fill: 'red', text: /errors\.no-device/ }, 'an unset ${VAR} is not taken as a device id');
  await helper.unload();
  await helper.load([serialPortNode, serialNode], [
    { id: 'port', type: 'mcps-serial-port', path: '${MCPS_UNSET_PORT}', baud: 9600, dataBits: 8, parity: 'none', stopBits: 1, format: 'nonin-df7', reconnectMs: 2000 },
    { id: 'sd', type: 'mcps-serial-device', serial: 'port', deviceId: '${MCPS_UNSET_ID}', patient: '${MCPS_UNSET_PATIENT}', wires: [[], []] },
  ]);
  t.match(lastStatus(helper.getNode('sd')), { fill: 'grey', text: /status\.not-configured/ }, 'a port left as an unset variable: no device on this box, an idle node and a warning');
});

t.test('mcps-serial-device: configuration errors (flows from before the port config node)', async (t) => {
  await helper.load(serialNode, [{ id: 'sd', type: 'mcps-serial-device', port: '', baud: 9600, format: 'nonin-df7', deviceId: 'oxi-1', patient: 'p-1', wires: [[], []] }]);
  t.match(lastStatus(helper.getNode('sd')), { fill: 'red', shape: 'ring' }, 'no port');
  await helper.unload();
  await helper.load(serialNode, [{ id: 'sd', type: 'mcps-serial-device', port: '/dev/null', baud: 9600, format: 'philips-mib', deviceId: 'oxi-1', patient: 'p-1', wires: [[], []] }]);
  t.match(lastStatus(helper.getNode('sd')), { fill: 'red', shape: 'ring' }, 'unknown format');
});
