// Serial links that heal themselves, on real ttys (pseudo-terminals), through the serial device node
// in a gateway runtime (the real SQLite journal): a USB adapter unplugged and plugged back (its
// /dev/serial/by-id style symlink removed and recreated to a new tty), and a device that goes
// silent and comes back (the stale watchdog). After each event the readings are journaled again
// without a redeploy, none twice, and the old tty is never left open (its lock released).
import t from 'tap';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { openPtyPair, type PtyPair } from '../device-sim/pty';
import { encodeDf7Packet } from '../device-sim/devices/nonin-df7-encoder';
import { DeviceCredentials } from '../gateway/ingest/device-credentials';
import { RUNTIME_SETTING } from '../gateway/runtime';
import type { Reading } from '../protocol/reading';
import { nodeRedHelper, type HelperNode } from './node-red.helpers';
import { testRuntime } from './gateway-runtime.helpers';

const helper = nodeRedHelper();
const serialNode = require('../nodes/serial-device') as unknown;
const serialPortNode = require('../nodes/serial-port') as unknown;

const pleth = Array(25).fill(30000);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
const lastStatus = (n: HelperNode): Record<string, unknown> => (n.status as unknown as { lastCall?: { args: Array<Record<string, unknown>> } }).lastCall?.args[0] ?? {};

/** Open file descriptors of this process on `ttyPath` (what would keep a tty, and its lock, held). */
function fdsOn(ttyPath: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === ttyPath) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

async function setup(t: { teardown(fn: () => unknown): void }, port: Record<string, unknown>): Promise<{ readings: Reading[]; sd: HelperNode; rt: Awaited<ReturnType<typeof testRuntime>>['rt'] }> {
  const T = await testRuntime({ devices: new DeviceCredentials([]), client: { submit: () => new Promise(() => undefined) } });
  t.teardown(() => T.close());
  helper.settings({ [RUNTIME_SETTING]: T.rt });
  await new Promise<void>((r) => helper.startServer(r));
  t.teardown(() => new Promise<void>((r) => helper.stopServer(r)));
  await helper.load([serialPortNode, serialNode], [
    { id: 'port', type: 'mcps-serial-port', baud: 9600, dataBits: 8, parity: 'none', stopBits: 1, format: 'nonin-df7', ...port },
    { id: 'sd', type: 'mcps-serial-device', serial: 'port', deviceId: 'oxi-bed1', patient: 'p-0001', wires: [['ok'], []] },
    { id: 'ok', type: 'helper' },
  ]);
  t.teardown(() => helper.unload());
  const readings: Reading[] = [];
  helper.getNode('ok').on('input', (m) => {
    const msg = m as { payload: Reading; journalId?: number };
    if (typeof msg.journalId === 'number') readings.push(msg.payload);
  });
  return { readings, sd: helper.getNode('sd'), rt: T.rt };
}

async function sendPackets(pty: PtyPair, spo2s: number[]): Promise<void> {
  for (const spo2 of spo2s) {
    await pty.write(encodeDf7Packet({ spo2, pulseRate: 70, pleth }));
    await sleep(40);
  }
}

const seqs = (rs: Reading[]): number[] => rs.filter((r) => r.kind === 'spo2').map((r) => r.deviceSeq);

t.test('unplugged and plugged back: the by-id symlink is followed to the new tty, no redeploy, nothing twice, the old tty released', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-serial-by-id-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const byId = join(dir, 'usb-Nonin_Medical_Inc._Xpod-if00-port0');
  const first = await openPtyPair();
  t.teardown(() => first.close());
  symlinkSync(first.path, byId);
  const { readings, sd, rt } = await setup(t, { path: byId, reconnectMs: 100, maxReconnectMs: 400, staleAfterS: 0 });
  const link = [...rt.serialLinks][0]!;
  t.equal(link.status.path, byId, 'the runtime knows the link by its configured path (for the metrics)');
  await until('the port open', () => link.status.state === 'open');

  await sendPackets(first, [97, 96, 95]);
  await until('3 packets journaled', () => seqs(readings).length === 3);
  t.equal(fdsOn(first.path), 1, 'the gateway holds the tty once');

  // Unplug: the tty goes away (hang-up on the open port) and so does its by-id name.
  await first.close();
  unlinkSync(byId);
  await until('the error reported', () => link.status.state === 'error' || link.status.state === 'connecting');
  await sleep(600); // several reopen attempts against a missing path
  t.equal(fdsOn(first.path), 0, 'nothing left open on the vanished tty');
  t.match(lastStatus(sd), { fill: /red|yellow/ }, 'the node shows the trouble');
  t.ok(link.status.reopens.error >= 2, `it keeps trying (${link.status.reopens.error} attempts)`);

  // Replug: a new tty (another /dev/pts number, as another ttyUSB would be), the same by-id name.
  const second = await openPtyPair();
  t.teardown(() => second.close());
  // (The kernel may give the new tty the old number, as a replugged adapter often gets ttyUSB0 again.)
  symlinkSync(second.path, byId);
  await until('the port open again, without a redeploy', () => link.status.state === 'open', 30_000);
  await sendPackets(second, [94, 93, 92, 91]);
  await until('4 more packets journaled', () => seqs(readings).length === 7);
  t.same(readings.filter((r) => r.kind === 'spo2').map((r) => r.value), [97, 96, 95, 94, 93, 92, 91], 'every packet journaled, once');
  t.same(seqs(readings), [1, 2, 3, 4, 5, 6, 7], 'sequence numbers continue across the replug: no reading counted twice');
  t.equal(rt.metrics.readingsIn, 14, 'the runtime counted 14 readings (SpO2 and pulse rate per packet)');
  t.equal(fdsOn(second.path), 1, 'one descriptor on the new tty');

  await helper.unload();
  t.equal(fdsOn(second.path), 0, 'closing the flow releases the tty');
  const again = new SerialPort({ path: second.path, baudRate: 9600, autoOpen: false });
  await new Promise<void>((res, rej) => again.open((e) => (e ? rej(e) : res())));
  await new Promise<void>((r) => again.close(() => r()));
  t.pass('and another process can lock it');
});

t.test('a device that goes silent: stale after its limit, the port reopened until frames return, then accepted again', async (t) => {
  const pty = await openPtyPair();
  t.teardown(() => pty.close());
  const { readings, sd, rt } = await setup(t, { path: pty.path, reconnectMs: 100, staleAfterS: 1 });
  const link = [...rt.serialLinks][0]!;
  await until('the port open', () => link.status.state === 'open');
  await sendPackets(pty, [97, 96]);
  await until('2 packets journaled', () => seqs(readings).length === 2);

  // Half a packet, then silence (a device that froze mid-frame).
  await pty.write(encodeDf7Packet({ spo2: 50, pulseRate: 50, pleth }).subarray(0, 60));
  await until('stale', () => link.status.state === 'stale', 30_000);
  t.equal(link.status.staleEvents, 1, 'one stale period');
  t.match(lastStatus(sd), { fill: 'yellow', text: /stale/ }, 'the node says stale');
  await until('reopened at least twice while silent', () => link.status.reopens.stale >= 2, 30_000);
  t.equal(link.status.staleEvents, 1, 'still one stale period, however many reopens');
  t.ok(fdsOn(pty.path) <= 1, 'reopening never stacks descriptors on the tty');

  // The device comes back, streaming as a monitor does (3 packets a second, here faster). Bytes that
  // reach the tty in the moment the port is being reopened are lost on the wire, as on a real
  // line; everything after is taken, once.
  const resumed: number[] = [];
  const resumedAt = Date.now();
  for (let v = 90; v > 40 && seqs(readings).length < 5; v--) {
    await pty.write(encodeDf7Packet({ spo2: v, pulseRate: 70, pleth }));
    resumed.push(v);
    await sleep(100);
  }
  await until('3 more packets journaled', () => seqs(readings).length >= 5);
  await sleep(300);
  await until('open again', () => link.status.state === 'open');
  const values = readings.filter((r) => r.kind === 'spo2').map((r) => r.value);
  t.same(values.slice(0, 2), [97, 96], 'before the silence');
  const after = values.slice(2);
  t.notOk(after.includes(50), 'the half packet was not taken for a reading');
  t.same(after, resumed.slice(resumed.length - after.length), `after it, the packets the device sent from the moment the port was open, each once (${after.length} of ${resumed.length})`);
  t.same(seqs(readings), seqs(readings).map((_, i) => i + 1), 'sequence numbers continue across the reopens, none twice');
  t.equal(link.status.staleEvents, 1);
  t.ok(link.status.lastFrameAt! >= resumedAt, 'the last valid frame is one after the silence');
});

t.test('a device not switched on yet: stale, but its port is left open so its first frames are not lost to a reopen', async (t) => {
  const pty = await openPtyPair();
  t.teardown(() => pty.close());
  const { readings, rt } = await setup(t, { path: pty.path, reconnectMs: 100, staleAfterS: 1 });
  const link = [...rt.serialLinks][0]!;
  await until('stale', () => link.status.state === 'stale', 30_000);
  await sleep(1500);
  t.equal(link.status.reopens.stale, 0, 'never reopened: it never delivered a frame');
  t.equal(rt.metrics.serialPortsOpen, 1, 'a stale port still counts as open');
  await sendPackets(pty, [98, 97]);
  await until('2 packets journaled', () => seqs(readings).length === 2);
  t.same(readings.filter((r) => r.kind === 'spo2').map((r) => r.value), [98, 97], 'its first frames are all taken');
  await until('open', () => link.status.state === 'open');
});
