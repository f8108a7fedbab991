// The data user's slice pool (data-user/slice-pool.ts): worker threads open exactly what the
// inline path opens (same readings, leaves, salt keys, same refusals), the main thread can take
// chunks too (assist), and the results come back in the jobs' order.
import t from 'tap';
import { buildBatch, checkEnvelope, type DirectoryVersion } from '../protocol/batch';
import { sliceKey } from '../protocol/sharing/slice-keys';
import { READING_KINDS, type Reading, type ReadingKind } from '../protocol/reading';
import { openSliceJob, type SliceJob } from '../data-user/slice-open';
import fc from 'fast-check';
import { packReadings, SlicePool, unpackReadings } from '../data-user/slice-pool';

const T0 = 1_764_000_000_000;
const epoch = { id: T0 - 5000, key: new Uint8Array(32).fill(0x22), wrapped: new Uint8Array(80).fill(0x33) };

function jobsOf(version: DirectoryVersion, patients: number): SliceJob[] {
  const readings: Reading[] = [];
  for (let i = 0; i < patients * 5; i++) readings.push({ deviceId: `mon-${i % patients}`, patient: `p-${i % patients}`, kind: 'heart_rate', mdc: '147842', loinc: '8867-4', value: 60 + (i % 30), unit: '/min', deviceTime: null, receivedAt: T0 + i * 100, deviceSeq: i, source: 'mqtt' });
  const b = buildBatch({ gatewayId: 'gw-1', seq: 1, prevHash: new Uint8Array(32), readings, tagKey: new Uint8Array(32).fill(1), epoch, sealedAt: T0 + patients * 500, watermark: T0, directoryVersion: version });
  const { ciphertexts } = checkEnvelope(b.header, b.envelope);
  return b.directory.slices.map((e, i) => ({ id: i, key: sliceKey(epoch.key, { gatewayId: 'gw-1', seq: 1, tag: e.tag, day: e.day, count: e.count, firstReceivedAt: e.firstReceivedAt, lastReceivedAt: e.lastReceivedAt }), gatewayId: 'gw-1', seq: 1, entry: e, directoryVersion: version, ciphertext: ciphertexts[i]! }));
}

const plain = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));

for (const version of [2, 3] as const) {
  t.test(`directory v${version}: the pool opens what the inline path opens, in order`, async (t) => {
    const jobs = jobsOf(version, 50);
    // One altered ciphertext and one wrong key among them.
    const bad = jobs.map((j, i) => (i === 3 ? { ...j, ciphertext: Uint8Array.from(j.ciphertext, (b, k) => (k === 0 ? b ^ 1 : b)) } : i === 7 ? { ...j, key: new Uint8Array(32) } : j));
    const want = bad.map(openSliceJob);
    t.equal(want.filter((r) => r.ok).length, 48);
    t.match(want[3], { ok: false, altered: true });
    t.match(want[7], { ok: false, altered: false });
    const pool = new SlicePool(2);
    try {
      let last = 0;
      const got = await pool.open(bad, (d) => (last = d));
      t.equal(plain(got), plain(want), 'same results, same order');
      t.equal(last, bad.length, 'progress reaches every job');
      // The main thread assisting: still every job once, in order.
      const p = pool.open(jobs);
      await pool.assist();
      t.equal(plain(await p), plain(jobs.map(openSliceJob)));
      // Overlapping runs (a fetch opens each page's slices as the page arrives): each gets its own, in order.
      const [x, y] = await Promise.all([pool.open(jobs.slice(0, 30)), pool.open(bad.slice(10))]);
      t.equal(plain(x), plain(want.slice(0, 30).map((r, k) => (k === 3 || k === 7 ? openSliceJob(jobs[k]!) : r))));
      t.equal(plain(y), plain(want.slice(10)));
    } finally {
      await pool.close();
    }
  });
}

t.test('a pool of no workers opens inline', async (t) => {
  const jobs = jobsOf(3, 12);
  const pool = new SlicePool(0);
  t.equal(plain(await pool.open(jobs)), plain(jobs.map(openSliceJob)));
  await pool.close();
});

t.test('property: readings packed for the trip from a worker unpack to the same objects (fields, order, values)', async (t) => {
  const reading: fc.Arbitrary<Reading> = fc.record({
    deviceId: fc.string({ maxLength: 12 }),
    patient: fc.constantFrom('p-1', 'p-2', ''),
    kind: fc.constantFrom(...(Object.keys(READING_KINDS) as ReadingKind[])),
    mdc: fc.string({ maxLength: 6 }),
    loinc: fc.constantFrom('8867-4', ''),
    value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(-0)),
    unit: fc.string({ maxLength: 4 }),
    deviceTime: fc.option(fc.nat(), { nil: null }),
    receivedAt: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
    deviceSeq: fc.nat(),
    source: fc.constantFrom('serial' as const, 'mqtt' as const, 'hl7' as const),
  });
  // The field order of a reading as a slice opens it (checkReading's).
  const opened = openSliceJob(jobsOf(3, 1)[0]!);
  if (!opened.ok) throw new Error(opened.error);
  const order = Object.keys(opened.readings[0]!);
  t.equal(order.length, 11);
  fc.assert(
    fc.property(fc.array(reading, { maxLength: 30 }), (rs) => {
      // Readings as openAndCheckSlice gives them: checkReading's field order.
      const canon = rs.map((r) => Object.fromEntries(order.map((k) => [k, r[k as keyof Reading]])) as unknown as Reading);
      const back = unpackReadings(packReadings(canon));
      return back.length === canon.length && back.every((b, i) => {
        const a = canon[i]!;
        return JSON.stringify(Object.keys(b)) === JSON.stringify(order) && order.every((k) => Object.is(b[k as keyof Reading], a[k as keyof Reading]));
      });
    }),
    { numRuns: 200 },
  );
  t.pass();
});
