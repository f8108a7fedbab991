/**
 * A simulated MQTT bedside device: logs in to the broker with its own id and password, announces
 * itself online (retained, with a last will saying offline), and publishes readings as JSON with
 * QoS 1. A reading counts as acknowledged only when its PUBACK arrives.
 */
import mqtt from 'mqtt';
import { READING_KINDS, type ReadingKind } from '../../protocol/reading';
import { SeededRandom } from '../random';
import { VitalSigns, type ClinicalScenario } from '../physiology';
import { FaultPlan, type FaultSpec } from '../faults';
import { makeDeviceModel, type DeviceModelName, type ModelParams } from '../device-models';

export interface MqttDeviceOptions {
  url: string;
  /** For mqtts://: the hospital CA the gateway's certificate is checked against. */
  ca?: Buffer;
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
  /** Faults to inject (device-sim/faults.ts), seeded from `seed`. */
  faults?: FaultSpec[];
  /** A device model (NIBP cycle, glucose meter, infusion pump, ECG) instead of one vital sign at ratePerS. */
  model?: DeviceModelName;
  modelParams?: ModelParams;
  onResult: (r: MqttSendResult) => void;
}

export interface MqttSendResult {
  deviceId: string;
  patient: string;
  kind: ReadingKind;
  value: number;
  deviceSeq: number;
  sentAt: number;
  /** The time in the message (the device clock, skewed when a clock fault is on). */
  deviceTime: number;
  acked: boolean;
  error?: string;
  /** Faults applied to this reading, comma-separated. */
  fault?: string;
  /** What the gateway should do with it: anchor it (default) or refuse it (out-of-range). */
  expect?: 'anchored' | 'refused';
}

export class SimulatedMqttDevice {
  readonly #client: mqtt.MqttClient;
  readonly #rng: SeededRandom;
  #seq = 0;
  readonly #vitals: VitalSigns;
  readonly #faults: FaultPlan | null;
  #disconnectTimer: NodeJS.Timeout | null = null;
  /** A reading held back by the reorder fault, sent after the next one. */
  #held: (() => void) | null = null;

  /** Counts of the faults injected so far. */
  get faultCounts(): Record<string, number> {
    return { ...(this.#faults?.counts ?? {}) };
  }
  readonly #t0 = Date.now();
  #rebootedAt = Date.now();
  #timer: NodeJS.Timeout | null = null;
  #inflight = 0;
  #idle: Array<() => void> = [];

  private constructor(readonly opts: MqttDeviceOptions, client: mqtt.MqttClient) {
    this.#client = client;
    this.#rng = new SeededRandom(opts.seed);
    this.#vitals = new VitalSigns(opts.kind, opts.scenario ?? 'normal', new SeededRandom(opts.seed ^ 0x5eed));
    this.#faults = opts.faults && opts.faults.length > 0 ? new FaultPlan(opts.faults, opts.seed) : null;
    client.on('connect', () => this.reconnects++);
    const every = this.#faults?.disconnectEveryS;
    if (every) {
      // Cut the TCP connection without a DISCONNECT packet, as a cable pull or a Wi-Fi drop does.
      this.#disconnectTimer = setInterval(() => {
        this.#faults!.countDisconnect();
        this.cut();
      }, every * 1000);
    }
  }

  /** Whether it holds a connection to the broker now. */
  get connected(): boolean {
    return this.#client.connected;
  }

  /** Connections made after the first (reconnects). */
  reconnects = 0;

  /** Cuts the TCP connection without a DISCONNECT (a Wi-Fi drop); it reconnects as after any drop. */
  cut(): void {
    (this.#client as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  }

  static async connect(opts: MqttDeviceOptions): Promise<SimulatedMqttDevice> {
    const statusTopic = `mcps/devices/${opts.deviceId}/status`;
    const backoff = new ReconnectBackoff(new SeededRandom(opts.seed ^ 0xbac0ff));
    const client = mqtt.connect(opts.url, {
      clientId: opts.deviceId,
      username: opts.deviceId,
      password: opts.password,
      ...(opts.ca ? { ca: opts.ca, rejectUnauthorized: true } : {}),
      clean: true,
      reconnectPeriod: backoff.next(),
      connectTimeout: 5000,
      will: { topic: statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    // mqtt.js waits options.reconnectPeriod after each close: set it for the next try after every
    // failed one, and start again from the first step once connected.
    client.on('close', () => {
      client.options.reconnectPeriod = backoff.next();
    });
    client.on('connect', () => {
      backoff.reset();
      client.options.reconnectPeriod = backoff.next();
    });
    // A refusal "server unavailable" (MQTT return code 3: a gateway with too many logins waiting)
    // means "later", as a connack timeout does; a refused password stays refused. mqtt.js reads
    // this option right after emitting the refusal, so it is set per refusal.
    client.prependListener('error', (err) => {
      client.options.reconnectOnConnackError = (err as Error & { code?: number }).code === 3;
    });
    await new Promise<void>((resolve, reject) => {
      const onConnect = (): void => {
        client.off('error', onError);
        resolve();
      };
      // A broker slow to answer (a gateway checking a ward's logins at once) is waited for, as a
      // real device retries; a refusal or an unreachable broker fails at once.
      // (Ten minutes: a box checking a thousand first logins one scrypt at a time, on a loaded machine.)
      const deadline = Date.now() + 600_000;
      const onError = (err: Error): void => {
        if ((/connack timeout/i.test(err.message) || (err as Error & { code?: number }).code === 3) && Date.now() < deadline) return;
        client.off('connect', onConnect);
        client.off('error', onError);
        client.end(true);
        reject(new Error(`device ${opts.deviceId}: ${err.message}`));
      };
      client.once('connect', onConnect);
      client.on('error', onError);
    });
    // Once connected, errors (the gateway restarting: connection refused) only mean "reconnect
    // later": mqtt.js does, and resends what was not acknowledged.
    client.on('error', () => undefined);
    await client.publishAsync(statusTopic, 'online', { qos: 1, retain: true });
    return new SimulatedMqttDevice(opts, client);
  }

  start(): void {
    if (this.opts.stream) return this.#pump();
    if (this.opts.model) return this.#startModel(this.opts.model);
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

  #startModel(name: DeviceModelName): void {
    const model = makeDeviceModel(name, this.opts.seed, this.opts.scenario ?? 'normal', this.opts.modelParams);
    const period = model.tickS * 1000;
    let n = 0;
    const tick = (): void => {
      const now = Date.now();
      const out = model.step((now - this.#t0) / 1000);
      for (const r of out.readings) this.#publishReading(r.kind, r.value, now);
      for (const e of out.events) {
        // Waveforms at QoS 0 (a lost packet is a gap, not worth a resend); alarms at QoS 1.
        this.#client.publish(`mcps/devices/${this.opts.deviceId}/${e.topic}`, JSON.stringify({ v: 1, deviceId: this.opts.deviceId, patient: this.opts.patient, time: now, ...e.body }), { qos: e.topic === 'alarms' ? 1 : 0 });
        this.events[e.topic]++;
      }
      n++;
      this.#timer = setTimeout(tick, Math.max(0, this.#t0 + n * period - Date.now()));
    };
    tick();
  }

  /** Side-channel messages sent by a device model. */
  readonly events = { alarms: 0, waveform: 0 };

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
    this.#publishReading(this.opts.kind, v ?? READING_KINDS[this.opts.kind].min, sentAt);
  }

  #publishReading(kind: ReadingKind, v: number, sentAt: number): void {
    const k = READING_KINDS[kind];
    const f = this.#faults?.mqtt();
    const value = f?.outOfRange ? k.max + 10 : v;
    const seq = ++this.#seq;
    const deviceTime = sentAt + (f?.clockOffsetMs ?? 0);
    const fault = f && f.applied.length > 0 ? f.applied.join(',') : undefined;
    const base = { deviceId: this.opts.deviceId, patient: this.opts.patient, kind, value, deviceSeq: seq, sentAt, deviceTime, ...(fault ? { fault } : {}), ...(f?.outOfRange ? { expect: 'refused' as const } : {}) };
    if (f?.drop) {
      this.opts.onResult({ ...base, acked: false, error: 'dropped by fault injection' });
      return;
    }
    const payload = JSON.stringify({ v: 1, deviceId: this.opts.deviceId, patient: this.opts.patient, seq, kind, value, unit: k.unit, time: deviceTime });
    this.#inflight++;
    const go = (): void => {
      this.#send(base, payload);
      if (f?.duplicate) this.#client.publish(`mcps/devices/${this.opts.deviceId}/readings`, payload, { qos: 1 });
    };
    const held = this.#held;
    this.#held = null;
    // The last reading of a stream has no successor to be sent after: it goes out in order.
    const last = this.opts.stream !== undefined && seq >= this.opts.stream.total;
    if (f?.reorder && !held && !last) {
      this.#held = go;
      return;
    }
    go();
    held?.();
  }

  /**
   * Like a real device with a persistent outbox: a reading whose publish failed (mqtt.js fails the
   * messages it was replaying when the connection drops again) is sent again, the same bytes, until
   * it is acknowledged or the device is stopped. The gateway recognises the copies.
   */
  #send(base: Omit<MqttSendResult, 'acked' | 'error'>, payload: string): void {
    this.#client.publish(`mcps/devices/${this.opts.deviceId}/readings`, payload, { qos: 1 }, (err) => {
      if (err && !this.#stopped) {
        this.resends++;
        setTimeout(() => this.#send(base, payload), 250);
        return;
      }
      this.#inflight--;
      this.opts.onResult({ ...base, acked: !err, ...(err ? { error: err.message } : {}) });
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
    // A reading still held back by the reorder fault goes out now.
    const held = this.#held;
    this.#held = null;
    held?.();
    this.#stopped = true;
    if (this.#disconnectTimer) clearInterval(this.#disconnectTimer);
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#pumpTimer) clearTimeout(this.#pumpTimer);
    this.#timer = null;
    if (this.#inflight > 0) await Promise.race([new Promise<void>((r) => this.#idle.push(r)), new Promise<void>((r) => setTimeout(r, timeoutMs))]);
    await this.#client.publishAsync(`mcps/devices/${this.opts.deviceId}/status`, 'offline', { qos: 1, retain: true }).catch(() => undefined);
    await this.#client.endAsync();
  }
}

/**
 * How long a device waits before it tries to connect again: about a second after a drop, doubling
 * with every failed try up to 30 s, each wait a random 50-100 % of its step ("equal jitter"). A
 * ward whose devices all lost the gateway at once (a restart, a switch reboot) thus comes back
 * spread out rather than in lock-step waves, and a gateway too busy to answer them all (a cold
 * start checking every device's password on a slow box) gets fewer tries, not more, the longer it
 * is busy.
 */
export class ReconnectBackoff {
  #failures = 0;
  constructor(
    readonly rng: SeededRandom,
    readonly firstMs = 1000,
    readonly maxMs = 30_000,
  ) {}

  /** The wait before the next try (ms); each call counts one more failed try. */
  next(): number {
    const step = Math.min(this.maxMs, this.firstMs * 2 ** Math.min(this.#failures, 16));
    this.#failures++;
    return Math.round(step * (0.5 + 0.5 * this.rng.next()));
  }

  reset(): void {
    this.#failures = 0;
  }
}
