/**
 * Vital signs that look like a patient's: a baseline per kind, slow drift, beat-to-beat noise, and
 * the clinical scenarios a tester names. Deterministic from the device's seeded generator and the
 * simulated time, so a run can be replayed.
 *
 * Baselines sit in the NEWS2 score-0 bands (RR 12–20, SpO2 ≥ 96, systolic 111–219, pulse 51–90,
 * temperature 36.1–38.0). Scenarios:
 *   normal         baseline + drift + noise;
 *   desaturation   SpO2 falls to ~84 % over a minute, holds, recovers (a 4-minute cycle); pulse rises;
 *   tachycardia    heart and pulse rate ~135/min;     bradycardia   ~42/min;
 *   hypotension    systolic ~82, diastolic ~48, mean ~60 mmHg;
 *   sensor-off     motion artefact (noise x4) and 10-second gaps with no value, 1 in 5 windows;
 *   device-reboot  the device restarts its sequence counter every 2 minutes (the gateway must tell
 *                  a rebooted device's "seq 1" from a re-sent one by its time).
 */
import { READING_KINDS, type ReadingKind } from '../protocol/reading';
import type { SeededRandom } from './random';

export const CLINICAL_SCENARIOS = ['normal', 'desaturation', 'tachycardia', 'bradycardia', 'hypotension', 'sensor-off', 'device-reboot'] as const;
export type ClinicalScenario = (typeof CLINICAL_SCENARIOS)[number];

const BASE: Partial<Record<ReadingKind, { mean: number; sd: number; decimals: number }>> = {
  spo2: { mean: 97, sd: 0.7, decimals: 0 },
  pulse_rate: { mean: 72, sd: 2.5, decimals: 0 },
  heart_rate: { mean: 72, sd: 2.5, decimals: 0 },
  resp_rate: { mean: 16, sd: 1.2, decimals: 0 },
  body_temp: { mean: 36.8, sd: 0.1, decimals: 1 },
  nibp_systolic: { mean: 122, sd: 4, decimals: 0 },
  nibp_diastolic: { mean: 78, sd: 3, decimals: 0 },
  nibp_mean: { mean: 93, sd: 3, decimals: 0 },
  glucose: { mean: 105, sd: 8, decimals: 0 },
  perfusion_index: { mean: 4, sd: 0.5, decimals: 2 },
  infusion_rate: { mean: 50, sd: 0, decimals: 1 },
  volume_infused: { mean: 0, sd: 0, decimals: 1 },
};

export class VitalSigns {
  #drift = 0;

  constructor(readonly kind: ReadingKind, readonly scenario: ClinicalScenario, readonly rng: SeededRandom) {}

  /** The value at simulated time t (seconds), or null when the sensor gives none. */
  value(t: number): number | null {
    const k = READING_KINDS[this.kind];
    const b = BASE[this.kind] ?? { mean: (k.min + k.max) / 2, sd: (k.max - k.min) / 50, decimals: 0 };
    let mean = b.mean;
    let sd = b.sd;
    this.#drift = 0.97 * this.#drift + 0.25 * this.rng.gaussian();
    switch (this.scenario) {
      case 'desaturation': {
        const phase = t % 240; // fall 60 s, hold 60 s, recover 60 s, normal 60 s
        const depth = phase < 60 ? phase / 60 : phase < 120 ? 1 : phase < 180 ? 1 - (phase - 120) / 60 : 0;
        if (this.kind === 'spo2') mean -= 13 * depth;
        if (this.kind === 'pulse_rate' || this.kind === 'heart_rate') mean += 18 * depth;
        break;
      }
      case 'tachycardia':
        if (this.kind === 'pulse_rate' || this.kind === 'heart_rate') mean = 135;
        break;
      case 'bradycardia':
        if (this.kind === 'pulse_rate' || this.kind === 'heart_rate') mean = 42;
        break;
      case 'hypotension':
        if (this.kind === 'nibp_systolic') mean = 82;
        if (this.kind === 'nibp_diastolic') mean = 48;
        if (this.kind === 'nibp_mean') mean = 60;
        break;
      case 'sensor-off':
        if (this.rng.next() < 0.2 && Math.floor(t / 10) % 5 === 2) return null;
        sd *= 4;
        break;
      default:
        break;
    }
    const v = mean + b.sd * this.#drift + sd * this.rng.gaussian();
    return Number(Math.min(k.max, Math.max(k.min, v)).toFixed(b.decimals));
  }
}
