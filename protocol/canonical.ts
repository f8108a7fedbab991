/**
 * Canonical encodings: the same value always gives the same bytes, so hashes and signatures over
 * encoded readings are reproducible by any verifier.
 *
 * canonicalJson: object keys sorted by UTF-16 code unit, no whitespace, numbers as JSON.stringify
 * writes them (shortest round-trip form), only plain objects, arrays, strings, finite numbers,
 * booleans and null. A Reading is encoded with exactly its eleven fields.
 */
import { ProtocolError } from './errors';
import { isReadingKind, READING_KINDS, type Reading, type ReadingKind, type ReadingSource } from './reading';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new ProtocolError('canonical.non-finite', `number ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new ProtocolError('canonical.not-plain', 'only plain objects have a canonical form');
      const o = value as Record<string, unknown>;
      const keys = Object.keys(o).sort();
      return `{${keys
        .map((k) => {
          if (o[k] === undefined) throw new ProtocolError('canonical.undefined', `field "${k}" is undefined`);
          return `${JSON.stringify(k)}:${canonicalJson(o[k])}`;
        })
        .join(',')}}`;
    }
    default:
      throw new ProtocolError('canonical.unsupported', `a ${typeof value} has no canonical form`);
  }
}

const READING_FIELDS = ['deviceId', 'patient', 'kind', 'mdc', 'loinc', 'value', 'unit', 'deviceTime', 'receivedAt', 'deviceSeq', 'source'] as const;
const SOURCES: readonly ReadingSource[] = ['serial', 'mqtt', 'hl7'];

const UTF8 = new TextEncoder();

/**
 * The reading's canonical bytes: what a Merkle leaf commits to. canonicalJson of the checked
 * reading, written out field by field in canonicalJson's key order (the eleven keys sorted by UTF-16
 * code unit), numbers and strings as JSON.stringify writes them: the same bytes without sorting
 * keys or building an object per reading (test/batch.test.ts checks it against canonicalJson).
 */
export function encodeReading(r: Reading): Uint8Array {
  const o: Record<string, unknown> = {};
  for (const f of READING_FIELDS) o[f] = r[f];
  const c = checkReading(o, 'reading');
  const s = JSON.stringify;
  return UTF8.encode(
    `{"deviceId":${s(c.deviceId)},"deviceSeq":${s(c.deviceSeq)},"deviceTime":${c.deviceTime === null ? 'null' : s(c.deviceTime)},"kind":${s(c.kind)},"loinc":${s(c.loinc)},"mdc":${s(c.mdc)},"patient":${s(c.patient)},"receivedAt":${s(c.receivedAt)},"source":${s(c.source)},"unit":${s(c.unit)},"value":${s(c.value)}}`,
  );
}

export function decodeReading(bytes: Uint8Array): Reading {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ProtocolError('reading.not-json', (err as Error).message);
  }
  return checkReading(parsed, 'reading');
}

/**
 * The reading written in `text` between `start` and `end`, if that stretch is exactly its canonical
 * form (encodeReading's bytes read one byte per character) with only printable ASCII in its strings
 * and no escapes, and the reading passes checkReading; otherwise null, and the caller parses it
 * with JSON.parse and checkReading (which give the reason). When it returns a reading, that is what
 * checkReading(JSON.parse(the same text)) returns, field for field: the fields are read in the one
 * order canonicalJson writes them, each number by the JSON number grammar and then Number() (the
 * same correctly rounded conversion JSON.parse makes), each string verbatim (no escapes to undo).
 * It spares a JSON.parse, a per-reading UTF-8 decode and an intermediate object for every reading
 * of a slice opened (test/canonical-fast.test.ts compares the two on random and altered input).
 */
export function readingFromCanonical(src: CanonicalText, start: number, end: number): Reading | null {
  const c = new Cursor(src, start, end);
  if (!c.lit(K_DEVICE_ID)) return null;
  const deviceId = c.str();
  if (deviceId === null || deviceId.length > 64 || !c.lit(K_DEVICE_SEQ)) return null;
  const deviceSeq = c.count();
  if (deviceSeq < 0 || !c.lit(K_DEVICE_TIME)) return null;
  let deviceTime: number | null = null;
  if (!c.lit(K_NULL)) {
    deviceTime = c.count();
    if (deviceTime < 0) return null;
  }
  if (!c.lit(K_KIND)) return null;
  const kind = c.str();
  if (kind === null || !isKind(kind) || !c.lit(K_LOINC)) return null;
  const loinc = c.str();
  if (loinc === null || loinc.length > 16 || !c.lit(K_MDC)) return null;
  const mdc = c.str();
  if (mdc === null || mdc.length > 16 || !c.lit(K_PATIENT)) return null;
  const patient = c.str();
  if (patient === null || patient.length > 64 || !c.lit(K_RECEIVED_AT)) return null;
  const receivedAt = c.count();
  if (receivedAt < 0 || !c.lit(K_SOURCE)) return null;
  const source = c.str();
  if (source === null || !SOURCES.includes(source as ReadingSource) || !c.lit(K_UNIT)) return null;
  const unit = c.str();
  if (unit === null || unit.length > 16 || !c.lit(K_VALUE)) return null;
  const value = c.num();
  if (!Number.isFinite(value) || !c.lit(K_END) || c.p !== end) return null;
  return { deviceId, patient, kind, mdc, loinc, value, unit, deviceTime, receivedAt, deviceSeq, source: source as ReadingSource };
}

const K_DEVICE_ID = literal('{"deviceId":');
const K_DEVICE_SEQ = literal(',"deviceSeq":');
const K_DEVICE_TIME = literal(',"deviceTime":');
const K_NULL = literal('null');
const K_KIND = literal(',"kind":');
const K_LOINC = literal(',"loinc":');
const K_MDC = literal(',"mdc":');
const K_PATIENT = literal(',"patient":');
const K_RECEIVED_AT = literal(',"receivedAt":');
const K_SOURCE = literal(',"source":');
const K_UNIT = literal(',"unit":');
const K_VALUE = literal(',"value":');
const K_END = literal('}');

/** The plaintext readingFromCanonical reads: its bytes, a DataView of them, and them as a latin1 string (one character per byte). */
export interface CanonicalText {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly text: string;
}

export function canonicalText(bytes: Uint8Array): CanonicalText {
  return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1') };
}

/** The reading kinds, as a set (isReadingKind: own keys of READING_KINDS). */
const KINDS = new Set<string>(Object.keys(READING_KINDS));
const isKind = (k: string): k is ReadingKind => KINDS.has(k);

/** A literal of the canonical form: its bytes, and its first 4·⌊n/4⌋ of them as big-endian 32-bit words. */
interface Lit {
  readonly bytes: Uint8Array;
  readonly words: Uint32Array;
}

function literal(s: string): Lit {
  const bytes = UTF8.encode(s);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words = new Uint32Array(bytes.length >> 2);
  for (let i = 0; i < words.length; i++) words[i] = dv.getUint32(4 * i);
  return { bytes, words };
}

/** readingFromCanonical's position in its text; every read fails (null, NaN, -1) rather than throws. */
class Cursor {
  readonly b: Uint8Array;
  readonly v: DataView;
  readonly t: string;
  constructor(
    src: CanonicalText,
    public p: number,
    readonly e: number,
  ) {
    this.b = src.bytes;
    this.v = src.view;
    this.t = src.text;
  }

  /** Steps over `l` if the bytes continue with it (compared four bytes at a time). */
  lit(l: Lit): boolean {
    const p = this.p;
    const n = l.bytes.length;
    if (p + n > this.e) return false;
    const w = l.words;
    for (let i = 0; i < w.length; i++) if (this.v.getUint32(p + 4 * i) !== w[i]) return false;
    for (let i = 4 * w.length; i < n; i++) if (this.b[p + i] !== l.bytes[i]) return false;
    this.p = p + n;
    return true;
  }

  /** A JSON string of printable ASCII without escapes, or null. */
  str(): string | null {
    const b = this.b;
    if (this.p >= this.e || b[this.p] !== 0x22) return null;
    const a = this.p + 1;
    for (let q = a; q < this.e; q++) {
      const ch = b[q]!;
      if (ch === 0x22) {
        this.p = q + 1;
        return this.t.slice(a, q);
      }
      if (ch < 0x20 || ch > 0x7e || ch === 0x5c) return null;
    }
    return null;
  }

  /** Steps over [0-9]*; returns how many. */
  digits(): number {
    const a = this.p;
    let p = a;
    while (p < this.e) {
      const ch = this.b[p]!;
      if (ch < 0x30 || ch > 0x39) break;
      p++;
    }
    this.p = p;
    return p - a;
  }

  /**
   * A number by RFC 8259's grammar, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, or NaN. An
   * integer of at most 15 digits is summed digit by digit (exact: below 2^53); any other by
   * Number() of its text, the correctly rounded conversion JSON.parse makes.
   */
  num(): number {
    const b = this.b;
    const a = this.p;
    const neg = this.p < this.e && b[this.p] === 0x2d;
    if (neg) this.p++;
    if (this.p >= this.e) return NaN;
    const i0 = this.p;
    let n: number;
    if (b[this.p] === 0x30) {
      this.p++;
      n = 1;
    } else {
      n = this.digits();
      if (n === 0) return NaN;
    }
    let plain = n <= 15;
    if (this.p < this.e && b[this.p] === 0x2e) {
      this.p++;
      if (this.digits() === 0) return NaN;
      plain = false;
    }
    if (this.p < this.e && (b[this.p]! | 0x20) === 0x65) {
      this.p++;
      if (this.p < this.e && (b[this.p] === 0x2b || b[this.p] === 0x2d)) this.p++;
      if (this.digits() === 0) return NaN;
      plain = false;
    }
    if (!plain) return Number(this.t.slice(a, this.p));
    let v = 0;
    for (let q = i0; q < i0 + n; q++) v = v * 10 + (b[q]! - 0x30);
    return neg ? -v : v;
  }

  /** A number that checkReading takes as a count or time (a safe integer ≥ 0), or -1. */
  count(): number {
    const v = this.num();
    return Number.isSafeInteger(v) && v >= 0 ? v : -1;
  }
}

/** Checks that `x` is a Reading with exactly the canonical fields; throws naming the first bad one. */
export function checkReading(x: unknown, where: string): Reading {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new ProtocolError('reading.not-object', `${where} is not an object`);
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(READING_FIELDS as readonly string[]).includes(k)) throw new ProtocolError('reading.unknown-field', `${where}: unknown field "${k}"`);
  const str = (k: string, max = 64): string => {
    const v = o[k];
    if (typeof v !== 'string' || v.length > max) throw new ProtocolError('reading.bad-field', `${where}: field "${k}" must be a string of at most ${max} characters`);
    return v;
  };
  const int = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ProtocolError('reading.bad-field', `${where}: field "${k}" must be a non-negative integer`);
    return v;
  };
  const kind = o.kind;
  if (!isReadingKind(kind)) throw new ProtocolError('reading.bad-field', `${where}: field "kind" is not a known kind`);
  const value = o.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ProtocolError('reading.bad-field', `${where}: field "value" must be a finite number`);
  const source = o.source;
  if (!SOURCES.includes(source as ReadingSource)) throw new ProtocolError('reading.bad-field', `${where}: field "source" must be one of ${SOURCES.join(', ')}`);
  const deviceTime = o.deviceTime === null ? null : int('deviceTime');
  return {
    deviceId: str('deviceId'),
    patient: str('patient'),
    kind,
    mdc: str('mdc', 16),
    loinc: str('loinc', 16),
    value,
    unit: str('unit', 16),
    deviceTime,
    receivedAt: int('receivedAt'),
    deviceSeq: int('deviceSeq'),
    source: source as ReadingSource,
  };
}
