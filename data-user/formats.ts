/**
 * How `mcps data fetch` writes what it fetched: a pluggable step, one entry per --format. Each
 * format writes the readings and keeps the proof (the share bundle, bundle.ts) verifiable by
 * `mcps data verify`: json writes the bundle itself (readings and proof in one file); csv writes a
 * table of the readings and the bundle beside it as FILE.proof.json. A new format (for example FHIR)
 * registers itself with registerFormat and says how `verify` compares its file with the bundle.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../common/atomic-file';
import type { Reading } from '../protocol/reading';
import type { ShareBundle } from './bundle';
import { parseBundle } from './verify-bundle';

export interface OutputFormat {
  readonly name: string;
  /** Writes `bundle` for the user; returns the files written (0600: they hold patient data). */
  write(path: string, bundle: ShareBundle): string[];
  /** For `mcps data verify FILE`: the bundle that proves FILE, and whether FILE says exactly what it proves (null when it does). */
  load(path: string): { bundle: ShareBundle; mismatch: string | null };
  /** Whether an existing file is in this format (by its first bytes). */
  detect?(head: string): boolean;
}

const FORMATS = new Map<string, OutputFormat>();

export function registerFormat(f: OutputFormat): void {
  FORMATS.set(f.name, f);
}

export function outputFormat(name: string): OutputFormat {
  const f = FORMATS.get(name);
  if (!f) throw new Error(`--format ${name}: one of ${[...FORMATS.keys()].join(', ')}`);
  return f;
}

export function formatNames(): string[] {
  return [...FORMATS.keys()];
}

export const proofPath = (path: string): string => `${path}.proof.json`;

const CSV_COLUMNS = ['received_at', 'patient', 'device_id', 'device_seq', 'kind', 'value', 'unit', 'mdc', 'loinc', 'device_time', 'source'] as const;

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function readingsCsv(rs: readonly Reading[]): string {
  const rows = rs.map((r) => [new Date(r.receivedAt).toISOString(), r.patient, r.deviceId, String(r.deviceSeq), r.kind, String(r.value), r.unit, r.mdc, r.loinc, r.deviceTime === null ? '' : new Date(r.deviceTime).toISOString(), r.source].map(csvCell).join(','));
  return [CSV_COLUMNS.join(','), ...rows].join('\n') + '\n';
}

registerFormat({
  name: 'json',
  write: (path, bundle) => {
    writeFileAtomic(path, JSON.stringify(bundle, null, 1) + '\n');
    return [path];
  },
  load: (path) => ({ bundle: parseBundle(readFileSync(path, 'utf8'), path), mismatch: null }),
  detect: (head) => head.startsWith('{') && head.includes('"mcps-share/v1"'),
});

registerFormat({
  name: 'csv',
  write: (path, bundle) => {
    writeFileAtomic(proofPath(path), JSON.stringify(bundle) + '\n');
    writeFileAtomic(path, readingsCsv(bundle.readings));
    return [path, proofPath(path)];
  },
  load: (path) => {
    const pp = proofPath(path);
    if (!existsSync(pp)) throw new Error(`${path} is a table; its proof ${pp} is missing (mcps data fetch --format csv writes both)`);
    const bundle = parseBundle(readFileSync(pp, 'utf8'), pp);
    const text = readFileSync(path, 'utf8');
    return { bundle, mismatch: text === readingsCsv(bundle.readings) ? null : `${path} does not list exactly the readings its proof ${pp} proves (rows changed, added or removed)` };
  },
  detect: (head) => head.startsWith(CSV_COLUMNS.join(',')),
});

/**
 * FHIR R4 (docs/fhir.md): the readings as one collection Bundle (Observations with LOINC, MDC and
 * UCUM; a Device and DeviceMetrics per device), the proof beside it as FILE.proof.json. The Bundle
 * is a pure function of the proof — its timestamp is the end of the fetched range, its identifier
 * names hospital, grant, patient and range — so `mcps data verify` rebuilds it and compares.
 */
function fhirText(bundle: ShareBundle): string {
  const { readingsToBundle } = require('../fhir/bundle') as typeof import('../fhir/bundle');
  const fhir = readingsToBundle(bundle.readings, {
    type: 'collection',
    timestamp: bundle.to,
    identifier: { system: 'urn:mcps-edge:share', value: `${bundle.hospital}/${bundle.grantId}/${bundle.patient}/${bundle.from}-${bundle.to}` },
  });
  return JSON.stringify(fhir, null, 1) + '\n';
}

registerFormat({
  name: 'fhir',
  write: (path, bundle) => {
    const text = fhirText(bundle);
    writeFileAtomic(proofPath(path), JSON.stringify(bundle) + '\n');
    writeFileAtomic(path, text);
    return [path, proofPath(path)];
  },
  load: (path) => {
    const pp = proofPath(path);
    if (!existsSync(pp)) throw new Error(`${path} is a FHIR Bundle; its proof ${pp} is missing (mcps data fetch --format fhir writes both)`);
    const bundle = parseBundle(readFileSync(pp, 'utf8'), pp);
    return { bundle, mismatch: readFileSync(path, 'utf8') === fhirText(bundle) ? null : `${path} is not exactly the FHIR Bundle of the readings its proof ${pp} proves (resources changed, added or removed)` };
  },
  detect: (head) => head.startsWith('{') && /"resourceType":\s*"Bundle"/.test(head),
});

/** The format of an existing file, for `mcps data verify`: a bundle (JSON) or a table with its proof beside it. */
export function detectFormat(path: string): OutputFormat {
  const head = readFileSync(path, 'utf8').slice(0, 256).trimStart();
  for (const f of FORMATS.values()) if (f.detect?.(head)) return f;
  return outputFormat('json');
}
