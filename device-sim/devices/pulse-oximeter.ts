/**
 * A simulated pulse oximeter: SpO2 and pulse rate around a healthy baseline with slow drift and
 * noise, and a pleth waveform at 75 samples/s following the pulse. Deterministic from its seed.
 */
import { SeededRandom } from '../random';

export interface OximeterSample {
  spo2: number;
  pulseRate: number;
  pleth: number[];
}

export class PulseOximeterModel {
  readonly #rng: SeededRandom;
  #t = 0; // seconds of simulated time
  #phase = 0;
  #drift = 0;

  constructor(seed: number, readonly baseline = { spo2: 97, pulseRate: 72 }) {
    this.#rng = new SeededRandom(seed);
  }

  /** The next packet's worth (1/3 s): one SpO2, one pulse rate, 25 pleth samples. */
  next(): OximeterSample {
    this.#drift = 0.98 * this.#drift + 0.3 * this.#rng.gaussian();
    const pulseRate = Math.round(Math.min(250, Math.max(30, this.baseline.pulseRate + this.#drift * 2 + this.#rng.gaussian())));
    const spo2 = Math.round(Math.min(100, Math.max(70, this.baseline.spo2 + 0.6 * this.#rng.gaussian())));
    const pleth: number[] = [];
    for (let i = 0; i < 25; i++) {
      this.#phase += (2 * Math.PI * pulseRate) / 60 / 75;
      const beat = Math.sin(this.#phase) + 0.35 * Math.sin(2 * this.#phase + 0.8);
      pleth.push(32768 + 12000 * beat + 300 * this.#rng.gaussian());
    }
    this.#t += 1 / 3;
    return { spo2, pulseRate, pleth };
  }
}
