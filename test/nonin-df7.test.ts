// The Nonin data format 7 decoder, from hand-written hex and from the simulator's encoder.
import t from 'tap';
import fc from 'fast-check';
import { NoninDf7Decoder, df7Readings, type Df7Event } from '../gateway/ingest/decoders/nonin-df7';
import { encodeDf7Packet } from '../device-sim/devices/nonin-df7-encoder';

// One packet written out by hand from the published layout: SpO2 97 %, pulse rate 130/min
// (130 = 0b1_0000010: bits 8..7 = 01 in frame 1, bits 6..0 = 0x02 in frame 2), perfusion green
// (status 0x82, 0x83 with SYNC), pleth 0x8000.
function handPacket(): string {
  const frames: string[] = [];
  for (let f = 1; f <= 25; f++) {
    const b1 = f === 1 ? 0x83 : 0x82;
    const b4 = f === 1 ? 0x01 : f === 2 ? 0x02 : f === 3 ? 0x61 : 0x00;
    const b5 = (b1 + 0x80 + 0x00 + b4) & 0xff;
    frames.push([b1, 0x80, 0x00, b4, b5].map((b) => b.toString(16).padStart(2, '0')).join(''));
  }
  return frames.join('');
}
const HAND = handPacket();
const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const packets = (evs: Df7Event[]) => evs.filter((e): e is Extract<Df7Event, { type: 'packet' }> => e.type === 'packet');
const errors = (evs: Df7Event[]) => evs.filter((e): e is Extract<Df7Event, { type: 'error' }> => e.type === 'error');

t.test('the documented example decodes to SpO2 97 and pulse rate 130', async (t) => {
  t.equal(HAND.slice(0, 20), '8380000104' + '8280000204', 'first two frames as in docs/devices.md');
  const d = new NoninDf7Decoder({ source: 'tty' });
  const evs = d.push(bytes(HAND));
  t.same(errors(evs), []);
  t.match(packets(evs), [{ packetIndex: 1, spo2: 97, pulseRate: 130, flags: { perfusion: 'green', sensorDisconnected: false, artifact: false } }]);
  const rs = df7Readings(packets(evs)[0]!, { deviceId: 'oxi', patient: 'p', receivedAt: 5 });
  t.match(rs, [{ kind: 'spo2', value: 97, unit: '%', mdc: '150456', deviceSeq: 1 }, { kind: 'pulse_rate', value: 130, unit: '/min', mdc: '149530', deviceSeq: 1 }]);
});

t.test('byte by byte, the same packet decodes once', async (t) => {
  const d = new NoninDf7Decoder({ source: 'tty' });
  const all: Df7Event[] = [];
  for (const b of bytes(HAND + HAND)) all.push(...d.push(Uint8Array.of(b)));
  t.equal(packets(all).length, 2);
  t.same(errors(all), []);
});

t.test('a corrupt checksum rejects the packet with a reason naming the byte', async (t) => {
  const p = bytes(HAND + HAND + HAND);
  p[125 + 5 * 4 + 4] ^= 0x10; // frame 5 of packet 2: checksum
  const d = new NoninDf7Decoder({ source: '/dev/pts/9' });
  const evs = d.push(p);
  t.same(packets(evs).map((e) => e.packetIndex), [1, 2], 'packets 1 and 3 decode (numbered as received)');
  const errs = errors(evs).map((e) => e.reason);
  t.match(errs[0], /^\/dev\/pts\/9 byte 145: checksum 0x/, 'names the source and the offset');
  t.ok(errs.some((r) => /packet at byte 125: bytes lost inside the packet/.test(r)), 'the broken packet is reported');
  t.equal(d.counters.badPackets, 1);
});

t.test('a truncated packet (frames missing before the next SYNC) is refused', async (t) => {
  const d = new NoninDf7Decoder({ source: 'tty' });
  const evs = d.push(bytes(HAND + HAND.slice(0, 24 * 10) + HAND));
  t.equal(packets(evs).length, 2);
  t.match(errors(evs).map((e) => e.reason), [/packet at byte 125: 24 frames before the next SYNC, expected 25/]);
});

t.test('joining mid-stream is not an error; garbage later is', async (t) => {
  const d = new NoninDf7Decoder({ source: 'tty' });
  const evs = d.push(bytes('0102037f' + HAND.slice(50) + HAND));
  t.equal(packets(evs).length, 1);
  t.same(errors(evs), [], 'bytes before the first SYNC are skipped quietly');
  const later = d.push(bytes('00'.repeat(7) + HAND));
  t.equal(packets(later).length, 1);
  t.match(errors(later).map((e) => e.reason), [/status byte 0x00 lacks bit 7; 7 bytes skipped/]);
});

t.test('oversized garbage is skipped with bounded memory and one report', async (t) => {
  const d = new NoninDf7Decoder({ source: 'tty' });
  d.push(bytes(HAND));
  const junk = new Uint8Array(1_000_000).fill(0x11);
  let evs: Df7Event[] = [];
  for (let i = 0; i < junk.length; i += 4096) evs = evs.concat(d.push(junk.subarray(i, i + 4096)));
  evs = evs.concat(d.push(bytes(HAND)));
  t.equal(packets(evs).length, 1, 'recovers on the next packet');
  const errs = errors(evs);
  t.equal(errs.length, 1, 'one report for the whole run');
  t.match(errs[0]!.reason, /1000000 bytes skipped/);
  t.ok(errs[0]!.raw.length <= 64, 'the kept sample is bounded');
});

t.test('missing values (PR 511, SpO2 127) give no reading; flags are decoded', async (t) => {
  const pleth = Array(25).fill(30000);
  const d = new NoninDf7Decoder({ source: 'tty' });
  const [ev] = packets(d.push(encodeDf7Packet({ spo2: null, pulseRate: null, pleth, sensorDisconnected: true, artifact: true, perfusion: 'red' })));
  t.match(ev, { spo2: null, pulseRate: null, flags: { sensorDisconnected: true, artifact: true, outOfTrack: false, perfusion: 'red' } });
  t.same(df7Readings(ev!, { deviceId: 'o', patient: 'p', receivedAt: 0 }), []);
});

t.test('property: encoder → arbitrary chunking → decoder gives back every packet in order', async () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ spo2: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }), pulseRate: fc.option(fc.integer({ min: 0, max: 510 }), { nil: null }), pleth: fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 25, maxLength: 25 }) }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 20 }),
      (ps, cuts) => {
        const stream = Buffer.concat(ps.map((p) => encodeDf7Packet(p)));
        const d = new NoninDf7Decoder({ source: 'tty' });
        const out: Df7Event[] = [];
        let i = 0;
        for (let c = 0; i < stream.length; c++) {
          const n = cuts[c % cuts.length]!;
          out.push(...d.push(stream.subarray(i, i + n)));
          i += n;
        }
        const got = packets(out);
        return errors(out).length === 0 && got.length === ps.length && got.every((g, k) => g.spo2 === ps[k]!.spo2 && g.pulseRate === ps[k]!.pulseRate);
      },
    ),
    { numRuns: 200 },
  );
});

t.test('property: random bytes never throw, and every byte is accounted for', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), (junk) => {
      const d = new NoninDf7Decoder({ source: 'tty' });
      const evs = d.push(junk);
      const c = d.counters;
      // Bytes are either in frames, skipped, or (at most 4) held back waiting for the rest of a frame.
      const accounted = c.frames * 5 + c.skippedBytes;
      return evs.every((e) => e.type === 'packet' || e.reason.length > 0) && accounted <= junk.length && junk.length - accounted <= 4 + 5;
    }),
    { numRuns: 300 },
  );
});
