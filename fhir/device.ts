/**
 * The source device of readings as FHIR resources, following the Point-of-Care Device implementation
 * guide's layering: one Device per bedside device (its medical device system), and one DeviceMetric per
 * quantity it measures (type = the MDC metric code, unit = MDC and UCUM, source = the Device). An
 * Observation's `device` points at the DeviceMetric that produced it.
 */
import type { Device, DeviceMetric } from 'fhir/r4';
import type { ReadingKind, ReadingSource } from '../protocol/reading';
import { KIND_TERMS, MDC, UCUM } from './codes';
import { FhirMappingError } from './errors';
import { nameUuid, referenceTo, type ReferenceStyle } from './ids';
import type { ResolvedIdentity } from './options';

export interface DeviceFacts {
  readonly deviceId: string;
  readonly patient: string;
  readonly source: ReadingSource;
}

export function deviceResourceId(id: ResolvedIdentity, deviceId: string): string {
  return nameUuid(`Device|${id.deviceSystem}|${deviceId}`);
}

export function deviceMetricId(id: ResolvedIdentity, deviceId: string, kind: ReadingKind): string {
  return nameUuid(`DeviceMetric|${id.deviceSystem}|${deviceId}|${kind}`);
}

const SOURCE_TEXT: Record<ReadingSource, string> = {
  serial: 'bedside device on a serial line',
  mqtt: 'MQTT device',
  hl7: 'HL7 v2 (IHE PCD-01) monitor',
};

export function nonEmpty(what: string, v: string): string {
  if (v.trim() === '') throw new FhirMappingError('fhir.empty-field', `${what} is empty; FHIR needs a value there`);
  return v;
}

export function toDevice(facts: DeviceFacts, id: ResolvedIdentity): Device {
  return {
    resourceType: 'Device',
    id: deviceResourceId(id, facts.deviceId),
    identifier: [{ system: id.deviceSystem, value: nonEmpty('deviceId', facts.deviceId) }],
    status: 'active',
    deviceName: [{ name: facts.deviceId, type: 'user-friendly-name' }],
    type: { text: SOURCE_TEXT[facts.source] },
    patient: { type: 'Patient', identifier: { system: id.patientSystem, value: nonEmpty('patient', facts.patient) } },
  };
}

export function toDeviceMetric(deviceId: string, kind: ReadingKind, id: ResolvedIdentity, style: ReferenceStyle): DeviceMetric {
  const t = KIND_TERMS[kind];
  return {
    resourceType: 'DeviceMetric',
    id: deviceMetricId(id, deviceId, kind),
    identifier: [{ system: `${id.deviceSystem}:metric`, value: `${nonEmpty('deviceId', deviceId)}/${kind}` }],
    type: { coding: [{ system: MDC, code: t.mdc.code, display: t.mdc.display }], text: t.text },
    unit: {
      coding: [
        { system: MDC, code: t.mdcUnit.code, display: t.mdcUnit.display },
        { system: UCUM, code: t.ucum.code, display: t.ucum.display },
      ],
    },
    source: { reference: referenceTo('Device', deviceResourceId(id, deviceId), style) },
    operationalStatus: 'on',
    category: 'measurement',
  };
}
