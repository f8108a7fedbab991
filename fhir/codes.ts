/**
 * The terminology of the FHIR mapping: for every reading kind, its LOINC code(s), its ISO/IEEE 11073
 * MDC code, its UCUM unit, the MDC unit a DeviceMetric carries, the observation category and, where
 * the FHIR R4 vital-signs profile applies, that profile. docs/fhir.md prints this table.
 *
 * Sources: the FHIR R4 vital-signs profiles (http://hl7.org/fhir/R4/observation-vitalsigns.html), LOINC,
 * ISO/IEEE 11073-10101 (MDC) as used by IHE PCD-01 and the Point-of-Care Device implementation guide.
 */
import type { ReadingKind } from '../protocol/reading';

export const LOINC = 'http://loinc.org';
export const MDC = 'urn:iso:std:iso:11073:10101';
export const UCUM = 'http://unitsofmeasure.org';
export const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const VITAL_SIGNS_PROFILE = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const SD = 'http://hl7.org/fhir/StructureDefinition/';

export type ObservationCategory = 'vital-signs' | 'laboratory' | 'exam' | 'therapy';

export interface Coded {
  readonly code: string;
  readonly display: string;
}

export interface KindTerms {
  /** LOINC codings, the one a vital-signs profile requires first. Empty where LOINC has no code. */
  readonly loinc: readonly Coded[];
  /** MDC code (decimal) and its reference id. */
  readonly mdc: Coded;
  /** UCUM code, and the human-readable unit FHIR's Quantity.unit shows. */
  readonly ucum: Coded;
  /** MDC unit code and reference id (DeviceMetric.unit). */
  readonly mdcUnit: Coded;
  readonly category: ObservationCategory;
  /** The specific R4 vital-signs profile (besides the base vitalsigns profile), where one applies. */
  readonly profile: string | null;
  /** What a person reads: the text of Observation.code. */
  readonly text: string;
}

const PERCENT: Coded = { code: '262688', display: 'MDC_DIM_PERCENT' };
const BPM: Coded = { code: '264864', display: 'MDC_DIM_BEAT_PER_MIN' };
const MMHG: Coded = { code: '266016', display: 'MDC_DIM_MMHG' };

export const KIND_TERMS: Readonly<Record<ReadingKind, KindTerms>> = {
  spo2: {
    loinc: [
      { code: '2708-6', display: 'Oxygen saturation in Arterial blood' },
      { code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry' },
    ],
    mdc: { code: '150456', display: 'MDC_PULS_OXIM_SAT_O2' },
    ucum: { code: '%', display: '%' },
    mdcUnit: PERCENT,
    category: 'vital-signs',
    profile: `${SD}oxygensat`,
    text: 'SpO2',
  },
  pulse_rate: {
    loinc: [
      { code: '8867-4', display: 'Heart rate' },
      { code: '8889-8', display: 'Heart rate by Pulse oximetry' },
    ],
    mdc: { code: '149530', display: 'MDC_PULS_OXIM_PULS_RATE' },
    ucum: { code: '/min', display: 'beats/minute' },
    mdcUnit: BPM,
    category: 'vital-signs',
    profile: `${SD}heartrate`,
    text: 'Pulse rate (oximeter)',
  },
  heart_rate: {
    loinc: [{ code: '8867-4', display: 'Heart rate' }],
    mdc: { code: '147842', display: 'MDC_ECG_HEART_RATE' },
    ucum: { code: '/min', display: 'beats/minute' },
    mdcUnit: BPM,
    category: 'vital-signs',
    profile: `${SD}heartrate`,
    text: 'Heart rate',
  },
  resp_rate: {
    loinc: [{ code: '9279-1', display: 'Respiratory rate' }],
    mdc: { code: '151562', display: 'MDC_RESP_RATE' },
    ucum: { code: '/min', display: 'breaths/minute' },
    mdcUnit: { code: '264928', display: 'MDC_DIM_RESP_PER_MIN' },
    category: 'vital-signs',
    profile: `${SD}resprate`,
    text: 'Respiratory rate',
  },
  body_temp: {
    loinc: [{ code: '8310-5', display: 'Body temperature' }],
    mdc: { code: '150364', display: 'MDC_TEMP_BODY' },
    ucum: { code: 'Cel', display: 'C' },
    mdcUnit: { code: '268192', display: 'MDC_DIM_DEGC' },
    category: 'vital-signs',
    profile: `${SD}bodytemp`,
    text: 'Body temperature',
  },
  nibp_systolic: {
    loinc: [{ code: '8480-6', display: 'Systolic blood pressure' }],
    mdc: { code: '150021', display: 'MDC_PRESS_BLD_NONINV_SYS' },
    ucum: { code: 'mm[Hg]', display: 'mmHg' },
    mdcUnit: MMHG,
    category: 'vital-signs',
    profile: null,
    text: 'Systolic blood pressure (non-invasive)',
  },
  nibp_diastolic: {
    loinc: [{ code: '8462-4', display: 'Diastolic blood pressure' }],
    mdc: { code: '150022', display: 'MDC_PRESS_BLD_NONINV_DIA' },
    ucum: { code: 'mm[Hg]', display: 'mmHg' },
    mdcUnit: MMHG,
    category: 'vital-signs',
    profile: null,
    text: 'Diastolic blood pressure (non-invasive)',
  },
  nibp_mean: {
    loinc: [{ code: '8478-0', display: 'Mean blood pressure' }],
    mdc: { code: '150023', display: 'MDC_PRESS_BLD_NONINV_MEAN' },
    ucum: { code: 'mm[Hg]', display: 'mmHg' },
    mdcUnit: MMHG,
    category: 'vital-signs',
    profile: null,
    text: 'Mean blood pressure (non-invasive)',
  },
  glucose: {
    loinc: [{ code: '2339-0', display: 'Glucose [Mass/volume] in Blood' }],
    mdc: { code: '160184', display: 'MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD' },
    ucum: { code: 'mg/dL', display: 'mg/dL' },
    mdcUnit: { code: '264274', display: 'MDC_DIM_MILLI_G_PER_DL' },
    category: 'laboratory',
    profile: null,
    text: 'Blood glucose',
  },
  perfusion_index: {
    loinc: [{ code: '61006-3', display: 'Perfusion index Tissue by Pulse oximetry' }],
    mdc: { code: '150488', display: 'MDC_BLD_PERF_INDEX' },
    ucum: { code: '%', display: '%' },
    mdcUnit: PERCENT,
    category: 'exam',
    profile: null,
    text: 'Perfusion index',
  },
  infusion_rate: {
    loinc: [],
    mdc: { code: '157784', display: 'MDC_FLOW_FLUID_PUMP' },
    ucum: { code: 'mL/h', display: 'mL/h' },
    mdcUnit: { code: '265266', display: 'MDC_DIM_MILLI_L_PER_HR' },
    category: 'therapy',
    profile: null,
    text: 'Infusion rate',
  },
  volume_infused: {
    loinc: [],
    mdc: { code: '157792', display: 'MDC_VOL_FLUID_DELIV' },
    ucum: { code: 'mL', display: 'mL' },
    mdcUnit: { code: '263762', display: 'MDC_DIM_MILLI_L' },
    category: 'therapy',
    profile: null,
    text: 'Volume infused',
  },
};

/** The blood-pressure panel: one Observation with systolic, diastolic (and mean) as components. */
export const BP_PANEL = {
  loinc: { code: '85354-9', display: 'Blood pressure panel with all children optional' },
  mdc: { code: '150020', display: 'MDC_PRESS_BLD_NONINV' },
  profile: `${SD}bp`,
  text: 'Blood pressure (non-invasive)',
} as const;
