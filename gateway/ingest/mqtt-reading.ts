/**
 * Validation of MQTT device payloads into canonical readings.
 *
 * Payload (UTF-8 JSON, QoS 1) on mcps/devices/<deviceId>/readings:
 *   { "v": 1, "deviceId": "temp-bed1", "patient": "p-7f3a", "seq": 42,
 *     "kind": "body_temp", "value": 36.8, "unit": "Cel", "time": 1764000000000 }
 * The device id must match the topic (which the broker's ACL already ties to the login), the patient
 * must be the one this device is registered to, and unit and range must fit the kind.
 */
import Ajv from 'ajv';
import { READING_KINDS, type Reading, type ReadingKind } from '../../protocol/reading';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['v', 'deviceId', 'patient', 'seq', 'kind', 'value', 'unit', 'time'],
  properties: {
    v: { const: 1 },
    deviceId: { type: 'string', minLength: 1, maxLength: 64 },
    patient: { type: 'string', minLength: 1, maxLength: 64 },
    seq: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    kind: { enum: Object.keys(READING_KINDS) },
    value: { type: 'number' },
    unit: { type: 'string', maxLength: 16 },
    time: { type: 'integer', minimum: 0, maximum: 8_640_000_000_000 },
  },
} as const;

interface MqttReadingPayload {
  v: 1;
  deviceId: string;
  patient: string;
  seq: number;
  kind: ReadingKind;
  value: number;
  unit: string;
  time: number;
}

const ajv = new Ajv({ allErrors: false, strict: true });
const validate = ajv.compile<MqttReadingPayload>(schema);

export const MAX_PAYLOAD_BYTES = 4096;

/** Returns the reading, or throws a RangeError whose message names the topic and what was wrong. */
export function readingFromMqtt(topic: string, payload: Uint8Array, topicDevice: string, registeredPatient: string | undefined, receivedAt: number): Reading {
  const where = `message on ${topic}`;
  if (payload.length > MAX_PAYLOAD_BYTES) throw new RangeError(`${where}: ${payload.length} bytes, limit ${MAX_PAYLOAD_BYTES}`);
  let parsed: unknown;
  try {
    // A view on the payload's bytes, not a copy.
    parsed = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch (err) {
    throw new RangeError(`${where}: not JSON (${(err as Error).message})`);
  }
  if (!validate(parsed)) {
    const e = validate.errors?.[0];
    throw new RangeError(`${where}: ${e ? `${e.instancePath || 'payload'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}` : 'invalid'}`);
  }
  const p = parsed;
  if (p.deviceId !== topicDevice) throw new RangeError(`${where}: deviceId "${p.deviceId}" does not match the topic's device "${topicDevice}"`);
  if (registeredPatient !== undefined && p.patient !== registeredPatient) throw new RangeError(`${where}: patient "${p.patient}" is not the patient device "${topicDevice}" is registered to`);
  const k = READING_KINDS[p.kind];
  if (p.unit !== k.unit) throw new RangeError(`${where}: unit "${p.unit}" for ${p.kind}, expected "${k.unit}"`);
  if (!(p.value >= k.min && p.value <= k.max)) throw new RangeError(`${where}: ${p.kind} value ${p.value} outside ${k.min}..${k.max} ${k.unit}`);
  return {
    deviceId: p.deviceId,
    patient: p.patient,
    kind: p.kind,
    mdc: k.mdc,
    loinc: k.loinc,
    value: p.value,
    unit: k.unit,
    deviceTime: p.time,
    receivedAt,
    deviceSeq: p.seq,
    source: 'mqtt',
  };
}
