// The Masimo ASCII 1 decoder against the published example lines (the same ones docs/devices.md
// shows), chunked anywhere; refusals that name the line and the field; and a round trip with the
// simulator's encoder over random samples.
import t from 'tap';
import fc from 'fast-check';
import { MasimoAsciiDecoder } from '../gateway/ingest/decoders/masimo-ascii';
import type { DecodedEvent } from '../gateway/ingest/decoders/serial-decoder';
import { eventReadings } from '../gateway/ingest/decoders/serial-decoder';
import { encodeMasimoLine } from '../device-sim/devices/masimo-ascii-encoder';

const RADICAL5 = '09/15/10 15:10:29 SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800\r\n';
const RADICAL7 = '12/01/05 11:56:29 SN=0123456789 SPO2=098% BPM=240 PI=20.00% SPCO=01.0% SPMET=00.5% DESAT=01 PIDELTA=-02 PVI=027 ALARM=0000 EXC=000820\r\n';
type Ok = Extract<DecodedEvent, { type: 'readings' }>;

t.test('the published example lines', async (t) => {
  const d = new MasimoAsciiDecoder({ source: '/dev/ttyUSB0' });
  const [a, b] = d.push(Buffer.from(RADICAL5 + RADICAL7, 'latin1')) as [Ok, Ok];
  t.same(a.values, [{ kind: 'spo2', value: 97 }, { kind: 'pulse_rate', value: 64 }, { kind: 'perfusion_index', value: 11.82 }]);
  t.same(a.alarms, ['alarm silenced'], 'ALARM=20');
  t.same(a.exceptions, ['SET mode'], 'EXC=800');
  t.equal(a.deviceTime, Date.UTC(2010, 8, 15, 15, 10, 29));
  t.same(b.values, [{ kind: 'spo2', value: 98 }, { kind: 'pulse_rate', value: 240 }, { kind: 'perfusion_index', value: 20 }]);
  t.same(b.alarms, []);
  t.same(b.exceptions, ['sensor off', 'SET mode'], 'EXC=000820');
  const readings = eventReadings(a, { deviceId: 'oxi-1', patient: 'p-1', receivedAt: 1 });
  t.same(readings.map((r) => `${r.kind} ${r.value} ${r.unit} MDC ${r.mdc} LOINC ${r.loinc}`), ['spo2 97 % MDC 150456 LOINC 2708-6', 'pulse_rate 64 /min MDC 149530 LOINC 8889-8', 'perfusion_index 11.82 % MDC 150488 LOINC ']);
});

t.test('any chunking gives the same events; dashes are no value', async (t) => {
  const bytes = Buffer.from(RADICAL5 + '09/15/10 15:10:30 SPO2=---% BPM=--- PI=--.--% ALARM=00 EXC=020\r\n' + RADICAL7, 'latin1');
  const whole = new MasimoAsciiDecoder({ source: 's' }).push(bytes);
  t.equal(whole.length, 3);
  t.same((whole[1] as Ok).values, [], 'a line of dashes has no values');
  t.same((whole[1] as Ok).exceptions, ['sensor off']);
  for (const size of [1, 2, 7, 13, 64]) {
    const d = new MasimoAsciiDecoder({ source: 's' });
    const evs: DecodedEvent[] = [];
    for (let i = 0; i < bytes.length; i += size) evs.push(...d.push(bytes.subarray(i, i + size)));
    t.same(evs, whole, `chunks of ${size}`);
  }
});

t.test('refusals name the line and the field, and the next good line still decodes', async (t) => {
  const bad = [
    ['09/15/10 15:10:29 SPO2=120% BPM=064 ALARM=20 EXC=800', /line 1: SPO2=120% outside 0\.\.100 %/],
    ['09/15/10 15:10:29 SPO2=09x% BPM=064', /line 2: SPO2="09x%" is not a number/],
    ['09/15/10 15:10:29 SPO2=097%', /line 3: no BPM field/],
    ['09/15/10 15:10:29 SPO2=097% BPM=064 ALARM=2G', /line 4: ALARM="2G" is not a 2 or 4-digit hexadecimal mask/],
    ['13/15/10 15:10:29 SPO2=097% BPM=064', /line 5: date\/time .* out of range/],
    ['\x90\xff\x12garbage', /line 6: holds bytes that are not printable ASCII/],
    ['SPO2=097% BPM=064', /line 7: not "MM\/DD\/YY HH:MM:SS KEY=value …"/],
    ['09/15/10 15:10:29 SPO2=097% SPO2=098% BPM=064', /line 8: field SPO2 appears twice/],
  ] as const;
  const d = new MasimoAsciiDecoder({ source: '/dev/ttyS1' });
  const evs = d.push(Buffer.from(bad.map(([l]) => l).join('\r\n') + '\r\n' + RADICAL5, 'latin1'));
  t.equal(evs.length, bad.length + 1);
  bad.forEach(([, re], i) => {
    const e = evs[i]!;
    t.equal(e.type, 'error');
    if (e.type === 'error') {
      t.match(e.reason, re);
      t.match(e.reason, /^\/dev\/ttyS1 /, 'names the source');
    }
  });
  t.equal(evs[bad.length]!.type, 'readings', 'the good line after them decodes');
  t.same(d.counters, { lines: 1, badLines: bad.length });
  const long = new MasimoAsciiDecoder({ source: 's' }).push(Buffer.alloc(600, 0x41));
  t.match((long[0] as { reason: string }).reason, /600 bytes without a line end \(limit 512\)/, 'a stream with no line ends is refused, memory stays bounded');
});

t.test('a line cut short is refused and the line glued to it still decodes', async (t) => {
  const d = new MasimoAsciiDecoder({ source: '/dev/ttyS1' });
  const evs = d.push(Buffer.from(RADICAL7.slice(0, 50) + RADICAL5, 'latin1'));
  t.equal(evs.length, 2);
  t.match((evs[0] as { reason: string }).reason, /^\/dev\/ttyS1 line 1: 50 bytes cut off before a new line began \("12\/01\/05 11:56:29/);
  t.same((evs[1] as Ok).values, [{ kind: 'spo2', value: 97 }, { kind: 'pulse_rate', value: 64 }, { kind: 'perfusion_index', value: 11.82 }]);
  t.same(d.counters, { lines: 1, badLines: 1 });
});

t.test('what the simulator prints, the decoder reads back', async (t) => {
  fc.assert(
    fc.property(
      fc.record({
        time: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31) }).map((x) => x - (x % 1000)),
        spo2: fc.option(fc.integer({ min: 0, max: 100 })),
        bpm: fc.option(fc.integer({ min: 0, max: 350 })),
        pi: fc.option(fc.integer({ min: 0, max: 9999 }).map((x) => x / 100)),
        alarm: fc.integer({ min: 0, max: 0x3fff }),
        exc: fc.integer({ min: 0, max: 0xfff }),
      }),
      fc.constantFrom('radical5' as const, 'radical7' as const),
      (s, style) => {
        const alarm = style === 'radical5' ? s.alarm & 0xff : s.alarm;
        const [ev] = new MasimoAsciiDecoder({ source: 's' }).push(encodeMasimoLine({ ...s, alarm }, style));
        if (!ev || ev.type !== 'readings') return false;
        const want = [s.spo2 !== null && { kind: 'spo2', value: s.spo2 }, s.bpm !== null && { kind: 'pulse_rate', value: s.bpm }, s.pi !== null && { kind: 'perfusion_index', value: s.pi }].filter(Boolean);
        return JSON.stringify(ev.values) === JSON.stringify(want) && ev.deviceTime === s.time;
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 random samples round-trip');
});
