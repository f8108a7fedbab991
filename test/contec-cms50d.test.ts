// The Contec CMS50D+ live-stream decoder against frames built from the published layout (the same
// bytes docs/devices.md shows), and against what the simulator sends.
import t from 'tap';
import fc from 'fast-check';
import { ContecCms50dDecoder } from '../gateway/ingest/decoders/contec-cms50d';
import type { DecodedEvent } from '../gateway/ingest/decoders/serial-decoder';
import { eventReadings } from '../gateway/ingest/decoders/serial-decoder';
import { encodeContecFrame, encodeContecSecond } from '../device-sim/devices/contec-cms50d-encoder';
import { PulseOximeterModel } from '../device-sim/devices/pulse-oximeter';

type Ok = Extract<DecodedEvent, { type: 'readings' }>;
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** SpO2 97 %, pulse 72/min, pleth 64, signal 8, bar 8: the docs/devices.md example. */
const NORMAL = '88 40 08 48 61';
/** Pulse 150/min: bit 7 of the rate travels in bit 6 of byte 2. */
const FAST = 'c8 40 48 16 5f';
/** Finger out: no values (127, 255). */
const FINGER_OUT = '90 00 40 7f 7f';
const second = (frame: string, n = 60): Buffer => Buffer.concat(Array.from({ length: n }, () => hex(frame)));

t.test('frames from the published layout', async (t) => {
  const d = new ContecCms50dDecoder({ source: '/dev/ttyUSB0' });
  const evs = d.push(Buffer.concat([second(NORMAL), second(FAST), second(FINGER_OUT)])) as Ok[];
  t.equal(evs.length, 3, 'one group per 60 frames');
  t.same(evs[0]!.values, [{ kind: 'spo2', value: 97 }, { kind: 'pulse_rate', value: 72 }]);
  t.same(evs[0]!.exceptions, []);
  t.same(evs[1]!.values, [{ kind: 'spo2', value: 95 }, { kind: 'pulse_rate', value: 150 }]);
  t.same(evs[1]!.alarms, [], 'the beep bit is a pulse beat, not an alarm');
  t.same(evs[2]!.values, [], 'finger out: no values');
  t.same(evs[2]!.exceptions, ['finger out']);
  t.same(evs.map((e) => e.seq), [1, 2, 3], 'seq counts seconds of stream');
  t.same(d.counters, { frames: 180, badFrames: 0, seconds: 3, skippedBytes: 0 });
  const readings = eventReadings(evs[0]!, { deviceId: 'oxi-3', patient: 'p-3', receivedAt: 1 });
  t.same(readings.map((r) => `${r.kind} ${r.value} ${r.unit} MDC ${r.mdc} LOINC ${r.loinc}`), ['spo2 97 % MDC 150456 LOINC 2708-6', 'pulse_rate 72 /min MDC 149530 LOINC 8889-8']);
  t.same([...encodeContecFrame({ pleth: 64, spo2: 97, pulseRate: 72, signal: 8, bar: 8 })], [...hex(NORMAL)], 'the simulator encodes the example byte for byte');
  t.same([...encodeContecFrame({ pleth: 64, spo2: 95, pulseRate: 150, signal: 8, bar: 8, beep: true })], [...hex(FAST)]);
  t.same([...encodeContecFrame({ pleth: 0, spo2: null, pulseRate: null, fingerOut: true })], [...hex(FINGER_OUT)]);
});

t.test('any chunking gives the same events; joining mid-frame is not an error', async (t) => {
  const bytes = Buffer.concat([hex('48 61'), second(NORMAL), second(FAST)]);
  const whole = new ContecCms50dDecoder({ source: 's' }).push(bytes);
  t.equal(whole.length, 2);
  t.ok(whole.every((e) => e.type === 'readings'), 'the tail of a frame before the first sync byte is skipped quietly');
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 50 }), (sizes) => {
      const d = new ContecCms50dDecoder({ source: 's' });
      const evs: DecodedEvent[] = [];
      let i = 0;
      for (let k = 0; i < bytes.length; k++) {
        const n = sizes[k % sizes.length]!;
        evs.push(...d.push(bytes.subarray(i, i + n)));
        i += n;
      }
      t.same(evs, whole);
      return true;
    }),
    { numRuns: 50 },
  );
});

t.test('refusals name the source, the byte and what was wrong; good frames around them still count', async (t) => {
  const d = new ContecCms50dDecoder({ source: '/dev/ttyS2' });
  const bytes = Buffer.concat([
    second(NORMAL, 10),
    hex('88 40 08'), // cut short: the next sync byte comes after 3 bytes
    second(NORMAL, 10),
    hex('88 40 08 48 70'), // SpO2 112
    second(NORMAL, 10),
    hex('11 22 33'), // bytes with no sync byte before them
    second(NORMAL, 37),
  ]);
  const evs = d.push(bytes);
  const errors = evs.filter((e) => e.type === 'error').map((e) => (e as { reason: string }).reason);
  t.match(errors, [/^\/dev\/ttyS2 byte 50: frame cut short after 3 bytes/, /^\/dev\/ttyS2 byte 103: SpO2 112 outside 0\.\.100/, /^\/dev\/ttyS2 byte 158: byte 0x11 outside a frame; 3 bytes refused/]);
  const ok = evs.filter((e): e is Ok => e.type === 'readings');
  t.equal(ok.length, 1, 'a second: 67 good frames and two refused frame slots (the stray bytes take none)');
  t.same(ok[0]!.values, [{ kind: 'spo2', value: 97 }, { kind: 'pulse_rate', value: 72 }]);
  t.equal(d.counters.badFrames, 3);
});

t.test('noise cannot make the decoder throw or grow', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (noise) => {
      const d = new ContecCms50dDecoder({ source: 's' });
      const evs = [...d.push(noise), ...d.push(second(NORMAL, 120))];
      t.ok(evs.filter((e) => e.type === 'readings').length >= 1, 'clean frames after noise decode');
      return true;
    }),
    { numRuns: 100 },
  );
});

t.test('what the simulator sends, the decoder reads back', async (t) => {
  const model = new PulseOximeterModel(42);
  const d = new ContecCms50dDecoder({ source: 'pty' });
  let same = 0;
  for (let s = 1; s <= 100; s++) {
    const steps = [model.next(), model.next(), model.next()];
    const last = steps[2]!;
    const [ev] = d.push(encodeContecSecond({ spo2: last.spo2, pulseRate: last.pulseRate, pleth: steps.flatMap((x) => x.pleth) })) as Ok[];
    if (!ev || ev.seq !== s) return t.fail(`second ${s}: no group`);
    if (JSON.stringify(ev.values) === JSON.stringify([{ kind: 'spo2', value: last.spo2 }, { kind: 'pulse_rate', value: last.pulseRate }])) same++;
  }
  t.equal(same, 100, 'a hundred seconds, each read back as sent');
  t.equal(d.counters.badFrames, 0);
});
