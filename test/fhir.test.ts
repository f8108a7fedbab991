// The FHIR R4 mapping: every kind the decoders produce, at its range limits and at the edges of time
// and identity, validates against the official R4 JSON schema as an Observation and inside collection
// and transaction Bundles; vital signs carry the profile's category, LOINC code and UCUM unit; blood
// pressure taken together becomes the 85354-9 panel; ids are stable; readings FHIR cannot express are
// refused with an error that names them.
import t from 'tap';
import fc from 'fast-check';
import type { Bundle, DeviceMetric, FhirResource, Observation } from 'fhir/r4';
import { READING_KINDS, type Reading, type ReadingKind } from '../protocol/reading';
import { KIND_TERMS, LOINC, MDC, UCUM, VITAL_SIGNS_PROFILE } from '../fhir/codes';
import { readingsToBundle, readingToObservation } from '../fhir/bundle';
import { FhirMappingError } from '../fhir/errors';
import { fhirSchemaErrors } from './fhir-schema.helpers';

const KINDS = Object.keys(READING_KINDS) as ReadingKind[];
const T0 = Date.UTC(2026, 11, 2, 9, 30, 0);

function reading(kind: ReadingKind, over: Partial<Reading> = {}): Reading {
  const k = READING_KINDS[kind];
  return { deviceId: 'dev-bed1', patient: 'p-7f3a', kind, mdc: k.mdc, loinc: k.loinc, value: (k.min + k.max) / 2, unit: k.unit, deviceTime: T0, receivedAt: T0 + 40, deviceSeq: 7, source: 'mqtt', ...over };
}

/** The edge readings of one kind: range limits, a fraction, no device time, epoch, last FHIR year, long and odd ids. */
function edges(kind: ReadingKind): Reading[] {
  const k = READING_KINDS[kind];
  return [
    reading(kind, { value: k.min }),
    reading(kind, { value: k.max }),
    reading(kind, { value: k.min + 0.123456789, source: 'serial' }),
    reading(kind, { deviceTime: null, source: 'hl7' }),
    reading(kind, { deviceTime: 0, receivedAt: 0, deviceSeq: 0 }),
    reading(kind, { deviceTime: Date.UTC(9999, 11, 31, 23, 59, 59, 999), deviceSeq: Number.MAX_SAFE_INTEGER }),
    reading(kind, { deviceId: 'd'.repeat(64), patient: 'p'.repeat(64) }),
    reading(kind, { deviceId: 'Bett 3 / Überwachung', patient: 'pseudonym with spaces ✓' }),
  ];
}

t.test('every kind at its edges is a valid R4 Observation with LOINC/MDC codes and a UCUM quantity', async (t) => {
  for (const kind of KINDS) {
    for (const r of edges(kind)) {
      const o = readingToObservation(r);
      t.same(fhirSchemaErrors(o), [], `${kind} ${r.value} ${r.deviceTime} ${r.deviceId}`);
      const codes = o.code.coding ?? [];
      t.ok(codes.some((c) => c.system === MDC && c.code === READING_KINDS[kind].mdc), `${kind}: MDC code`);
      if (READING_KINDS[kind].loinc) t.ok(codes.some((c) => c.system === LOINC && c.code === READING_KINDS[kind].loinc), `${kind}: the reading's LOINC code`);
      t.same(o.valueQuantity, { value: r.value, unit: KIND_TERMS[kind].ucum.display, system: UCUM, code: r.unit });
      t.equal(o.effectiveDateTime, new Date(r.deviceTime ?? r.receivedAt).toISOString());
      t.same(o.subject, { type: 'Patient', identifier: { system: 'urn:mcps-edge:patient-pseudonym', value: r.patient } });
    }
  }
});

t.test('vital signs follow the R4 vital-signs profile', async (t) => {
  const expected: Partial<Record<ReadingKind, { loinc: string; profile: string }>> = {
    spo2: { loinc: '2708-6', profile: 'oxygensat' },
    pulse_rate: { loinc: '8867-4', profile: 'heartrate' },
    heart_rate: { loinc: '8867-4', profile: 'heartrate' },
    resp_rate: { loinc: '9279-1', profile: 'resprate' },
    body_temp: { loinc: '8310-5', profile: 'bodytemp' },
  };
  for (const [kind, e] of Object.entries(expected) as [ReadingKind, { loinc: string; profile: string }][]) {
    const o = readingToObservation(reading(kind));
    t.same(o.meta?.profile, [VITAL_SIGNS_PROFILE, `http://hl7.org/fhir/StructureDefinition/${e.profile}`], kind);
    t.equal(o.category?.[0]?.coding?.[0]?.code, 'vital-signs');
    t.equal(o.code.coding?.[0]?.code, e.loinc, `${kind}: the profile's LOINC code comes first`);
    t.equal(o.status, 'final');
  }
  const spo2 = readingToObservation(reading('spo2'));
  t.same(spo2.code.coding?.map((c) => c.code), ['2708-6', '59408-5', '150456'], 'SpO2: 2708-6 with 59408-5, and MDC');
  for (const kind of ['glucose', 'infusion_rate', 'volume_infused', 'perfusion_index'] as const) {
    const o = readingToObservation(reading(kind));
    t.equal(o.meta, undefined, `${kind} claims no vital-signs profile`);
    t.not(o.category?.[0]?.coding?.[0]?.code, 'vital-signs');
  }
  t.equal(readingToObservation(reading('glucose')).code.coding?.[0]?.code, '2339-0');
});

t.test('a batch as collection and transaction Bundles: valid, self-contained, idempotent', async (t) => {
  const readings = KINDS.flatMap((k, i) => edges(k).map((r, j) => ({ ...r, deviceId: `${r.deviceId}-${i % 3}`, deviceSeq: (r.deviceSeq + j) % Number.MAX_SAFE_INTEGER })));
  for (const type of ['collection', 'transaction'] as const) {
    const b = readingsToBundle(readings, { type, timestamp: T0, identifier: { system: 'urn:mcps-edge:batch', value: 'b-1' } });
    t.same(fhirSchemaErrors(b), [], `${type} bundle`);
    t.equal(b.type, type);
    const urls = new Set(b.entry?.map((e) => e.fullUrl));
    t.equal(urls.size, b.entry?.length, 'no entry twice');
    const refs = JSON.stringify(b).match(/"reference":"[^"]+"/g) ?? [];
    t.ok(refs.length > 0);
    for (const ref of refs) t.ok(urls.has(ref.slice(13, -1)), `${ref} resolves inside the bundle`);
    for (const e of b.entry ?? []) {
      if (type === 'transaction') t.same(e.request, { method: 'PUT', url: `${e.resource?.resourceType}/${e.resource?.id}` });
      else t.equal(e.request, undefined);
    }
    t.same(readingsToBundle(readings, { type, timestamp: T0 }).entry?.map((e) => e.fullUrl), b.entry?.map((e) => e.fullUrl), 'the same readings give the same ids');
  }
});

t.test('devices and their metrics per the Point-of-Care Device IG', async (t) => {
  const b = readingsToBundle([reading('spo2'), reading('pulse_rate'), reading('spo2', { deviceSeq: 8 })], { type: 'collection', timestamp: T0 });
  const of = (type: string) => (b.entry ?? []).map((e) => e.resource as FhirResource).filter((r) => r.resourceType === type);
  t.equal(of('Device').length, 1, 'one Device per device');
  const metrics = of('DeviceMetric') as DeviceMetric[];
  t.same(metrics.map((m) => m.type.coding?.[0]?.code).sort(), ['149530', '150456'], 'one DeviceMetric per device and kind, typed with MDC');
  t.same(metrics[0].unit?.coding?.map((c) => c.system), [MDC, UCUM]);
  t.equal(metrics[0].category, 'measurement');
  const obs = of('Observation') as Observation[];
  t.equal(obs.length, 3);
  for (const o of obs) t.match(o.device?.reference, /^urn:uuid:/);
});

t.test('blood pressure taken together is one 85354-9 panel; an odd one out stays single', async (t) => {
  const at = { deviceTime: T0 + 1000 };
  const b = readingsToBundle(
    [
      reading('nibp_systolic', { ...at, value: 121, deviceSeq: 1 }),
      reading('nibp_diastolic', { ...at, value: 79, deviceSeq: 2 }),
      reading('nibp_mean', { ...at, value: 93, deviceSeq: 3 }),
      reading('nibp_systolic', { deviceTime: T0 + 9000, value: 140 }),
    ],
    { type: 'transaction', timestamp: T0 },
  );
  t.same(fhirSchemaErrors(b), []);
  const obs = (b.entry ?? []).map((e) => e.resource as FhirResource).filter((r): r is Observation => r.resourceType === 'Observation');
  t.equal(obs.length, 2);
  const panel = obs.find((o) => o.code.coding?.[0]?.code === '85354-9') as Observation;
  t.same(panel.meta?.profile, [VITAL_SIGNS_PROFILE, 'http://hl7.org/fhir/StructureDefinition/bp']);
  t.same(panel.component?.map((c) => [c.code.coding?.[0]?.code, c.valueQuantity?.value, c.valueQuantity?.code]), [['8480-6', 121, 'mm[Hg]'], ['8462-4', 79, 'mm[Hg]'], ['8478-0', 93, 'mm[Hg]']]);
  t.equal(panel.valueQuantity, undefined);
  const single = obs.find((o) => o !== panel) as Observation;
  t.equal(single.code.coding?.[0]?.code, '8480-6');
  t.equal(single.valueQuantity?.value, 140);
});

t.test('readings FHIR cannot express are refused naming the reading', async (t) => {
  const bad: [Reading, string][] = [
    [reading('spo2', { deviceTime: Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1 }), 'fhir.time-out-of-range'],
    [reading('spo2', { patient: '' }), 'fhir.empty-field'],
    [reading('spo2', { deviceId: ' ' }), 'fhir.empty-field'],
    [reading('body_temp', { unit: '[degF]' }), 'fhir.unit-mismatch'],
    [reading('spo2', { value: Number.NaN }), 'fhir.bad-value'],
  ];
  for (const [r, reason] of bad) {
    const e = (() => {
      try {
        readingToObservation(r);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    t.ok(e instanceof FhirMappingError && e.reason === reason && /dev-bed1|deviceId|patient/.test(e.message), `${reason}: ${String(e)}`);
    t.throws(() => readingsToBundle([r], { type: 'collection', timestamp: T0 }), FhirMappingError);
  }
});

t.test('property: any valid canonical readings give a valid transaction Bundle', async (t) => {
  const arbReading = fc.constantFrom(...KINDS).chain((kind) => {
    const k = READING_KINDS[kind];
    return fc.record({
      deviceId: fc.string({ minLength: 1, maxLength: 64 }).filter((s) => s.trim() !== ''),
      patient: fc.string({ minLength: 1, maxLength: 64 }).filter((s) => s.trim() !== ''),
      kind: fc.constant(kind),
      mdc: fc.constant(k.mdc),
      loinc: fc.constant(k.loinc),
      value: fc.double({ min: k.min, max: k.max, noNaN: true }),
      unit: fc.constant(k.unit),
      deviceTime: fc.option(fc.integer({ min: 0, max: Date.UTC(9999, 0, 1) }), { nil: null }),
      receivedAt: fc.integer({ min: 0, max: Date.UTC(9999, 0, 1) }),
      deviceSeq: fc.nat(),
      source: fc.constantFrom('serial' as const, 'mqtt' as const, 'hl7' as const),
    });
  });
  fc.assert(
    fc.property(fc.array(arbReading, { minLength: 1, maxLength: 12 }), (rs) => {
      const b: Bundle = readingsToBundle(rs, { type: 'transaction', timestamp: T0 });
      const errors = fhirSchemaErrors(b);
      if (errors.length) throw new Error(errors.join('\n'));
    }),
    { numRuns: 60 },
  );
  t.pass('60 random batches validate');
});

t.test('the schema check is not a rubber stamp', async (t) => {
  const o = readingToObservation(reading('spo2'));
  t.same(fhirSchemaErrors(o), []);
  t.not(fhirSchemaErrors({ ...o, status: 'done' }).length, 0, 'status outside the value set');
  t.not(fhirSchemaErrors({ ...o, effectiveDateTime: '2026-13-01' }).length, 0, 'a month 13');
  t.not(fhirSchemaErrors({ ...o, valueQuantity: { value: '97' } }).length, 0, 'a number as a string');
  t.not(fhirSchemaErrors({ ...o, id: 'x'.repeat(65) }).length, 0, 'an id of 65 characters');
  t.not(fhirSchemaErrors({ ...o, resourceType: 'Obsrvation' }).length, 0, 'an unknown resource type');
  t.not(fhirSchemaErrors({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { ...o, status: 'done' } }] }).length, 0, 'a bad resource inside a Bundle');
});

t.test('docs/fhir.md shows the mapping the code uses', async (t) => {
  const doc = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', '..', 'docs', 'fhir.md'), 'utf8') as string;
  for (const kind of KINDS) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${kind}\` |`));
    t.ok(row, `a row for ${kind}`);
    const terms = KIND_TERMS[kind];
    for (const code of [...terms.loinc.map((c) => c.code), terms.mdc.code, terms.ucum.code, terms.category]) t.ok(row?.includes(code), `${kind}: ${code}`);
  }
});
