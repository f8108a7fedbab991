/**
 * Scenario files for `mcps up --scenario FILE` and `mcps sim run FILE`: which simulated devices, how
 * many, for which patients (pseudonyms), over which transport, at which rate, in which clinical
 * scenario, from which seed. JSON, checked against a schema; every error names the place in the file.
 *
 *   {
 *     "name": "one bed", "seed": 1, "durationS": 60,
 *     "devices": [
 *       { "transport": "serial", "format": "nonin-df7", "idPrefix": "oxi-bed", "patientPrefix": "p-" },
 *       { "transport": "mqtt", "kind": "body_temp", "count": 1, "ratePerS": 0.2, "idPrefix": "temp-bed", "scenario": "normal" }
 *     ]
 *   }
 *
 * Device i of a group (from `first`, default 1) gets the id `<idPrefix><i>` (4 digits) and the
 * patient `<patientPrefix><i>` (4 digits), or `patient` for all of them when set: the same index in
 * different groups is the same bed.
 */
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { READING_KINDS, type ReadingKind } from '../protocol/reading';
import { CLINICAL_SCENARIOS, type ClinicalScenario } from './physiology';
import { MQTT_FAULTS, type FaultSpec } from './faults';
import { DEVICE_MODELS, type DeviceModelName, type ModelParams } from './device-models';
import { SERIAL_FORMATS, type SerialFormat } from '../gateway/ingest/serial-settings';

export interface ScenarioGroup {
  /** mqtt: one vital sign per device; serial: an oximeter on a tty; hl7: a monitor sending ORU^R01 over MLLP. */
  transport: 'mqtt' | 'serial' | 'hl7';
  /** MQTT devices: the vital sign they report. */
  kind?: ReadingKind;
  /** Serial devices: the wire format (at most one device per format: the default flow has one port for each). */
  format?: SerialFormat;
  count?: number;
  /** Index of the group's first device (default 1): beds 3–4 of a ward in their own group keep their numbers. */
  first?: number;
  ratePerS?: number;
  idPrefix: string;
  patientPrefix?: string;
  patient?: string;
  scenario?: ClinicalScenario;
  /** Faults to inject into every device of the group (MQTT devices; device-sim/faults.ts). */
  faults?: FaultSpec[];
  /** MQTT devices that are more than one vital sign (device-sim/device-models.ts), instead of "kind". */
  model?: DeviceModelName;
  params?: ModelParams;
}

export interface Scenario {
  name: string;
  seed: number;
  durationS?: number;
  /** Faults for every MQTT device whose group names none of its own. */
  faults?: FaultSpec[];
  devices: ScenarioGroup[];
}

export interface SimDeviceSpec {
  deviceId: string;
  patient: string;
  transport: 'mqtt' | 'serial' | 'hl7';
  kind: ReadingKind | null;
  format: SerialFormat | null;
  ratePerS: number;
  scenario: ClinicalScenario;
  seed: number;
  faults: FaultSpec[];
  model: DeviceModelName | null;
  params: ModelParams;
}

const FAULTS_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['type'],
    properties: {
      type: { enum: [...MQTT_FAULTS] },
      probability: { type: 'number', minimum: 0, maximum: 1 },
      everyS: { type: 'number', minimum: 1 },
      skewMs: { type: 'integer', minimum: -86400000, maximum: 86400000 },
    },
  },
} as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'seed', 'devices'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string' },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
    durationS: { type: 'number', exclusiveMinimum: 0 },
    faults: FAULTS_SCHEMA,
    devices: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['transport', 'idPrefix'],
        properties: {
          transport: { enum: ['mqtt', 'serial', 'hl7'] },
          kind: { enum: Object.keys(READING_KINDS) },
          format: { enum: [...SERIAL_FORMATS] },
          count: { type: 'integer', minimum: 1, maximum: 100000 },
          first: { type: 'integer', minimum: 1, maximum: 9999 },
          ratePerS: { type: 'number', exclusiveMinimum: 0, maximum: 1000 },
          idPrefix: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$' },
          patientPrefix: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$' },
          patient: { type: 'string', minLength: 1, maxLength: 64 },
          scenario: { enum: [...CLINICAL_SCENARIOS] },
          model: { enum: [...DEVICE_MODELS] },
          params: {
            type: 'object',
            additionalProperties: false,
            properties: {
              cycleS: { type: 'number', minimum: 5 },
              meanIntervalS: { type: 'number', minimum: 1 },
              rateMlH: { type: 'number', minimum: 0, maximum: 2000 },
              reportS: { type: 'number', minimum: 1 },
              vtbiMl: { type: 'number', exclusiveMinimum: 0, maximum: 10000 },
              occlusionsPerHour: { type: 'number', minimum: 0 },
            },
          },
          faults: FAULTS_SCHEMA,
        },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: true }).compile<Scenario>(schema);

export function parseScenario(x: unknown, where = 'scenario'): Scenario {
  if (!validate(x)) {
    const msgs = (validate.errors ?? []).map((e) => `${e.instancePath || '(top)'} ${e.message}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new Error(`${where}: ${msgs.join('; ')}`);
  }
  const problems: string[] = [];
  const formats = new Set<string>();
  x.devices.forEach((g, i) => {
    const at = `/devices/${i}`;
    if (g.transport === 'mqtt' && !g.kind && !g.model) problems.push(`${at} an MQTT device group needs "kind" (one vital sign) or "model" (${DEVICE_MODELS.join(', ')})`);
    if (g.kind && g.model) problems.push(`${at} "kind" or "model", not both`);
    if (g.model && g.transport !== 'mqtt') problems.push(`${at} "model" is for MQTT devices`);
    if (g.params && !g.model) problems.push(`${at} "params" go with a "model"`);
    if (g.model && g.ratePerS !== undefined) problems.push(`${at} a "${g.model}" model keeps its own pace ("params"); "ratePerS" is for one vital sign`);
    if (g.transport === 'mqtt' && g.format) problems.push(`${at} "format" is for serial devices`);
    if (g.transport === 'hl7') {
      if (g.kind || g.format) problems.push(`${at} an HL7 monitor reports all its vital signs; "kind" and "format" are not for it`);
      if (g.faults) problems.push(`${at} "faults" are for MQTT devices`);
    }
    if (g.transport === 'serial') {
      if (!g.format) problems.push(`${at} a serial device group needs "format"`);
      if ((g.count ?? 1) !== 1) problems.push(`${at} serial devices come one per group (the default flow reads one port per format)`);
      if (g.format && formats.has(g.format)) problems.push(`${at} a second ${g.format} device: the default flow reads one port per format`);
      if (g.format) formats.add(g.format);
      if (g.ratePerS !== undefined) problems.push(`${at} serial devices send at their format's own rate; "ratePerS" is for MQTT devices`);
      if (g.faults) problems.push(`${at} "faults" in scenario files are for MQTT devices (byte faults on serial streams are exercised by the decoder tests)`);
    }
  });
  const ids = new Set<string>();
  for (const d of expandScenario(x)) {
    if (ids.has(d.deviceId)) problems.push(`device id ${d.deviceId} comes twice (give the groups different idPrefix)`);
    ids.add(d.deviceId);
  }
  if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);
  return x;
}

export function loadScenario(path: string): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`scenario ${path}: ${(err as Error).message}`);
  }
  return parseScenario(raw, `scenario ${path}`);
}

/** One entry per simulated device, with its own seed derived from the scenario's. */
export function expandScenario(s: Scenario): SimDeviceSpec[] {
  const out: SimDeviceSpec[] = [];
  s.devices.forEach((g, gi) => {
    const first = g.first ?? 1;
    for (let i = first; i < first + (g.count ?? 1); i++) {
      const n = String(i).padStart(4, '0');
      out.push({
        deviceId: `${g.idPrefix}${n}`,
        patient: g.patient ?? `${g.patientPrefix ?? 'p-'}${n}`,
        transport: g.transport,
        kind: g.kind ?? null,
        format: g.format ?? null,
        ratePerS: g.ratePerS ?? 1,
        scenario: g.scenario ?? 'normal',
        seed: (s.seed * 1_000_003 + gi * 100_019 + i) >>> 0,
        faults: g.faults ?? (g.transport === 'mqtt' ? (s.faults ?? []) : []),
        model: g.model ?? null,
        params: g.params ?? {},
      });
    }
  });
  return out;
}
