/**
 * Bedside devices that are more than one number at a fixed rate, each deterministic from its seed:
 *
 *   nibp     non-invasive blood pressure on a cycle (every `cycleS`, default 300 s, the first at
 *            start): systolic, diastolic and mean (diastolic + a third of the pulse pressure) from
 *            one measurement, with one device time;
 *   glucose  a glucose meter used now and then: readings at exponentially distributed intervals
 *            (mean `meanIntervalS`, default 3600 s);
 *   pump     an infusion pump at `rateMlH` (default 50 mL/h) reporting rate and volume infused every
 *            `reportS` (default 10 s); occlusions (`occlusionsPerHour`, default 0.5) stop it for a
 *            minute, and it stops when the volume to be infused (`vtbiMl`, default 250 mL) is done;
 *            each alarm is an event on mcps/devices/<id>/alarms (raised and cleared);
 *   ecg      an ECG monitor: heart rate once a second, and lead II sampled at 250 Hz, sent as
 *            packets of 25 samples (10 a second) on mcps/devices/<id>/waveform (mV, synthetic PQRST
 *            beats at the heart rate with baseline wander, mains hum and noise).
 *
 * Readings go out as the usual one-reading MQTT messages (journaled and anchored); alarm events and
 * waveform packets are published for flows and dashboards and are not anchored.
 */
import type { ReadingKind } from '../protocol/reading';
import { SeededRandom } from './random';
import { VitalSigns, type ClinicalScenario } from './physiology';

export const DEVICE_MODELS = ['nibp', 'glucose', 'pump', 'ecg'] as const;
export type DeviceModelName = (typeof DEVICE_MODELS)[number];

export interface ModelParams {
  cycleS?: number;
  meanIntervalS?: number;
  rateMlH?: number;
  reportS?: number;
  vtbiMl?: number;
  occlusionsPerHour?: number;
}

export interface ModelStep {
  readings: Array<{ kind: ReadingKind; value: number }>;
  /** Side-channel messages: topic suffix under mcps/devices/<id>/ and a JSON body. */
  events: Array<{ topic: 'alarms' | 'waveform'; body: Record<string, unknown> }>;
}

export interface DeviceModel {
  /** Seconds between steps. */
  readonly tickS: number;
  /** The kinds of reading it sends (for scenario listings). */
  readonly kinds: readonly ReadingKind[];
  /** Advance to simulated time t (seconds since the device started). */
  step(t: number): ModelStep;
}

export function makeDeviceModel(name: DeviceModelName, seed: number, scenario: ClinicalScenario, p: ModelParams = {}): DeviceModel {
  const rng = new SeededRandom(seed ^ 0x6d0de1);
  const vital = (k: ReadingKind, salt: number): VitalSigns => new VitalSigns(k, scenario, new SeededRandom(seed ^ salt));
  switch (name) {
    case 'nibp':
      return new NibpModel(vital('nibp_systolic', 0x51), vital('nibp_diastolic', 0x52), p.cycleS ?? 300);
    case 'glucose':
      return new GlucoseModel(vital('glucose', 0x61), rng, p.meanIntervalS ?? 3600);
    case 'pump':
      return new PumpModel(rng, p.rateMlH ?? 50, p.reportS ?? 10, p.vtbiMl ?? 250, p.occlusionsPerHour ?? 0.5);
    case 'ecg':
      return new EcgModel(vital('heart_rate', 0x71), rng);
  }
}

const none = (): ModelStep => ({ readings: [], events: [] });

/** Readings per second a model sends on average (for scenario summaries). */
export function modelReadingsPerS(name: DeviceModelName, p: ModelParams = {}): number {
  switch (name) {
    case 'nibp':
      return 3 / (p.cycleS ?? 300);
    case 'glucose':
      return 1 / (p.meanIntervalS ?? 3600);
    case 'pump':
      return 2 / (p.reportS ?? 10);
    case 'ecg':
      return 1;
  }
}

class NibpModel implements DeviceModel {
  readonly tickS = 1;
  readonly kinds = ['nibp_systolic', 'nibp_diastolic', 'nibp_mean'] as const;
  #next = 0;
  constructor(readonly sys: VitalSigns, readonly dia: VitalSigns, readonly cycleS: number) {}
  step(t: number): ModelStep {
    if (t < this.#next) return none();
    this.#next += this.cycleS;
    const s = this.sys.value(t);
    const d = this.dia.value(t);
    if (s === null || d === null || d >= s) return none(); // a failed measurement (motion): none this cycle
    return { readings: [{ kind: 'nibp_systolic', value: s }, { kind: 'nibp_diastolic', value: d }, { kind: 'nibp_mean', value: Math.round(d + (s - d) / 3) }], events: [] };
  }
}

class GlucoseModel implements DeviceModel {
  readonly tickS = 1;
  readonly kinds = ['glucose'] as const;
  #next: number;
  constructor(readonly g: VitalSigns, readonly rng: SeededRandom, readonly meanS: number) {
    this.#next = this.#gap();
  }
  #gap(): number {
    return -Math.log(1 - this.rng.next()) * this.meanS;
  }
  step(t: number): ModelStep {
    if (t < this.#next) return none();
    this.#next = t + this.#gap();
    const v = this.g.value(t);
    return v === null ? none() : { readings: [{ kind: 'glucose', value: v }], events: [] };
  }
}

class PumpModel implements DeviceModel {
  readonly tickS = 1;
  readonly kinds = ['infusion_rate', 'volume_infused'] as const;
  #volume = 0;
  #last = 0;
  #nextReport = 0;
  #occludedUntil = -1;
  #done = false;
  constructor(readonly rng: SeededRandom, readonly rateMlH: number, readonly reportS: number, readonly vtbiMl: number, readonly occlusionsPerHour: number) {}
  step(t: number): ModelStep {
    const events: ModelStep['events'] = [];
    const dt = t - this.#last;
    this.#last = t;
    const occluded = t < this.#occludedUntil;
    if (!occluded && this.#occludedUntil >= 0) {
      this.#occludedUntil = -1;
      events.push({ topic: 'alarms', body: { alarm: 'occlusion', active: false } });
    }
    const running = !this.#done && !occluded;
    if (running) {
      this.#volume = Math.min(this.vtbiMl, this.#volume + (this.rateMlH * dt) / 3600);
      if (this.#volume >= this.vtbiMl) {
        this.#done = true;
        events.push({ topic: 'alarms', body: { alarm: 'infusion complete', active: true } });
      } else if (this.rng.next() < (this.occlusionsPerHour * dt) / 3600) {
        this.#occludedUntil = t + 60;
        events.push({ topic: 'alarms', body: { alarm: 'occlusion', active: true } });
      }
    }
    const readings: ModelStep['readings'] = [];
    if (t >= this.#nextReport) {
      this.#nextReport += this.reportS;
      const rate = !this.#done && !(t < this.#occludedUntil) ? this.rateMlH : 0;
      readings.push({ kind: 'infusion_rate', value: rate }, { kind: 'volume_infused', value: Math.round(this.#volume * 10) / 10 });
    }
    return { readings, events };
  }
}

/** One heartbeat's shape: P, Q, R, S, T waves as Gaussians over the beat's phase (0..1), in mV. */
const PQRST: ReadonlyArray<{ at: number; width: number; mv: number }> = [
  { at: 0.16, width: 0.025, mv: 0.12 },
  { at: 0.255, width: 0.008, mv: -0.12 },
  { at: 0.28, width: 0.01, mv: 1.1 },
  { at: 0.305, width: 0.01, mv: -0.25 },
  { at: 0.55, width: 0.045, mv: 0.3 },
];

export const ECG_FS = 250;
const ECG_PACKET = 25;

class EcgModel implements DeviceModel {
  readonly tickS = ECG_PACKET / ECG_FS;
  readonly kinds = ['heart_rate'] as const;
  #phase = 0;
  #n = 0;
  #packet = 0;
  #hr = 72;
  #nextHr = 0;
  constructor(readonly hr: VitalSigns, readonly rng: SeededRandom) {}
  step(t: number): ModelStep {
    const readings: ModelStep['readings'] = [];
    if (t >= this.#nextHr) {
      this.#nextHr += 1;
      const v = this.hr.value(t);
      if (v !== null) {
        this.#hr = v;
        readings.push({ kind: 'heart_rate', value: v });
      }
    }
    const samples: number[] = [];
    for (let i = 0; i < ECG_PACKET; i++, this.#n++) {
      const ts = this.#n / ECG_FS;
      this.#phase = (this.#phase + this.#hr / 60 / ECG_FS) % 1;
      let mv = 0;
      for (const w of PQRST) mv += w.mv * Math.exp(-((this.#phase - w.at) ** 2) / (2 * w.width ** 2));
      mv += 0.08 * Math.sin(2 * Math.PI * 0.25 * ts) + 0.02 * Math.sin(2 * Math.PI * 50 * ts) + 0.015 * this.rng.gaussian();
      samples.push(Math.round(mv * 1000) / 1000);
    }
    return { readings, events: [{ topic: 'waveform', body: { lead: 'II', fs: ECG_FS, unit: 'mV', packet: ++this.#packet, firstSample: this.#n - ECG_PACKET, samples } }] };
  }
}
