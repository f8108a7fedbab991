/**
 * Canonical encodings: the same value always gives the same bytes, so hashes and signatures over
 * encoded readings are reproducible by any verifier.
 *
 * canonicalJson: object keys sorted by UTF-16 code unit, no whitespace, numbers as JSON.stringify
 * writes them (shortest round-trip form), only plain objects, arrays, strings, finite numbers,
 * booleans and null. A Reading is encoded with exactly its eleven fields.
 */
import { ProtocolError } from './errors';
import { isReadingKind, type Reading, type ReadingSource } from './reading';

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
