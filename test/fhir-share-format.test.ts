// `mcps data fetch --format fhir`: the fetched readings as an R4 collection Bundle with the proof
// beside it; `mcps data verify` finds the format by the file's first bytes, rebuilds the Bundle from
// the proof and says when the FHIR file does not say exactly what the proof proves. (The fetch and
// the chain checks themselves are test/share-fetch.test.ts's.)
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, FhirResource, Observation } from 'fhir/r4';
import type { ShareBundle } from '../data-user/bundle';
import { detectFormat, outputFormat, formatNames } from '../data-user/formats';
import { READING_KINDS, type Reading, type ReadingKind } from '../protocol/reading';
import { fhirSchemaErrors } from './fhir-schema.helpers';

const dir = mkdtempSync(join(tmpdir(), 'mcps-fhir-share-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const T0 = Date.UTC(2026, 11, 1, 8);
const reading = (kind: ReadingKind, seq: number): Reading => {
  const k = READING_KINDS[kind];
  return { deviceId: 'mon-bed0009', patient: 'p-0009', kind, mdc: k.mdc, loinc: k.loinc, value: k.min + 2, unit: k.unit, deviceTime: T0 + seq, receivedAt: T0 + seq + 5, deviceSeq: seq, source: 'hl7' };
};
const share = {
  format: 'mcps-share/v1',
  user: 'researcher-1',
  hospital: 'h-1',
  patient: 'p-0009',
  grantId: 4,
  from: T0,
  to: T0 + 3_600_000,
  access: { txHash: '0x' + 'ab'.repeat(32), blockNumber: 12, node: 'node-1' },
  chain: { chainId: 31337, registry: '0x' + '1'.repeat(40), anchor: '0x' + '2'.repeat(40), accessLog: '0x' + '3'.repeat(40), deployBlock: 1 },
  tags: { firstDay: 20423, tags: ['00'] },
  readings: (['spo2', 'heart_rate', 'resp_rate', 'body_temp', 'nibp_systolic', 'nibp_diastolic', 'nibp_mean'] as ReadingKind[]).map((k, i) => reading(k, k.startsWith('nibp') ? 100 : i)),
  proof: { gateways: [] },
  report: { verified: true, readings: 7, batches: 1, slices: 1, foreign: 0, gaps: [], problems: [] },
} as unknown as ShareBundle;

t.test('fetch --format fhir writes a valid R4 Bundle and the proof; verify rebuilds and compares', async (t) => {
  t.ok(formatNames().includes('fhir'));
  const path = join(dir, 'p-0009.fhir.json');
  const files = outputFormat('fhir').write(path, share);
  t.same(files, [path, `${path}.proof.json`]);
  const b = JSON.parse(readFileSync(path, 'utf8')) as Bundle<FhirResource>;
  t.same(fhirSchemaErrors(b), [], 'valid against the R4 schema');
  t.equal(b.type, 'collection');
  t.same(b.identifier, { system: 'urn:mcps-edge:share', value: `h-1/4/p-0009/${T0}-${T0 + 3_600_000}` });
  const obs = (b.entry ?? []).map((e) => e.resource as FhirResource).filter((r): r is Observation => r.resourceType === 'Observation');
  t.same(obs.map((o) => o.code.coding?.[0]?.code).sort(), ['2708-6', '8310-5', '85354-9', '8867-4', '9279-1'], 'every reading, blood pressure as the panel');
  t.equal(readFileSync(`${path}.proof.json`, 'utf8').includes('"mcps-share/v1"'), true);

  const f = detectFormat(path);
  t.equal(f.name, 'fhir', 'verify recognises the file');
  t.equal(f.load(path).mismatch, null, 'and finds it says exactly what the proof proves');
  writeFileSync(path, readFileSync(path, 'utf8').replace('"value": 2,', '"value": 3,'));
  t.match(f.load(path).mismatch, /not exactly the FHIR Bundle/, 'a changed value is found');
  rmSync(`${path}.proof.json`);
  t.throws(() => f.load(path), /its proof .* is missing/);
});
