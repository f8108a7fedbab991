/**
 * The canonical reading: what every device format is decoded into, and what a batch leaf commits to.
 *
 * One shape for serial, MQTT and (later) HL7 inputs, so that batching, sealing, anchoring and
 * verification never need to know where a value came from. Codes follow ISO/IEEE 11073 MDC with the
 * LOINC code beside it where one exists; units are UCUM.
 */

/** The vital or device quantity a reading carries. */
export type ReadingKind =
  | 'spo2'
  | 'pulse_rate'
  | 'heart_rate'
  | 'resp_rate'
  | 'body_temp'
  | 'nibp_systolic'
  | 'nibp_diastolic'
  | 'nibp_mean'
  | 'glucose'
  | 'perfusion_index'
  | 'infusion_rate'
  | 'volume_infused';

/** How the reading reached the gateway. */
export type ReadingSource = 'serial' | 'mqtt' | 'hl7';

export interface Reading {
  /** Device identity as registered on this gateway (e.g. "oxi-bed1"). */
  readonly deviceId: string;
  /** Pseudonymous patient identifier; never a name or MRN. */
  readonly patient: string;
  readonly kind: ReadingKind;
  /** MDC code as a decimal string, e.g. "150456" for MDC_PULS_OXIM_SAT_O2. */
  readonly mdc: string;
  /** LOINC code where one exists, else "". */
  readonly loinc: string;
  readonly value: number;
  /** UCUM unit, e.g. "%", "/min", "Cel", "mm[Hg]". */
  readonly unit: string;
  /** Device clock in ms since the Unix epoch, or null when the device sends no time. */
  readonly deviceTime: number | null;
  /** Gateway clock at receipt, ms since the Unix epoch. */
  readonly receivedAt: number;
  /**
   * Per-device sequence number: the device's own counter where it sends one (MQTT devices do), else
   * the gateway's count of frames received from that device since its link opened (serial).
   */
  readonly deviceSeq: number;
  readonly source: ReadingSource;
}

/** Static facts about each kind: MDC code, LOINC, UCUM unit and the physiologically possible range. */
export const READING_KINDS: Readonly<Record<ReadingKind, { mdc: string; loinc: string; unit: string; min: number; max: number }>> = {
  spo2: { mdc: '150456', loinc: '2708-6', unit: '%', min: 0, max: 100 },
  pulse_rate: { mdc: '149530', loinc: '8889-8', unit: '/min', min: 0, max: 350 },
  heart_rate: { mdc: '147842', loinc: '8867-4', unit: '/min', min: 0, max: 350 },
  resp_rate: { mdc: '151562', loinc: '9279-1', unit: '/min', min: 0, max: 150 },
  body_temp: { mdc: '150364', loinc: '8310-5', unit: 'Cel', min: 20, max: 45 },
  nibp_systolic: { mdc: '150021', loinc: '8480-6', unit: 'mm[Hg]', min: 0, max: 300 },
  nibp_diastolic: { mdc: '150022', loinc: '8462-4', unit: 'mm[Hg]', min: 0, max: 300 },
  nibp_mean: { mdc: '150023', loinc: '8478-0', unit: 'mm[Hg]', min: 0, max: 300 },
  glucose: { mdc: '160184', loinc: '2339-0', unit: 'mg/dL', min: 0, max: 2000 },
  perfusion_index: { mdc: '150488', loinc: '', unit: '%', min: 0, max: 100 },
  infusion_rate: { mdc: '157784', loinc: '', unit: 'mL/h', min: 0, max: 2000 },
  volume_infused: { mdc: '157792', loinc: '', unit: 'mL', min: 0, max: 10000 },
};

export function isReadingKind(x: unknown): x is ReadingKind {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(READING_KINDS, x);
}
