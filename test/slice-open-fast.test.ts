// The cheaper primitives a slice is opened with (protocol/hash.ts sha256Into, protocol/merkle.ts
// leafHashesFlat and merkleRootFlat, protocol/canonical.ts readingFromCanonical) give exactly what the
// reference ones give: node:crypto's Hash and Hmac objects, leafHash/merkleRoot one array per leaf,
// and checkReading(JSON.parse(text)) — on random and on altered input.
import t from 'tap';
import fc from 'fast-check';
import { createHash, createHmac } from 'node:crypto';
import { hmacSha256, sha256, sha256Into, sha256Once } from '../protocol/hash';
import { leafHash, leafHashesFlat, leafSaltOf, merkleRoot, merkleRootFlat } from '../protocol/merkle';
import { canonicalText, checkReading, encodeReading, readingFromCanonical } from '../protocol/canonical';
import { READING_KINDS, type Reading, type ReadingKind } from '../protocol/reading';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ref = (...parts: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

t.test('property: sha256Into, sha256Once, sha256 and hmacSha256 are node:crypto digests', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 80 }), fc.nat({ max: 40 }), (data, more, at) => {
      const out = new Uint8Array(at + 40).fill(0xee);
      sha256Into(data, out, at);
      const around = out.subarray(0, at).every((b) => b === 0xee) && out.subarray(at + 32).every((b) => b === 0xee);
      return (
        around &&
        hex(out.subarray(at, at + 32)) === ref(data) &&
        hex(sha256Once(data)) === ref(data) &&
        hex(sha256(data, more)) === ref(data, more) &&
        hex(hmacSha256(more, data)) === createHmac('sha256', more).update(data).digest('hex')
      );
    }),
    { numRuns: 300 },
  );
  t.equal(sha256Once(new Uint8Array(5)).buffer.byteLength, 32, 'a digest is its own 32-byte array');
});

t.test('property: leafHashesFlat is leafHash(leafSaltOf(scheme, key, i), data[i]) back to back, for both schemes', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom<'hmac' | 'stream'>('hmac', 'stream'), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 40 }), (scheme, key, data) => {
      const want = data.map((d, i) => hex(leafHash(leafSaltOf(scheme, key, i), d))).join('');
      return hex(leafHashesFlat(scheme, key, data)) === want;
    }),
    { numRuns: 80 },
  );
  t.throws(() => leafHashesFlat('stream', new Uint8Array(31), [new Uint8Array(2)]), /salt-key-length/);
});

t.test('merkleRootFlat is merkleRoot, and leaves its input as it was', async (t) => {
  for (let n = 1; n <= 70; n++) {
    const leaves = Array.from({ length: n }, (_, i) => createHash('sha256').update(Uint8Array.of(i, n)).digest()).map((b) => new Uint8Array(b));
    const flat = new Uint8Array(32 * n);
    leaves.forEach((l, i) => flat.set(l, 32 * i));
    const before = hex(flat);
    t.equal(hex(merkleRootFlat(flat)), hex(merkleRoot(leaves)), `n=${n}`);
    t.equal(hex(flat), before, `n=${n}: input unchanged`);
  }
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 300 }), (leaves) => {
      const flat = new Uint8Array(32 * leaves.length);
      leaves.forEach((l, i) => flat.set(l, 32 * i));
      return hex(merkleRootFlat(flat)) === hex(merkleRoot(leaves));
    }),
    { numRuns: 100 },
  );
  t.throws(() => merkleRootFlat(new Uint8Array(0)), /empty/);
  t.throws(() => merkleRootFlat(new Uint8Array(33)), /leaf-length/);
});

const KINDS = Object.keys(READING_KINDS) as ReadingKind[];
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('mon-1', 'p-0001', '8867-4', '/min', 'a"b', 'a\\b', 'é', '\u0001', ''), fc.string({ unit: 'grapheme', maxLength: 8 }));
const count = fc.oneof(fc.nat(), fc.constant(0), fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }));
const readingArb: fc.Arbitrary<Reading> = fc.record({
  deviceId: text,
  patient: text,
  kind: fc.constantFrom(...KINDS),
  mdc: fc.string({ maxLength: 16 }),
  loinc: fc.string({ maxLength: 16 }),
  value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constantFrom(0, -0, 1e21, 1e-7, 97.5, -3)),
  unit: fc.string({ maxLength: 16 }),
  deviceTime: fc.option(count, { nil: null }),
  receivedAt: count,
  deviceSeq: count,
  source: fc.constantFrom('serial' as const, 'mqtt' as const, 'hl7' as const),
});

/** What openAndCheckSlice made of a reading's bytes before: UTF-8, JSON.parse, checkReading (or the throw). */
function slow(bytes: Uint8Array): Reading | 'throws' {
  try {
    return checkReading(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)), 'r');
  } catch {
    return 'throws';
  }
}

/** readingFromCanonical over `bytes` placed inside other bytes (as in a slice plaintext). */
function fast(bytes: Uint8Array): Reading | null {
  const buf = new Uint8Array(bytes.length + 9).fill(0xc8);
  buf.set(bytes, 5);
  return readingFromCanonical(canonicalText(buf.subarray(2)), 3, 3 + bytes.length);
}

const same = (a: Reading, b: Reading): boolean => JSON.stringify(Object.entries(a)) === JSON.stringify(Object.entries(b)) && Object.is(a.value, b.value) && Object.is(a.receivedAt, b.receivedAt) && Object.is(a.deviceSeq, b.deviceSeq) && Object.is(a.deviceTime, b.deviceTime);

t.test('property: readingFromCanonical gives what JSON.parse and checkReading give, or declines', async (t) => {
  let taken = 0;
  let tried = 0;
  fc.assert(
    fc.property(readingArb, (r) => {
      let bytes: Uint8Array;
      try {
        bytes = encodeReading(r);
      } catch {
        return true; // not a valid reading: nothing to encode
      }
      tried++;
      const want = slow(bytes);
      const got = fast(bytes);
      if (want === 'throws') return false; // canonical bytes always parse
      if (got === null) return /[^\x20-\x7e]|\\/.test(new TextDecoder().decode(bytes)); // declines only non-ASCII or escapes
      taken++;
      return same(got, want);
    }),
    { numRuns: 2000 },
  );
  t.ok(taken > tried / 10, `the fast path took ${taken} of ${tried} canonical readings`);
});

t.test('property: altered reading bytes: readingFromCanonical never accepts what JSON.parse and checkReading refuse, nor reads it differently', async (t) => {
  const base = encodeReading({ deviceId: 'mon-0', patient: 'p-0001', kind: 'heart_rate', mdc: '147842', loinc: '8867-4', value: 72, unit: '/min', deviceTime: 1_768_003_200_000, receivedAt: 1_768_003_200_004, deviceSeq: 12, source: 'mqtt' });
  const alphabet = [...'{}[]",:0123456789-+.eE nulltrue\\abc\u0000\u007f'].map((c) => c.charCodeAt(0)).concat([0x80, 0xc3, 0xa9, 0xff]);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.constantFrom('set', 'insert', 'delete'), fc.constantFrom(...alphabet)), { minLength: 1, maxLength: 4 }),
      (edits) => {
        let b = Array.from(base);
        for (const [pos, op, c] of edits) {
          const at = pos % (b.length + 1);
          if (op === 'set' && at < b.length) b[at] = c;
          else if (op === 'insert') b.splice(at, 0, c);
          else if (b.length > 1) b.splice(Math.min(at, b.length - 1), 1);
        }
        const bytes = Uint8Array.from(b);
        const want = slow(bytes);
        const got = fast(bytes);
        if (got === null) return true;
        return want !== 'throws' && same(got, want);
      },
    ),
    { numRuns: 5000 },
  );
  // Numbers JSON.parse refuses or reads otherwise.
  const withValue = (v: string): Uint8Array => new TextEncoder().encode(new TextDecoder().decode(base).replace('"value":72', `"value":${v}`));
  for (const v of ['01', '1.', '.5', '+1', '1e', '1e+', '0x10', 'Infinity', 'NaN', '- 1', '1_0', '1e400']) {
    t.equal(fast(withValue(v)), null, `value ${v}: declined`);
  }
  for (const v of ['-0', '0', '1e21', '1E-7', '123456789012345', '1234567890123456789', '9007199254740993', '0.1', '-12.5e+3']) {
    const got = fast(withValue(v));
    const want = slow(withValue(v));
    t.ok(got !== null && want !== 'throws' && same(got, want), `value ${v}: as JSON.parse reads it`);
  }
});
