// Batch layout v2 (protocol/batch.ts, docs/protocol.md "Batch layout"): header and directory byte
// for byte, the vectors in protocol/vectors/batch-v2.json, strict decoding, what a chain node can
// check without keys, slice keys and their binding, and properties over random ward batches.
// MCPS_WRITE_VECTORS=1 regenerates the vector file (only when the layout changes on purpose).
import t from 'tap';
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  buildBatch,
  checkEnvelope,
  decodeDirectory,
  decodeHeader,
  decodeSlicePayload,
  encodeDirectory,
  encodeHeader,
  headerHash,
  openAndCheckSlice,
  openBatchAsOwner,
  type BatchHeader,
  type BuildBatchInput,
  type DirectoryVersion,
} from '../protocol/batch';
import { decodeReading, encodeReading, canonicalJson } from '../protocol/canonical';
import { dayOf, patientScope, patientTag, rangeTags, tagsHash, DAY_MS } from '../protocol/sharing/tags';
import { sliceKey, sliceSaltKey } from '../protocol/sharing/slice-keys';
import { sha256 } from '../protocol/hash';
import { reasonOf } from './protocol-error.helpers';
import { READING_KINDS, type Reading } from '../protocol/reading';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const reason = reasonOf;
const T0 = 1_764_000_000_000; // 2025-11-24T16:00:00Z

const reading = (i: number, patient = `p-000${(i % 3) + 1}`, at = T0 + i * 250): Reading => ({
  deviceId: `oxi-bed${(i % 3) + 1}`,
  patient,
  kind: i % 2 ? 'pulse_rate' : 'spo2',
  mdc: i % 2 ? '149530' : '150456',
  loinc: i % 2 ? '8889-8' : '2708-6',
  value: 90 + (i % 10),
  unit: i % 2 ? '/min' : '%',
  deviceTime: null,
  receivedAt: at,
  deviceSeq: i + 1,
  source: 'serial',
});

const tagKey = new Uint8Array(32).fill(0x11);
const epoch = { id: T0 - 5000, key: new Uint8Array(32).fill(0x22), wrapped: new Uint8Array(80).fill(0x33) };
const input = (over: Partial<BuildBatchInput> = {}): BuildBatchInput => ({
  gatewayId: 'gw-ward1',
  seq: 1,
  prevHash: new Uint8Array(32),
  readings: Array.from({ length: 7 }, (_, i) => reading(i)),
  tagKey,
  epoch,
  sealedAt: T0 + 10_000,
  watermark: T0 + 1_000,
  ...over,
});
const built = buildBatch(input());

t.test('header: exact layout, round trip, strict decoding', async (t) => {
  const bytes = encodeHeader(built.header);
  t.equal(bytes.length, 144 + 'gw-ward1'.length);
  t.same(decodeHeader(bytes), built.header);
  t.match(built.header, { count: 7, sliceCount: 3, firstReceivedAt: T0, lastReceivedAt: T0 + 1500, sealedAt: T0 + 10_000, watermark: T0 + 1_000 });
  const L = 8;
  t.equal(bytes[0], 2, 'version 2');
  t.same(bytes.subarray(2 + L + 40, 2 + L + 72), built.header.root, 'root at 42+L');
  t.same(bytes.subarray(2 + L + 110, 2 + L + 142), built.header.directoryHash, 'directory hash at 112+L');
  t.equal(reason(() => decodeHeader(bytes.slice(0, -1))), 'header.truncated');
  t.equal(reason(() => decodeHeader(new Uint8Array([...bytes, 0]))), 'header.trailing-bytes');
  const v1 = bytes.slice();
  v1[0] = 1;
  t.equal(reason(() => decodeHeader(v1)), 'header.version', 'a version 1 header is refused, not misread');
  const zeroSlices = bytes.slice();
  zeroSlices.set([0, 0], 2 + L + 108);
  t.equal(reason(() => decodeHeader(zeroSlices)), 'header.slice-count');
  t.equal(reason(() => encodeHeader({ ...built.header, prevHash: new Uint8Array(32).fill(1) })), 'header.prev-hash', 'batch 1 has no predecessor');
  t.equal(reason(() => encodeHeader({ ...built.header, sealedAt: built.header.lastReceivedAt - 1 })), 'header.time', 'sealedAt is never before the last reading');
  t.equal(reason(() => encodeHeader({ ...built.header, watermark: built.header.sealedAt + 1 })), 'header.time', 'the watermark is never after sealedAt');
  t.equal(reason(() => decodeHeader(new Uint8Array(0))), 'header.truncated');
});

t.test('the header hash changes with every field', async (t) => {
  const base = hex(headerHash(built.header));
  const variants: Array<Partial<BatchHeader>> = [
    { gatewayId: 'gw-ward2' },
    { seq: 2, prevHash: new Uint8Array(32).fill(3) },
    { root: new Uint8Array(32).fill(1) },
    { count: 8 },
    { firstReceivedAt: T0 - 1 },
    { lastReceivedAt: T0 + 1501 },
    { sealedAt: T0 + 10_001 },
    { watermark: T0 + 999 },
    { sliceCount: 2 },
    { directoryHash: new Uint8Array(32).fill(8) },
  ];
  for (const v of variants) t.not(hex(headerHash({ ...built.header, ...v })), base, Object.keys(v).join(','));
});

t.test('directory: one slice per patient-day, ascending tags, round trip', async (t) => {
  const d = built.directory;
  t.equal(d.slices.length, 3);
  const tags = ['p-0001', 'p-0002', 'p-0003'].map((p) => hex(patientTag(tagKey, p, dayOf(T0)))).sort();
  t.same(d.slices.map((s) => hex(s.tag)), tags, 'the tags of the three patients, sorted');
  t.same(d.slices.map((s) => s.count).sort(), [2, 2, 3]);
  const bytes = encodeDirectory(d);
  t.equal(bytes.length, 91 + 3 * 124);
  t.same(decodeDirectory(bytes), d);
  t.equal(reason(() => decodeDirectory(new Uint8Array([...bytes, 0]))), 'directory.trailing-bytes');
  const swapped = { ...d, slices: [d.slices[1]!, d.slices[0]!, d.slices[2]!] };
  t.equal(reason(() => encodeDirectory(swapped)), 'directory.order', 'unsorted (or duplicate) tags are refused');
  const dup = bytes.slice();
  dup.set(bytes.subarray(91, 91 + 32), 91 + 124);
  t.equal(reason(() => decodeDirectory(dup)), 'directory.order');
  // A batch across midnight: one patient, two days, two slices with different tags.
  const midnight = Math.ceil(T0 / DAY_MS) * DAY_MS;
  const across = buildBatch(input({ readings: [reading(0, 'p-0001', midnight - 1), reading(1, 'p-0001', midnight)], sealedAt: midnight + 5 }));
  t.equal(across.directory.slices.length, 2, 'a patient across midnight has two slices');
  t.not(hex(across.directory.slices[0]!.tag), hex(across.directory.slices[1]!.tag), 'tags of two days differ');
});

t.test('the chain node checks an envelope against its header without any key', async (t) => {
  const parsed = checkEnvelope(built.header, built.envelope);
  t.equal(parsed.ciphertexts.length, 3);
  const flip = (at: number): Uint8Array => {
    const e = built.envelope.slice();
    e[at] = e[at]! ^ 1;
    return e;
  };
  t.equal(reason(() => checkEnvelope(built.header, flip(built.envelope.length - 1))), 'envelope.slice-hash', 'a changed ciphertext byte');
  t.equal(reason(() => checkEnvelope(built.header, flip(95))), 'envelope.directory-hash', 'a changed directory byte');
  t.equal(reason(() => checkEnvelope(built.header, built.envelope.slice(0, -1))), 'envelope.truncated');
  t.equal(reason(() => checkEnvelope(built.header, new Uint8Array([...built.envelope, 0]))), 'envelope.trailing-bytes');
  const other = buildBatch(input({ readings: [reading(0), reading(1)] }));
  t.equal(reason(() => checkEnvelope(built.header, other.envelope)), 'envelope.directory-hash', "another batch's envelope");
});

t.test('slices open only under their derived key, and check against their entry', async (t) => {
  const e = built.directory.slices[0]!;
  const { ciphertexts } = checkEnvelope(built.header, built.envelope);
  const binding = { gatewayId: 'gw-ward1', seq: 1, tag: e.tag, day: e.day, count: e.count, firstReceivedAt: e.firstReceivedAt, lastReceivedAt: e.lastReceivedAt };
  const key = sliceKey(epoch.key, binding);
  const V = built.directory.version;
  const opened = openAndCheckSlice(key, 'gw-ward1', 1, e, ciphertexts[0]!, V);
  t.equal(opened.readings.length, e.count);
  t.ok(opened.readings.every((r) => hex(patientTag(tagKey, r.patient, dayOf(r.receivedAt))) === hex(e.tag)), "only the slice's patient");
  for (const [name, wrong] of [
    ['another tag', { ...binding, tag: built.directory.slices[1]!.tag }],
    ['another count', { ...binding, count: e.count + 1 }],
    ['another time span', { ...binding, firstReceivedAt: e.firstReceivedAt - 1 }],
    ['another day', { ...binding, day: e.day + 1 }],
    ['another batch', { ...binding, seq: 2 }],
  ] as const) {
    t.equal(reason(() => openAndCheckSlice(sliceKey(epoch.key, wrong), 'gw-ward1', 1, e, ciphertexts[0]!, V)), 'slice.decrypt', `a key derived with ${name} opens nothing`);
  }
  t.equal(reason(() => openAndCheckSlice(key, 'gw-ward1', 1, built.directory.slices[1]!, ciphertexts[1]!, V)), 'slice.decrypt', "one slice's key does not open another's");
  t.equal(reason(() => openAndCheckSlice(key, 'gw-ward1', 1, { ...e, count: e.count + 1 }, ciphertexts[0]!, V)), 'slice.count', 'a directory that claims more readings');
  t.equal(reason(() => openAndCheckSlice(key, 'gw-ward1', 1, { ...e, sliceRoot: new Uint8Array(32) }, ciphertexts[0]!, V)), 'slice.root', 'a wrong slice root');
  t.equal(V, 3, 'buildBatch seals directory version 3 (keystream leaf salts)');
  t.equal(reason(() => openAndCheckSlice(key, 'gw-ward1', 1, e, ciphertexts[0]!, 2)), 'slice.root', 'a v3 slice checked with v2 salts does not verify: the version in the directory picks the derivation');
  const all = openBatchAsOwner(built.header, built.envelope, epoch.key, tagKey);
  t.equal(all.length, 7, 'the owner opens every slice');
  t.equal(reason(() => openBatchAsOwner(built.header, built.envelope, epoch.key, new Uint8Array(32).fill(1))), 'slice.tag', 'with another tag key the tags do not match');
  t.equal(reason(() => decodeSlicePayload(new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0, 9, 1]))), 'slice.truncated');
});

t.test('patient tags, scopes and grant tag lists', async (t) => {
  t.equal(hex(patientTag(tagKey, 'p-0001', 20416)), hex(patientTag(tagKey, 'p-0001', 20416)), 'deterministic');
  t.not(hex(patientTag(tagKey, 'p-0001', 20416)), hex(patientTag(tagKey, 'p-0001', 20417)), 'another day, another tag');
  t.not(hex(patientTag(tagKey, 'p-0001', 20416)), hex(patientTag(new Uint8Array(32).fill(2), 'p-0001', 20416)), 'another key, another tag');
  t.not(hex(patientScope(tagKey, 'p-0001')), hex(patientScope(tagKey, 'p-0002')));
  const r = rangeTags(tagKey, 'p-0001', T0, T0 + 2 * DAY_MS);
  t.equal(r.tags.length, 3, 'a range over three days has three tags');
  t.equal(r.firstDay, dayOf(T0));
  t.not(hex(tagsHash(r.firstDay, r.tags)), hex(tagsHash(r.firstDay + 1, r.tags)), 'the first day is bound');
  t.not(hex(tagsHash(r.firstDay, r.tags)), hex(tagsHash(r.firstDay, r.tags.slice(1))), 'the list is bound');
  t.equal(reason(() => rangeTags(tagKey, 'p-0001', 5, 1)), 'tag.range');
  t.equal(reason(() => patientTag(new Uint8Array(31), 'p', 1)), 'tag.key-length');
});

// The vector: fixed inputs, every derived value. A second implementation checks itself against it.
interface Vector {
  description: string;
  inputs: { gateway_id: string; seq: number; prev_hash: string; tag_key: string; epoch_id: number; epoch_key: string; wrapped_epoch_key: string; sealed_at: number; watermark: number; readings: Reading[] };
  reading_bytes: string[];
  slices: Array<{ tag: string; day: number; count: number; first: number; last: number; slice_key: string; salt_key: string; slice_root: string; ciphertext_sha256: string }>;
  directory: string;
  header: string;
  header_hash: string;
  envelope_sha256: string;
}

function vectorOf(version: DirectoryVersion): Vector {
  const i = input({ readings: Array.from({ length: 5 }, (_, k) => reading(k, k < 3 ? 'p-0001' : 'p-0002')), directoryVersion: version });
  const b = buildBatch(i);
  return {
    description:
      version === 2
        ? 'mcps-edge batch layout v2 (docs/protocol.md "Batch layout"): one batch of two patients. The wrapped epoch key is an opaque 80-byte value here (HPKE is randomised and covered by its RFC); everything else is derived. All hex.'
        : 'mcps-edge batch layout v2 with directory version 3 (docs/protocol.md "Batch layout", "Leaf salts"): the same batch as batch-v2.json, its leaves salted from the ChaCha20 keystream under the v3 salt key. The wrapped epoch key is an opaque 80-byte value here (HPKE is randomised and covered by its RFC); everything else is derived. All hex.',
    inputs: { gateway_id: i.gatewayId, seq: i.seq, prev_hash: hex(i.prevHash), tag_key: hex(i.tagKey), epoch_id: i.epoch.id, epoch_key: hex(i.epoch.key), wrapped_epoch_key: hex(i.epoch.wrapped), sealed_at: i.sealedAt, watermark: i.watermark, readings: [...i.readings] },
    reading_bytes: i.readings.map((r) => hex(encodeReading(r))),
    slices: b.slices.map((s) => ({ tag: hex(s.entry.tag), day: s.entry.day, count: s.entry.count, first: s.entry.firstReceivedAt, last: s.entry.lastReceivedAt, slice_key: hex(s.key), salt_key: hex(sliceSaltKey(s.key, version)), slice_root: hex(s.entry.sliceRoot), ciphertext_sha256: hex(s.entry.ciphertextHash) })),
    directory: hex(encodeDirectory(b.directory)),
    header: hex(encodeHeader(b.header)),
    header_hash: hex(headerHash(b.header)),
    envelope_sha256: hex(sha256(b.envelope)),
  };
}

for (const version of [2, 3] as const)
t.test(`vectors: protocol/vectors/batch-v${version}.json byte for byte`, async (t) => {
  const file = join(resolve(__dirname, '..', '..'), 'protocol', 'vectors', `batch-v${version}.json`);
  const fresh = vectorOf(version);
  if (process.env.MCPS_WRITE_VECTORS === '1') writeFileSync(file, JSON.stringify(fresh, null, 2) + '\n');
  const stored = JSON.parse(readFileSync(file, 'utf8')) as Vector;
  t.same(fresh, stored, 'every derived value equals the stored vector');
  // And from the stored inputs alone, through the public functions.
  const i = stored.inputs;
  const b = buildBatch({ gatewayId: i.gateway_id, seq: i.seq, prevHash: unhex(i.prev_hash), tagKey: unhex(i.tag_key), epoch: { id: i.epoch_id, key: unhex(i.epoch_key), wrapped: unhex(i.wrapped_epoch_key) }, sealedAt: i.sealed_at, watermark: i.watermark, readings: i.readings, directoryVersion: version });
  t.equal(hex(headerHash(b.header)), stored.header_hash);
  t.equal(decodeDirectory(unhex(stored.directory)).version, version, 'the directory names its version');
  t.equal(hex(decodeHeader(unhex(stored.header)).root), hex(b.header.root));
});

// Properties over random ward batches.
const readingArb = fc.record({
  patient: fc.constantFrom('p-0001', 'p-0002', 'p-0003', 'p-0004', 'p-0005'),
  at: fc.integer({ min: T0 - DAY_MS / 2, max: T0 + DAY_MS / 2 }),
  value: fc.integer({ min: 0, max: 100 }),
});

t.test('property: every reading lands in its own patient-day slice, each slice opens and checks, the root is MTH of slice roots (directory v2 and v3)', async (t) => {
  fc.assert(
    fc.property(fc.array(readingArb, { minLength: 1, maxLength: 40 }), fc.constantFrom<DirectoryVersion>(2, 3), (rs, version) => {
      const readings = rs.map((r, i) => ({ ...reading(i, r.patient, r.at), value: r.value }));
      const last = Math.max(...readings.map((r) => r.receivedAt));
      const b = buildBatch(input({ readings, sealedAt: last, watermark: last - 5, directoryVersion: version }));
      const { ciphertexts } = checkEnvelope(b.header, b.envelope);
      let total = 0;
      b.directory.slices.forEach((e, k) => {
        const opened = openAndCheckSlice(sliceKey(epoch.key, { gatewayId: 'gw-ward1', seq: 1, tag: e.tag, day: e.day, count: e.count, firstReceivedAt: e.firstReceivedAt, lastReceivedAt: e.lastReceivedAt }), 'gw-ward1', 1, e, ciphertexts[k]!, b.directory.version);
        for (const r of opened.readings) if (hex(patientTag(tagKey, r.patient, dayOf(r.receivedAt))) !== hex(e.tag)) throw new Error('a reading in another patient-day slice');
        total += opened.readings.length;
      });
      const days = new Set(readings.map((r) => `${r.patient}/${dayOf(r.receivedAt)}`));
      return total === readings.length && b.directory.slices.length === days.size;
    }),
    { numRuns: 60 },
  );
  t.pass();
});

t.test('property: any single changed byte of an envelope is caught by the keyless checks', async (t) => {
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (pos, x) => {
      const e = built.envelope.slice();
      const at = pos % e.length;
      e[at] = e[at]! ^ x;
      try {
        checkEnvelope(built.header, e);
        return false;
      } catch (err) {
        return /^(envelope|directory)\./.test(reasonOf(() => {
          throw err;
        }));
      }
    }),
    { numRuns: 300 },
  );
  t.pass();
});

t.test('canonical reading encoding', async (t) => {
  const r = reading(0);
  const bytes = encodeReading(r);
  t.same(decodeReading(bytes), r);
  t.equal(new TextDecoder().decode(bytes), canonicalJson({ ...r }), 'sorted keys, no spaces');
  t.match(new TextDecoder().decode(bytes), /^\{"deviceId":"oxi-bed1","deviceSeq":1,"deviceTime":null,"kind":"spo2",/);
  t.equal(canonicalJson({ b: 1, a: [true, null, 'x'] }), '{"a":[true,null,"x"],"b":1}');
  t.equal(reason(() => canonicalJson({ a: NaN })), 'canonical.non-finite');
  t.equal(reason(() => canonicalJson({ a: undefined })), 'canonical.undefined');
  t.equal(reason(() => decodeReading(new TextEncoder().encode(JSON.stringify({ ...r, extra: 1 })))), 'reading.unknown-field');
  t.equal(reason(() => decodeReading(new TextEncoder().encode(JSON.stringify({ ...r, kind: 'mood' })))), 'reading.bad-field');
  t.equal(reason(() => decodeReading(new TextEncoder().encode('{'))), 'reading.not-json');
});

t.test('tagOf: a caller-kept tag table builds the same batch, asked once per patient and day', async (t) => {
  const asked: string[] = [];
  const tagOf = (patient: string, day: number): Uint8Array => {
    asked.push(`${patient}@${day}`);
    return patientTag(tagKey, patient, day);
  };
  const readings = [...Array.from({ length: 7 }, (_, i) => reading(i)), reading(7, 'p-0001', T0 - DAY_MS)];
  const a = buildBatch(input({ readings }));
  const b = buildBatch(input({ readings, tagOf }));
  t.same(hex(b.envelope), hex(a.envelope));
  t.same(hex(encodeHeader(b.header)), hex(encodeHeader(a.header)));
  t.same(asked.sort(), ['p-0001@' + (dayOf(T0) - 1), 'p-0001@' + dayOf(T0), 'p-0002@' + dayOf(T0), 'p-0003@' + dayOf(T0)].sort(), 'one tag per patient-day');
});

t.test('property: encodeReading writes exactly canonicalJson of the reading, for any field values', async (t) => {
  const kinds = Object.keys(READING_KINDS) as Reading['kind'][];
  // Any UTF-16 content (lone surrogates, controls, astral characters) within each field's length limit.
  const str = (max: number): fc.Arbitrary<string> => fc.oneof(fc.string({ maxLength: max }), fc.string({ maxLength: max, unit: 'grapheme' }), fc.string({ maxLength: max, unit: 'binary' })).filter((x) => x.length <= max);
  const nat = fc.oneof(fc.nat(), fc.maxSafeNat());
  fc.assert(
    fc.property(
      fc.record({ deviceId: str(64), patient: str(64), kind: fc.constantFrom(...kinds), mdc: str(16), loinc: str(16), value: fc.double({ noNaN: true, noDefaultInfinity: true }), unit: str(16), deviceTime: fc.option(nat, { nil: null }), receivedAt: nat, deviceSeq: nat, source: fc.constantFrom('serial' as const, 'mqtt' as const, 'hl7' as const) }),
      (r) => {
        return Buffer.compare(Buffer.from(encodeReading(r)), new TextEncoder().encode(canonicalJson({ ...r }))) === 0;
      },
    ),
    { numRuns: 2000 },
  );
  t.pass();
});
