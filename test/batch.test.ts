import t from 'tap';
import { buildBatch, decodeHeader, decodePayload, encodeHeader, encodePayload, headerHash, makeHeader, recomputeRoot, type BatchHeader } from '../protocol/batch';
import { decodeReading, encodeReading, canonicalJson } from '../protocol/canonical';
import { reasonOf } from './protocol-error.helpers';
import type { Reading } from '../protocol/reading';

const reading = (i: number): Reading => ({ deviceId: 'oxi-bed1', patient: 'p-0001', kind: i % 2 ? 'pulse_rate' : 'spo2', mdc: i % 2 ? '149530' : '150456', loinc: i % 2 ? '8889-8' : '2708-6', value: 90 + (i % 10), unit: i % 2 ? '/min' : '%', deviceTime: null, receivedAt: 1_764_000_000_000 + i, deviceSeq: i + 1, source: 'serial' });
const readings = Array.from({ length: 7 }, (_, i) => reading(i));
const built = buildBatch({ gatewayId: 'gw-ward1', seq: 1, prevHash: new Uint8Array(32), readings, saltKey: new Uint8Array(32).fill(5) });
const header = makeHeader(built, new Uint8Array(32).fill(9));
const reason = reasonOf;

t.test('header round trip and exact layout', async (t) => {
  const bytes = encodeHeader(header);
  t.equal(bytes.length, 126 + 'gw-ward1'.length);
  t.same(decodeHeader(bytes), header);
  t.equal(built.count, 7);
  t.equal(built.firstReceivedAt, 1_764_000_000_000);
  t.equal(built.lastReceivedAt, 1_764_000_000_006);
});

t.test('strict header decoding', async (t) => {
  const bytes = encodeHeader(header);
  t.equal(reason(() => decodeHeader(bytes.slice(0, -1))), 'header.truncated');
  t.equal(reason(() => decodeHeader(new Uint8Array([...bytes, 0]))), 'header.trailing-bytes');
  const v2 = bytes.slice();
  v2[0] = 2;
  t.equal(reason(() => decodeHeader(v2)), 'header.version');
  const zeroCount = bytes.slice();
  zeroCount.set([0, 0, 0, 0], 2 + 8 + 72);
  t.equal(reason(() => decodeHeader(zeroCount)), 'header.count');
  t.equal(reason(() => decodeHeader(new Uint8Array(0))), 'header.truncated');
  t.equal(reason(() => makeHeader({ ...built, seq: 2, prevHash: new Uint8Array(32) }, new Uint8Array(31))), 'batch.hash-length');
  t.equal(reason(() => encodeHeader({ ...header, prevHash: new Uint8Array(32).fill(1) })), 'header.prev-hash', 'batch 1 has no predecessor');
});

t.test('the header hash changes with every field', async (t) => {
  const base = Buffer.from(headerHash(header)).toString('hex');
  const variants: Array<Partial<BatchHeader>> = [
    { gatewayId: 'gw-ward2' },
    { seq: 2, prevHash: new Uint8Array(32).fill(3) },
    { root: new Uint8Array(32).fill(1) },
    { count: 8 },
    { firstReceivedAt: header.firstReceivedAt - 1 },
    { lastReceivedAt: header.lastReceivedAt + 1 },
    { ciphertextHash: new Uint8Array(32).fill(8) },
  ];
  for (const v of variants) t.not(Buffer.from(headerHash({ ...header, ...v })).toString('hex'), base, Object.keys(v).join(','));
});

t.test('payload round trip and root recomputation', async (t) => {
  const decoded = decodePayload(built.payloadBytes);
  t.same(decoded.readings, readings);
  t.same(recomputeRoot(decoded), built.root, 'a verifier recomputes the same root');
  const tampered = decodePayload(encodePayload({ ...decoded, readings: [{ ...readings[0]!, value: 42 }, ...readings.slice(1)] }));
  t.not(Buffer.from(recomputeRoot(tampered)).toString('hex'), Buffer.from(built.root).toString('hex'), 'an altered value changes the root');
  const otherSalt = buildBatch({ gatewayId: 'gw-ward1', seq: 1, prevHash: new Uint8Array(32), readings, saltKey: new Uint8Array(32).fill(6) });
  t.not(Buffer.from(otherSalt.root).toString('hex'), Buffer.from(built.root).toString('hex'), 'another salt key gives another root');
  t.equal(reason(() => decodePayload(new TextEncoder().encode('{"v":1}'))), 'payload.gateway-id');
  t.equal(reason(() => buildBatch({ gatewayId: 'gw', seq: 1, prevHash: new Uint8Array(32), readings: [], saltKey: new Uint8Array(32) })), 'batch.empty');
});

t.test('canonical reading encoding', async (t) => {
  const r = readings[0]!;
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
