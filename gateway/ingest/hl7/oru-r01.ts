/**
 * HL7 v2 ORU^R01 observation reports from bedside monitors (IHE PCD-01 style) → canonical readings,
 * and the ACK the gateway answers with. Pure: the caller supplies the time and the device registry.
 *
 * What is read:
 *   MSH-3.1  sending application = the device id registered on this gateway (devices.json)
 *   MSH-9    ORU^R01 (anything else: AR)        MSH-10 message control id (required)
 *   MSH-12   version 2.3 – 2.8
 *   PID-3.1  the patient pseudonym; must be the one the device is registered to
 *   OBX      value type NM; OBX-3 code^name^MDC (the code/name pair is checked against the MDC
 *            table below — some public code uses wrong numbers); OBX-5 the number; OBX-6 unit as
 *            MDC code^name^MDC or UCUM code^^UCUM; OBX-11 status (X and D: no value); OBX-14 the
 *            observation time (else OBR-7, else MSH-7)
 * Other OBX value types (waveforms NA/MA, text, coded alarms) and MDC codes this gateway does not
 * store are passed over and counted, not refused. Each reading's deviceSeq is the control id (its
 * number, or a 32-bit FNV-1a hash when it is not numeric), so a message the device sends again
 * because it never saw our ACK is recognised by the journal.
 */
import { READING_KINDS, type Reading, type ReadingKind } from '../../../protocol/reading';
import { formatHl7Time, hl7Escape, parseHl7Time, type Hl7Message, type Hl7Segment } from './hl7-message';

/** The MDC reference ids and units of the kinds this gateway stores from HL7 (ISO/IEEE 11073-10101). */
export const MDC_OBSERVATIONS: Readonly<Record<string, { kind: ReadingKind; refid: string; unit: { code: string; refid: string } }>> = {
  '150456': { kind: 'spo2', refid: 'MDC_PULS_OXIM_SAT_O2', unit: { code: '262688', refid: 'MDC_DIM_PERCENT' } },
  '149530': { kind: 'pulse_rate', refid: 'MDC_PULS_OXIM_PULS_RATE', unit: { code: '264864', refid: 'MDC_DIM_BEAT_PER_MIN' } },
  '147842': { kind: 'heart_rate', refid: 'MDC_ECG_HEART_RATE', unit: { code: '264864', refid: 'MDC_DIM_BEAT_PER_MIN' } },
  '151562': { kind: 'resp_rate', refid: 'MDC_RESP_RATE', unit: { code: '264928', refid: 'MDC_DIM_RESP_PER_MIN' } },
  '150364': { kind: 'body_temp', refid: 'MDC_TEMP_BODY', unit: { code: '268192', refid: 'MDC_DIM_DEGC' } },
  '150021': { kind: 'nibp_systolic', refid: 'MDC_PRESS_BLD_NONINV_SYS', unit: { code: '266016', refid: 'MDC_DIM_MMHG' } },
  '150022': { kind: 'nibp_diastolic', refid: 'MDC_PRESS_BLD_NONINV_DIA', unit: { code: '266016', refid: 'MDC_DIM_MMHG' } },
  '150023': { kind: 'nibp_mean', refid: 'MDC_PRESS_BLD_NONINV_MEAN', unit: { code: '266016', refid: 'MDC_DIM_MMHG' } },
  '150488': { kind: 'perfusion_index', refid: 'MDC_BLD_PERF_INDEX', unit: { code: '262688', refid: 'MDC_DIM_PERCENT' } },
};

export const MDC_BY_KIND: Readonly<Partial<Record<ReadingKind, string>>> = Object.fromEntries(Object.entries(MDC_OBSERVATIONS).map(([code, o]) => [o.kind, code]));

export type AckCode = 'AA' | 'AE' | 'AR';

export type OruResult =
  | {
      ok: true;
      controlId: string;
      deviceId: string;
      patient: string;
      readings: Reading[];
      /** OBX segments refused, each with why (the rest of the message is kept). */
      refused: string[];
      /** OBX segments passed over: value types and codes this gateway does not store. */
      passedOver: number;
    }
  | { ok: false; code: 'AE' | 'AR'; controlId: string; reason: string; /** ERR-3, HL7 table 0357. */ error: string };

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The deviceSeq of a message: its control id as a number, or FNV-1a-32 of it. */
export function controlIdSeq(id: string): number {
  if (/^\d{1,15}$/.test(id)) return Number(id);
  let h = FNV_OFFSET;
  for (const b of Buffer.from(id, 'utf8')) h = Math.imul(h ^ b, FNV_PRIME) >>> 0;
  return h;
}

export function decodeOruR01(msg: Hl7Message, ctx: { receivedAt: number; patientOf: (deviceId: string) => string | undefined }): OruResult {
  const msh = msg.first('MSH')!;
  const controlId = msg.value(msh, 10);
  const fail = (code: 'AE' | 'AR', reason: string, error = '207^Application internal error^HL70357'): OruResult => ({ ok: false, code, controlId, reason, error });
  const type = msg.components(msh, 9);
  if (type[0] !== 'ORU' || type[1] !== 'R01') return fail('AR', `MSH-9 message type "${type.slice(0, 2).join('^')}": this gateway takes ORU^R01`, '200^Unsupported message type^HL70357');
  if (!controlId) return fail('AR', 'MSH-10 message control id is empty', '101^Required field missing^HL70357');
  const version = msg.value(msh, 12);
  if (!/^2\.[3-8](\.\d+)?$/.test(version)) return fail('AR', `MSH-12 version "${version}": this gateway reads 2.3 to 2.8`, '203^Unsupported version id^HL70357');
  const deviceId = msg.value(msh, 3);
  if (!deviceId) return fail('AR', 'MSH-3 sending application (the device id) is empty', '101^Required field missing^HL70357');
  const registered = ctx.patientOf(deviceId);
  if (registered === undefined) return fail('AR', `device "${deviceId}" (MSH-3) is not registered on this gateway`, '204^Unknown key identifier^HL70357');
  const pid = msg.first('PID');
  if (!pid) return fail('AE', 'no PID segment', '100^Segment sequence error^HL70357');
  const patient = msg.value(pid, 3);
  if (patient !== registered) return fail('AE', `PID-3 patient "${patient}" is not the patient device "${deviceId}" is registered to`);
  const obr = msg.first('OBR');
  const fallbackTime = (obr && parseHl7Time(msg.value(obr, 7))) ?? parseHl7Time(msg.value(msh, 7));
  const seq = controlIdSeq(controlId);

  const readings: Reading[] = [];
  const refused: string[] = [];
  let passedOver = 0;
  const seen = new Set<ReadingKind>();
  msg.all('OBX').forEach((obx, i) => {
    const where = `OBX ${msg.value(obx, 1) || i + 1}`;
    try {
      const r = observation(msg, obx, where, fallbackTime);
      if (r === null) return void passedOver++;
      if (seen.has(r.kind)) return void refused.push(`${where}: a second ${r.kind} in one message`);
      seen.add(r.kind);
      const k = READING_KINDS[r.kind];
      readings.push({ deviceId, patient, kind: r.kind, mdc: k.mdc, loinc: k.loinc, value: r.value, unit: k.unit, deviceTime: r.time, receivedAt: ctx.receivedAt, deviceSeq: seq, source: 'hl7' });
    } catch (err) {
      refused.push(`${where}: ${(err as Error).message}`);
    }
  });
  if (readings.length === 0 && refused.length > 0) return fail('AE', refused.join('; '), '102^Data type error^HL70357');
  return { ok: true, controlId, deviceId, patient, readings, refused, passedOver };
}

/** One OBX → kind, value, time; null when it is not something this gateway stores; throws why it is wrong. */
function observation(msg: Hl7Message, obx: Hl7Segment, where: string, fallbackTime: number | null): { kind: ReadingKind; value: number; time: number | null } | null {
  const valueType = msg.value(obx, 2);
  if (valueType !== 'NM') return null;
  const [code = '', name = '', system = ''] = msg.components(obx, 3);
  if (system !== 'MDC') return null;
  const known = MDC_OBSERVATIONS[code];
  if (!known) return null;
  if (name && name !== known.refid) throw new Error(`OBX-3 code ${code} is ${known.refid}, not ${name}`);
  const status = msg.value(obx, 11);
  if (status === 'X' || status === 'D') return null;
  const raw = msg.value(obx, 5);
  if (!/^[+-]?\d+(\.\d+)?$/.test(raw)) throw new Error(`OBX-5 "${raw}" is not a number`);
  const value = Number(raw);
  const k = READING_KINDS[known.kind];
  const [ucode = '', uname = '', usystem = ''] = msg.components(obx, 6);
  if (!ucode) throw new Error(`OBX-6 has no unit (${known.unit.code}^${known.unit.refid}^MDC expected)`);
  if (usystem === 'MDC') {
    if (ucode !== known.unit.code || (uname && uname !== known.unit.refid)) throw new Error(`OBX-6 unit ${ucode}^${uname} is not ${known.unit.code}^${known.unit.refid}`);
  } else if (usystem === 'UCUM') {
    if (ucode !== k.unit) throw new Error(`OBX-6 UCUM unit "${ucode}" is not "${k.unit}"`);
  } else throw new Error(`OBX-6 unit coding system "${usystem}" (MDC or UCUM expected)`);
  if (value < k.min || value > k.max) throw new Error(`${known.refid} ${value} outside ${k.min}..${k.max} ${k.unit}`);
  const rawTime = msg.value(obx, 14);
  const time = rawTime ? parseHl7Time(rawTime) : fallbackTime;
  if (rawTime && time === null) throw new Error(`OBX-14 "${rawTime}" is not an HL7 time`);
  return { kind: known.kind, value, time };
}

/**
 * The acknowledgement for a message: MSH with sender and receiver swapped, MSA with the code and the
 * original control id, and for AE/AR an ERR segment with the reason (HL7 table 0357 codes).
 */
export function buildAck(a: { original: Hl7Message | null; code: AckCode; controlId: string; text?: string; error?: string; now: number; ackId: string }): string {
  const m = a.original;
  const msh = m?.first('MSH');
  const f = (n: number): string => (m && msh ? m.raw(msh, n) : '');
  const version = (m && msh && m.value(msh, 12)) || '2.6';
  const segs = [
    `MSH|^~\\&|${f(5) || 'MCPS-GATEWAY'}|${f(6)}|${f(3)}|${f(4)}|${formatHl7Time(a.now)}||ACK^R01^ACK|${hl7Escape(a.ackId)}|P|${version}`,
    `MSA|${a.code}|${hl7Escape(a.controlId)}${a.text ? `|${hl7Escape(a.text.slice(0, 80))}` : ''}`,
  ];
  if (a.code !== 'AA' && a.text) {
    const err = a.error ?? '207^Application internal error^HL70357';
    segs.push(`ERR|||${err}|E||||${hl7Escape(a.text.slice(0, 250))}`);
  }
  return segs.join('\r') + '\r';
}
