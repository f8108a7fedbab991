/**
 * The simulator's HL7 v2 ORU^R01 observation report, as a bedside monitor in an IHE PCD-01 setup
 * sends it (gateway/hl7/oru-r01.ts reads it), and the MLLP frame around it. Written from the
 * published layout, separately from the gateway's parser: MSH with the device as sending
 * application (id^EUI-64^EUI-64), PID with the patient pseudonym, one OBR, one OBX per numeric with
 * its MDC code and reference id, MDC unit, the device hierarchy in OBX-4 and the observation time.
 */
import type { ReadingKind } from '../../protocol/reading';

/** MDC code, reference id, unit code and unit reference id, per kind a monitor sends. */
export const MONITOR_MDC: Readonly<Partial<Record<ReadingKind, [string, string, string, string]>>> = {
  heart_rate: ['147842', 'MDC_ECG_HEART_RATE', '264864', 'MDC_DIM_BEAT_PER_MIN'],
  spo2: ['150456', 'MDC_PULS_OXIM_SAT_O2', '262688', 'MDC_DIM_PERCENT'],
  pulse_rate: ['149530', 'MDC_PULS_OXIM_PULS_RATE', '264864', 'MDC_DIM_BEAT_PER_MIN'],
  resp_rate: ['151562', 'MDC_RESP_RATE', '264928', 'MDC_DIM_RESP_PER_MIN'],
  body_temp: ['150364', 'MDC_TEMP_BODY', '268192', 'MDC_DIM_DEGC'],
  nibp_systolic: ['150021', 'MDC_PRESS_BLD_NONINV_SYS', '266016', 'MDC_DIM_MMHG'],
  nibp_diastolic: ['150022', 'MDC_PRESS_BLD_NONINV_DIA', '266016', 'MDC_DIM_MMHG'],
  nibp_mean: ['150023', 'MDC_PRESS_BLD_NONINV_MEAN', '266016', 'MDC_DIM_MMHG'],
  perfusion_index: ['150488', 'MDC_BLD_PERF_INDEX', '262688', 'MDC_DIM_PERCENT'],
};

/** HL7 DTM in UTC: YYYYMMDDHHMMSS.SSS+0000. */
export function hl7Time(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace('Z', '+0000');
}

export interface OruInput {
  deviceId: string;
  eui64: string;
  patient: string;
  controlId: number;
  time: number;
  values: Array<{ kind: ReadingKind; value: number }>;
  /** Numerics a monitor also reports that the gateway does not store, e.g. an alarm text OBX. */
  extras?: string[];
}

export function encodeOruR01(m: OruInput): string {
  const ts = hl7Time(m.time);
  const segs = [
    `MSH|^~\\&|${m.deviceId}^${m.eui64}^EUI-64|MCPS-SIM|MCPS|MCPS|${ts}||ORU^R01^ORU_R01|${m.controlId}|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO`,
    `PID|||${m.patient}^^^MCPS^PI`,
    `OBR|1|${m.controlId}^${m.deviceId}|${m.controlId}^${m.deviceId}|182777000^monitoring of patient^SCT|||${ts}`,
  ];
  let n = 0;
  for (const v of m.values) {
    const mdc = MONITOR_MDC[v.kind];
    if (!mdc) throw new Error(`the simulated monitor has no MDC code for ${v.kind}`);
    const [code, ref, ucode, uref] = mdc;
    segs.push(`OBX|${++n}|NM|${code}^${ref}^MDC|1.1.1.${code}|${v.value}|${ucode}^${uref}^MDC|||||R|||${ts}`);
  }
  for (const e of m.extras ?? []) segs.push(`OBX|${++n}|${e}`);
  return segs.join('\r') + '\r';
}

export function mllpWrap(message: string): Buffer {
  return Buffer.concat([Buffer.of(0x0b), Buffer.from(message, 'utf8'), Buffer.of(0x1c, 0x0d)]);
}
