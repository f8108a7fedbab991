// The serial path on a real tty: the simulator writes Nonin DF7 into a pseudo-terminal, serialport
// opens the other side as the gateway does, the decoder turns bytes into packets.
import t from 'tap';
import { SerialPort } from 'serialport';
import { openPtyPair } from '../device-sim/pty';
import { encodeDf7Packet } from '../device-sim/devices/nonin-df7-encoder';
import { PulseOximeterModel } from '../device-sim/devices/pulse-oximeter';
import { NoninDf7Decoder, type Df7Event } from '../gateway/ingest/decoders/nonin-df7';
import { SerialLink, type LinkState } from '../gateway/ingest/serial-link';

t.test('packets through a pty arrive once each, in order; a corrupted frame is counted with its reason', async (t) => {
  const pty = await openPtyPair();
  t.teardown(() => pty.close());
  t.match(pty.path, /^\/dev\/pts\/\d+$/);
  const port = new SerialPort({ path: pty.path, baudRate: 9600, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((err) => (err ? rej(err) : res())));
  t.teardown(() => new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r())));
  const decoder = new NoninDf7Decoder({ source: pty.path });
  const events: Df7Event[] = [];
  port.on('data', (b: Buffer) => events.push(...decoder.push(b)));

  const model = new PulseOximeterModel(42);
  const sent: Array<{ spo2: number; pulseRate: number }> = [];
  for (let i = 0; i < 9; i++) {
    // 3 s of a real oximeter: 3 packets per second
    const s = model.next();
    const bytes = encodeDf7Packet({ spo2: s.spo2, pulseRate: s.pulseRate, pleth: s.pleth });
    if (i === 4) bytes[7 * 5 + 4] ^= 0xff; // corrupt the checksum of frame 8 of packet 5
    else sent.push({ spo2: s.spo2, pulseRate: s.pulseRate });
    await pty.write(bytes);
    await new Promise((r) => setTimeout(r, 333));
  }
  const deadline = Date.now() + 5000;
  while (events.filter((e) => e.type === 'packet').length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const got = events.flatMap((e) => (e.type === 'packet' ? [{ spo2: e.spo2, pulseRate: e.pulseRate }] : []));
  t.same(got, sent, 'every intact packet decoded exactly once, in order');
  const errs = events.flatMap((e) => (e.type === 'error' ? [e.reason] : []));
  t.match(errs[0], new RegExp(`^${pty.path} byte ${4 * 125 + 35}: checksum 0x`), 'the bad frame is reported at its byte offset');
  t.equal(decoder.counters.badPackets, 1, 'the damaged packet is counted, not guessed at');
});

t.test('a serial link reports errors and reopens the port', async (t) => {
  const states: string[] = [];
  const link = new SerialLink({ path: '/dev/pts/does-not-exist', baudRate: 9600, reconnectMs: 100, onData: () => undefined, onState: (s: LinkState) => states.push(s.state === 'error' ? `error:${s.reason}` : s.state) });
  await new Promise((r) => setTimeout(r, 450));
  await link.close();
  t.ok(states.filter((s) => s === 'connecting').length >= 2, 'it keeps retrying');
  t.equal(states.filter((s) => s.startsWith('error')).length, 1, 'the same error is reported once, not once per retry');
  t.match(states.find((s) => s.startsWith('error')), /No such file or directory|ENOENT|cannot open/i);
  t.equal(states[states.length - 1], 'closed');
});
