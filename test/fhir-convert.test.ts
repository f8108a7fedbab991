// `mcps fhir convert` as a user runs it: a canonical JSONL file (with a bad line and a reading FHIR
// cannot express) becomes one R4 Bundle that validates against the official schema; refusals name
// their line; exit codes say what happened.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Observation } from 'fhir/r4';
import { canonicalJson } from '../protocol/canonical';
import { READING_KINDS, type ReadingKind } from '../protocol/reading';
import { mcps } from './cli.helpers';
import { fhirSchemaErrors } from './fhir-schema.helpers';

const dir = mkdtempSync(join(tmpdir(), 'mcps-fhir-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const line = (kind: ReadingKind, seq: number, over: Record<string, unknown> = {}) => {
  const k = READING_KINDS[kind];
  return canonicalJson({ deviceId: 'mon-bed2', patient: 'p-0002', kind, mdc: k.mdc, loinc: k.loinc, value: k.min + 1, unit: k.unit, deviceTime: 1764660000000, receivedAt: 1764660000050, deviceSeq: seq, source: 'hl7', ...over });
};

t.test('a JSONL file to a transaction Bundle, bad lines refused by number', async (t) => {
  const kinds = Object.keys(READING_KINDS) as ReadingKind[];
  const lines = kinds.map((k, i) => line(k, i));
  lines.splice(3, 0, '{"deviceId": "x"', '');
  lines.push(line('spo2', 99, { patient: '' }));
  const file = join(dir, 'readings.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  const out = join(dir, 'bundle.json');
  const r = await mcps(['fhir', 'convert', file, '--type', 'transaction', '-o', out]);
  t.equal(r.code, 2, 'some lines refused');
  t.match(r.stderr, /readings\.jsonl:4: not JSON/);
  t.match(r.stderr, new RegExp(`readings\\.jsonl:${lines.length}: fhir\\.empty-field`));
  t.match(r.stderr, new RegExp(`${kinds.length} readings → ${kinds.length - 2} Observations in a transaction Bundle`), 'systolic, diastolic and mean became one panel');
  const bundle = JSON.parse(readFileSync(out, 'utf8')) as Bundle;
  t.same(fhirSchemaErrors(bundle), []);
  t.equal(bundle.type, 'transaction');
  const panel = bundle.entry?.map((e) => e.resource as Observation).find((o) => o.code?.coding?.[0]?.code === '85354-9');
  t.equal(panel?.component?.length, 3);
});

t.test('stdin to stdout, all good: exit 0; an unreadable file: exit 1', async (t) => {
  const r = await mcps(['fhir', 'convert', '-'], { input: line('spo2', 1) + '\n' + line('heart_rate', 2) + '\n' });
  t.equal(r.code, 0, r.stderr);
  const b = JSON.parse(r.stdout) as Bundle;
  t.equal(b.type, 'collection');
  t.same(fhirSchemaErrors(b), []);
  const missing = await mcps(['fhir', 'convert', join(dir, 'nope.jsonl')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /cannot read .*nope\.jsonl/);
});
