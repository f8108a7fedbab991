/**
 * A simulated MQTT bedside device: logs in to the broker with its own id and password, announces
 * itself online (retained, with a last will saying offline), and publishes readings as JSON with
 * QoS 1. A reading counts as acknowledged only when its PUBACK arrives.
 */
import mqtt from 'mqtt';
import { READING_KINDS, type ReadingKind } from '../../protocol/reading';
import { SeededRandom } from '../random';
import { VitalSigns, type ClinicalScenario } from '../physiology';

export interface MqttDeviceOptions {
  url: string;
  deviceId: string;
  password: string;
  patient: string;
  kind: ReadingKind;
  ratePerS: number;
  seed: number;
  /**
   * Stream mode (replay, crash drill): send `total` readings as fast as the gateway acknowledges
   * them, at most `maxInflight` unacknowledged at a time, instead of pacing at `ratePerS`.
   */
  stream?: { total: number; maxInflight: number; maxRatePerS?: number };
  /** The clinical scenario its values follow (device-sim/physiology.ts); default normal. */
  scenario?: ClinicalScenario;
  onResult: (r: { deviceId: string; patient: string; kind: ReadingKind; value: number; deviceSeq: number; sentAt: number; acked: boolean; error?: string }) => void;
}

export class SimulatedMqttDevice {
  readonly #client: mqtt.MqttClient;
  readonly #rng: SeededRandom;
  #seq = 0;
  readonly #vitals: VitalSigns;
  readonly #t0 = Date.now();
  #rebootedAt = Date.now();
  #timer: NodeJS.Timeout | null = null;
  #inflight = 0;
  #idle: Array<() => void> = [];

  private constructor(readonly opts: MqttDeviceOptions, client: mqtt.MqttClient) {
    this.#client = client;
    this.#rng = new SeededRandom(opts.seed);
    this.#vitals = new VitalSigns(opts.kind, opts.scenario ?? 'normal', new SeededRandom(opts.seed ^ 0x5eed));
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
      const onConnect = (): void => {
        client.off('error', onError);
        resolve();
      };
      const onError = (err: Error): void => {
        client.off('connect', onConnect);
        client.end(true);
        reject(new Error(`device ${opts.deviceId}: ${err.message}`));
      };
      client.once('connect', onConnect);
      client.once('error', onError);
    });
    // Once connected, errors (the gateway restarting: connection refused) only mean "reconnect
    // later": mqtt.js does, and resends what was not acknowledged.
    client.on('error', () => undefined);
    await client.publishAsync(statusTopic, 'online', { qos: 1, retain: true });
    return new SimulatedMqttDevice(opts, client);
  }

  start(): void {
    if (this.opts.stream) return this.#pump();
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

  #finished: Array<() => void> = [];

  #nextDue = 0;
  #pumpTimer: NodeJS.Timeout | null = null;

  #pump(): void {
    const s = this.opts.stream!;
    while (this.#inflight < s.maxInflight && this.#seq < s.total) {
      if (s.maxRatePerS) {
        // Paced from the last send, not from the start: after a stall the device does not burst.
        const now = Date.now();
        const wait = this.#nextDue - now;
        if (wait > 0) {
          this.#pumpTimer ??= setTimeout(() => {
            this.#pumpTimer = null;
            if (!this.#stopped) this.#pump();
          }, wait);
          break;
        }
        this.#nextDue = Math.max(this.#nextDue, now) + 1000 / s.maxRatePerS;
      }
      this.#publishOne();
    }
    if (this.#seq >= s.total && this.#inflight === 0) this.#finished.splice(0).forEach((f) => f());
  }

  /** Stream mode: resolves when every reading of the stream is acknowledged. */
  finished(): Promise<void> {
    const s = this.opts.stream;
    if (!s || (this.#seq >= s.total && this.#inflight === 0)) return Promise.resolve();
    return new Promise((r) => this.#finished.push(r));
  }

  #publishOne(): void {
    const sentAt = Date.now();
    if (this.opts.scenario === 'device-reboot' && !this.opts.stream && sentAt - this.#rebootedAt >= 120_000) {
      // A reboot: the device's counter starts again (its clock does not).
      this.#rebootedAt = sentAt;
      this.#seq = 0;
      this.reboots++;
    }
    const v = this.opts.stream ? this.#vitals.value(this.#seq) : this.#vitals.value((sentAt - this.#t0) / 1000);
    if (v === null && !this.opts.stream) return; // sensor gives no value: nothing to send
    const value = v ?? READING_KINDS[this.opts.kind].min;
    const seq = ++this.#seq;
    const payload = JSON.stringify({ v: 1, deviceId: this.opts.deviceId, patient: this.opts.patient, seq, kind: this.opts.kind, value, unit: READING_KINDS[this.opts.kind].unit, time: sentAt });
    this.#inflight++;
    this.#send(seq, value, sentAt, payload);
  }

  /**
   * Like a real device with a persistent outbox: a reading whose publish failed (mqtt.js fails the
   * messages it was replaying when the connection drops again) is sent again, the same bytes, until
   * it is acknowledged or the device is stopped. The gateway recognises the copies.
   */
  #send(seq: number, value: number, sentAt: number, payload: string): void {
    this.#client.publish(`mcps/devices/${this.opts.deviceId}/readings`, payload, { qos: 1 }, (err) => {
      if (err && !this.#stopped) {
        this.resends++;
        setTimeout(() => this.#send(seq, value, sentAt, payload), 250);
        return;
      }
      this.#inflight--;
      this.opts.onResult({ deviceId: this.opts.deviceId, patient: this.opts.patient, kind: this.opts.kind, value, deviceSeq: seq, sentAt, acked: !err, error: err?.message });
      if (this.#inflight === 0) this.#idle.splice(0).forEach((f) => f());
      if (this.opts.stream && this.#timer === null && !this.#stopped) this.#pump();
    });
  }

  /** Readings published again after a failed publish. */
  resends = 0;
  /** Simulated reboots (scenario device-reboot). */
  reboots = 0;

  /** Stops publishing, waits (bounded) for outstanding PUBACKs, disconnects. */
  #stopped = false;

  async stop(timeoutMs = 5000): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#pumpTimer) clearTimeout(this.#pumpTimer);
    this.#timer = null;
    if (this.#inflight > 0) await Promise.race([new Promise<void>((r) => this.#idle.push(r)), new Promise<void>((r) => setTimeout(r, timeoutMs))]);
    await this.#client.publishAsync(`mcps/devices/${this.opts.deviceId}/status`, 'offline', { qos: 1, retain: true }).catch(() => undefined);
    await this.#client.endAsync();
  }
}
