// Simulated serial lines pace their bytes like a UART: the bits per byte of each framing, ~10 ms
// chunks, bytes in order even with writes queued back to back. (Timing itself is not asserted:
// tests never do.)
import t from 'tap';
import { LinePacer, bitsPerByte } from '../device-sim/line-pacer';
import { LINE_SETTINGS } from '../device-sim/simulator';

t.test('bits per byte and chunking', async (t) => {
  t.equal(bitsPerByte(LINE_SETTINGS['nonin-df7']), 10, '8N1');
  t.equal(bitsPerByte(LINE_SETTINGS['contec-cms50d']), 11, '8O1');
  const chunks: number[][] = [];
  const p = new LinePacer({ write: async (b) => void chunks.push([...b]) }, LINE_SETTINGS['nonin-df7']);
  t.equal(p.bytesPerS, 960);
  const a = Uint8Array.from({ length: 25 }, (_, i) => i);
  const b = Uint8Array.from({ length: 7 }, (_, i) => 100 + i);
  await Promise.all([p.write(a), p.write(b)]);
  t.same(chunks.map((c) => c.length), [10, 10, 5, 7], '10 bytes (10 ms at 9600 8N1) at a time, writes one after the other');
  t.same(chunks.flat(), [...a, ...b], 'in order');
  const fast = new LinePacer({ write: async () => undefined }, LINE_SETTINGS['contec-cms50d'], 4);
  t.equal(Math.round(fast.bytesPerS), Math.round((19200 / 11) * 4), 'a faster simulation speeds the line up too');
});
