/**
 * A canonical reading as a FHIR R4 Observation.
 *
 * - status final; category from the kind (vital-signs for the vital signs, laboratory, exam, therapy);
 * - code: the LOINC code(s) first (the one the vital-signs profile requires leads), then the MDC code;
 * - meta.profile: the base vital-signs profile and the specific one (oxygensat, heartrate, ...) where
 *   the kind has one;
 * - subject: the patient pseudonym as a logical reference by identifier (the gateway never knows a
 *   Patient resource id, and must not: the pseudonym is all it holds);
 * - effectiveDateTime: the device's time, or the gateway's receipt time when the device sends none;
 *   issued: the gateway's receipt time;
 * - valueQuantity in UCUM; device: the DeviceMetric that measured it.
 * The Observation id is derived from the reading's identity (device, kind, sequence, time), so the
 * same reading always gives the same id.
 */
import type { Coding, Observation, ObservationComponent } from 'fhir/r4';
import type { Reading } from '../protocol/reading';
import { BP_PANEL, KIND_TERMS, LOINC, MDC, OBSERVATION_CATEGORY, UCUM, VITAL_SIGNS_PROFILE, type KindTerms } from './codes';
import { deviceMetricId, deviceResourceId, nonEmpty } from './device';
import { FhirMappingError } from './errors';
import { nameUuid, referenceTo, type ReferenceStyle } from './ids';
import type { ResolvedIdentity } from './options';

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: what a FHIR dateTime/instant can say. */
const MIN_MS = new Date('0001-01-01T00:00:00.000Z').getTime();
const MAX_MS = new Date('9999-12-31T23:59:59.999Z').getTime();

export function fhirInstant(ms: number, what: string): string {
  if (!Number.isSafeInteger(ms) || ms < MIN_MS || ms > MAX_MS) {
    throw new FhirMappingError('fhir.time-out-of-range', `${what} ${ms} is not a time FHIR can express (years 0001 to 9999)`);
  }
  return new Date(ms).toISOString();
}

/** The time a reading was taken: the device's clock, else the gateway's receipt time. */
export function readingTime(r: Reading): number {
  return r.deviceTime ?? r.receivedAt;
}

export function readingIdentifierValue(r: Reading): string {
  return `${r.deviceId}/${r.kind}/${r.deviceSeq}/${readingTime(r)}`;
}

export function codings(t: Pick<KindTerms, 'loinc' | 'mdc'>): Coding[] {
  return [...t.loinc.map((c) => ({ system: LOINC, code: c.code, display: c.display })), { system: MDC, code: t.mdc.code, display: t.mdc.display }];
}

function terms(r: Reading): KindTerms {
  const t = KIND_TERMS[r.kind];
  if (!t) throw new FhirMappingError('fhir.unknown-kind', `reading of ${r.deviceId}: kind "${String(r.kind)}" has no FHIR mapping`);
  if (r.unit !== t.ucum.code) throw new FhirMappingError('fhir.unit-mismatch', `reading of ${r.deviceId}: unit "${r.unit}" for ${r.kind}, expected UCUM "${t.ucum.code}"`);
  if (!Number.isFinite(r.value)) throw new FhirMappingError('fhir.bad-value', `reading of ${r.deviceId}: value ${r.value} is not a finite number`);
  return t;
}

function category(code: KindTerms['category']): Observation['category'] {
  const display: Record<KindTerms['category'], string> = { 'vital-signs': 'Vital Signs', laboratory: 'Laboratory', exam: 'Exam', therapy: 'Therapy' };
  return [{ coding: [{ system: OBSERVATION_CATEGORY, code, display: display[code] }], text: display[code] }];
}

function common(r: Reading, id: ResolvedIdentity) {
  return {
    status: 'final' as const,
    subject: { type: 'Patient', identifier: { system: id.patientSystem, value: nonEmpty('patient', r.patient) } },
    effectiveDateTime: fhirInstant(readingTime(r), r.deviceTime === null ? `reading of ${r.deviceId}: receivedAt` : `reading of ${r.deviceId}: deviceTime`),
    issued: fhirInstant(r.receivedAt, `reading of ${r.deviceId}: receivedAt`),
  };
}

export function observationId(r: Reading, id: ResolvedIdentity): string {
  return nameUuid(`Observation|${id.readingSystem}|${readingIdentifierValue(r)}`);
}

export function toObservation(r: Reading, id: ResolvedIdentity, style: ReferenceStyle): Observation {
  const t = terms(r);
  nonEmpty('deviceId', r.deviceId);
  const profiles = t.category === 'vital-signs' ? [VITAL_SIGNS_PROFILE, ...(t.profile ? [t.profile] : [])] : [];
  return {
    resourceType: 'Observation',
    id: observationId(r, id),
    ...(profiles.length ? { meta: { profile: profiles } } : {}),
    identifier: [{ system: id.readingSystem, value: readingIdentifierValue(r) }],
    category: category(t.category),
    code: { coding: codings(t), text: t.text },
    ...common(r, id),
    valueQuantity: { value: r.value, unit: t.ucum.display, system: UCUM, code: t.ucum.code },
    device: { reference: referenceTo('DeviceMetric', deviceMetricId(id, r.deviceId, r.kind), style), display: `${r.deviceId} ${r.kind}` },
  };
}

/**
 * Systolic and diastolic (and optionally mean) pressure taken together as the vital-signs blood
 * pressure panel 85354-9: one Observation with a component per pressure.
 */
export function toBloodPressurePanel(parts: { systolic: Reading; diastolic: Reading; mean?: Reading }, id: ResolvedIdentity, style: ReferenceStyle): Observation {
  const { systolic } = parts;
  const members = [parts.systolic, parts.diastolic, ...(parts.mean ? [parts.mean] : [])];
  const component: ObservationComponent[] = members.map((r) => {
    const t = terms(r);
    return { code: { coding: codings(t), text: t.text }, valueQuantity: { value: r.value, unit: t.ucum.display, system: UCUM, code: t.ucum.code } };
  });
  const identifier = `${systolic.deviceId}/nibp/${members.map((m) => m.deviceSeq).join('+')}/${readingTime(systolic)}`;
  return {
    resourceType: 'Observation',
    id: nameUuid(`Observation|${id.readingSystem}|${identifier}`),
    meta: { profile: [VITAL_SIGNS_PROFILE, BP_PANEL.profile] },
    identifier: [{ system: id.readingSystem, value: identifier }],
    category: category('vital-signs'),
    code: {
      coding: [
        { system: LOINC, code: BP_PANEL.loinc.code, display: BP_PANEL.loinc.display },
        { system: MDC, code: BP_PANEL.mdc.code, display: BP_PANEL.mdc.display },
      ],
      text: BP_PANEL.text,
    },
    ...common(systolic, id),
    component,
    device: { reference: referenceTo('Device', deviceResourceId(id, nonEmpty('deviceId', systolic.deviceId)), style), display: systolic.deviceId },
  };
}
