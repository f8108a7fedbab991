/**
 * A simulated MQTT bedside device: logs in to the broker with its own id and password, announces
 * itself online (retained, with a last will saying offline), and publishes readings as JSON with
 * QoS 1. A reading counts as acknowledged only when its PUBACK arrives.
 */
import mqtt from 'mqtt';
import { READING_KINDS, type ReadingKind } from '../../protocol/reading';
import { SeededRandom } from '../random';

export interface MqttDeviceOptions {
  url: string;
  deviceId: string;
  password: string;
  patient: string;
  kind: ReadingKind;
  ratePerS: number;
  seed: number;
  onResult: (r: { deviceId: string; patient: string; kind: ReadingKind; value: number; deviceSeq: number; sentAt: number; acked: boolean; error?: string }) => void;
}

const BASELINES: Partial<Record<ReadingKind, { mean: number; sd: number; decimals: number }>> = {
  body_temp: { mean: 36.8, sd: 0.15, decimals: 1 },
  resp_rate: { mean: 16, sd: 1.5, decimals: 0 },
  heart_rate: { mean: 72, sd: 3, decimals: 0 },
  spo2: { mean: 97, sd: 0.7, decimals: 0 },
  nibp_systolic: { mean: 120, sd: 5, decimals: 0 },
  nibp_diastolic: { mean: 78, sd: 4, decimals: 0 },
  nibp_mean: { mean: 92, sd: 4, decimals: 0 },
  glucose: { mean: 100, sd: 10, decimals: 0 },
};

export class SimulatedMqttDevice {
  readonly #client: mqtt.MqttClient;
  readonly #rng: SeededRandom;
  #seq = 0;
  #timer: NodeJS.Timeout | null = null;
  #inflight = 0;
  #idle: Array<() => void> = [];

  private constructor(readonly opts: MqttDeviceOptions, client: mqtt.MqttClient) {
    this.#client = client;
    this.#rng = new SeededRandom(opts.seed);
  }

  static async connect(opts: MqttDeviceOptions): Promise<SimulatedMqttDevice> {
    const statusTopic = `mcps/devices/${opts.deviceId}/status`;
    const client = mqtt.connect(opts.url, {
      clientId: opts.deviceId,
      username: opts.deviceId,
      password: opts.password,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      will: { topic: statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (err) => {
        client.end(true);
        reject(new Error(`device ${opts.deviceId}: ${err.message}`));
      });
    });
    await client.publishAsync(statusTopic, 'online', { qos: 1, retain: true });
    return new SimulatedMqttDevice(opts, client);
  }

  start(): void {
    const period = 1000 / this.opts.ratePerS;
    const started = Date.now();
    let n = 0;
    const tick = (): void => {
      this.#publishOne();
      n++;
      this.#timer = setTimeout(tick, Math.max(0, started + n * period - Date.now()));
    };
    this.#timer = setTimeout(tick, period * this.#rng.next());
  }

  #value(): number {
    const k = READING_KINDS[this.opts.kind];
    const b = BASELINES[this.opts.kind] ?? { mean: (k.min + k.max) / 2, sd: (k.max - k.min) / 50, decimals: 0 };
    const v = Math.min(k.max, Math.max(k.min, b.mean + b.sd * this.#rng.gaussian()));
    return Number(v.toFixed(b.decimals));
  }

  #publishOne(): void {
    const seq = ++this.#seq;
    const value = this.#value();
    const sentAt = Date.now();
    const payload = JSON.stringify({ v: 1, deviceId: this.opts.deviceId, patient: this.opts.patient, seq, kind: this.opts.kind, value, unit: READING_KINDS[this.opts.kind].unit, time: sentAt });
    this.#inflight++;
    this.#client.publish(`mcps/devices/${this.opts.deviceId}/readings`, payload, { qos: 1 }, (err) => {
      this.#inflight--;
      this.opts.onResult({ deviceId: this.opts.deviceId, patient: this.opts.patient, kind: this.opts.kind, value, deviceSeq: seq, sentAt, acked: !err, error: err?.message });
      if (this.#inflight === 0) this.#idle.splice(0).forEach((f) => f());
    });
  }

  /** Stops publishing, waits (bounded) for outstanding PUBACKs, disconnects. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#inflight > 0) await Promise.race([new Promise<void>((r) => this.#idle.push(r)), new Promise<void>((r) => setTimeout(r, timeoutMs))]);
    await this.#client.publishAsync(`mcps/devices/${this.opts.deviceId}/status`, 'offline', { qos: 1, retain: true }).catch(() => undefined);
    await this.#client.endAsync();
  }
}
