/**
 * A simulated bedside monitor that reports its numerics as HL7 v2 ORU^R01 over MLLP to the
 * gateway's listener, the way an IHE PCD-01 device observation reporter does: one message at a
 * time, each waiting for its ACK (MSA-2 = our control id). No ACK within the timeout, or the
 * connection lost: the same message (same control id) is sent again once connected, so nothing is
 * lost and the gateway recognises the copy. AA and AE (some observation refused) end a message; AR
 * means the gateway will never take it.
 */
import type { Socket } from 'node:net';
import { dial } from '../dial';
import type { ReadingKind } from '../../protocol/reading';
import { MllpDecoder } from '../../gateway/ingest/hl7/mllp';
import { parseHl7 } from '../../gateway/ingest/hl7/hl7-message';
import { SeededRandom } from '../random';
import { VitalSigns, type ClinicalScenario } from '../physiology';
import { encodeOruR01, mllpWrap } from './hl7-oru-encoder';
import type { MqttSendResult } from './mqtt-device';

export const MONITOR_KINDS: ReadingKind[] = ['heart_rate', 'spo2', 'resp_rate', 'body_temp', 'nibp_systolic', 'nibp_diastolic', 'nibp_mean'];

/** What the send log gets per reading: as for an MQTT device, without the MQTT fault fields. */
export type Hl7SendResult = Omit<MqttSendResult, 'fault' | 'expect'>;

export interface Hl7MonitorOptions {
  /** MLLP over TLS, checking the gateway's certificate against this CA. */
  ca?: Buffer;
  host: string;
  port: number;
  deviceId: string;
  patient: string;
  seed: number;
  /** Messages per second (each carries every kind). */
  ratePerS: number;
  kinds?: ReadingKind[];
  scenario?: ClinicalScenario;
  ackTimeoutMs?: number;
  onResult(r: Hl7SendResult): void;
}

interface Pending {
  controlId: number;
  frame: Buffer;
  time: number;
  sentAt: number;
  values: Array<{ kind: ReadingKind; value: number }>;
}

export class SimulatedHl7Monitor {
  resends = 0;
  readonly #vitals: VitalSigns[];
  readonly #eui64: string;
  #queue: Pending[] = [];
  #seq = 0;
  #socket: Socket | null = null;
  #connected = false;
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;
  #ackTimer: NodeJS.Timeout | null = null;
  #inFlight: Pending | null = null;
  #idle: Array<() => void> = [];
  readonly #t0 = Date.now();

  constructor(readonly o: Hl7MonitorOptions) {
    const rng = new SeededRandom(o.seed);
    this.#vitals = (o.kinds ?? MONITOR_KINDS).map((k, i) => new VitalSigns(k, o.scenario ?? 'normal', new SeededRandom(o.seed ^ (0x4c7 + i))));
    this.#eui64 = Array.from({ length: 8 }, () => Math.floor(rng.next() * 256).toString(16).padStart(2, '0')).join('').toUpperCase();
  }

  /** Connects, trying for up to `waitMs` while the gateway's listener is not up yet. */
  static async connect(o: Hl7MonitorOptions, waitMs = 15_000): Promise<SimulatedHl7Monitor> {
    const m = new SimulatedHl7Monitor(o);
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        await m.#open(true);
        return m;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  #open(first = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = dial(this.o.host, this.o.port, this.o.ca, () => {
        this.#socket = s;
        this.#connected = true;
        resolve();
        this.#inFlight = null; // whatever was in flight goes again on this connection
        this.#next();
      });
      const decoder = new MllpDecoder();
      s.setNoDelay(true);
      s.on('data', (chunk) => {
        for (const ev of decoder.push(chunk)) if (ev.type === 'frame') this.#onAck(ev.data.toString('utf8'));
      });
      s.on('error', (err) => {
        if (first && !this.#connected) reject(new Error(`monitor ${this.o.deviceId}: ${err.message}`));
      });
      s.on('close', () => {
        const was = this.#socket === s;
        this.#connected = false;
        if (this.#ackTimer) clearTimeout(this.#ackTimer);
        if (was) this.#socket = null;
        if (!this.#stopped && (was || !first)) setTimeout(() => void this.#open().catch(() => undefined), 500);
      });
    });
  }

  start(): void {
    const period = 1000 / this.o.ratePerS;
    const started = Date.now();
    let n = 0;
    const tick = (): void => {
      this.#report();
      n++;
      this.#timer = setTimeout(tick, Math.max(0, started + n * period - Date.now()));
    };
    this.#timer = setTimeout(tick, period * new SeededRandom(this.o.seed ^ 0x71).next());
  }

  #report(): void {
    const time = Date.now();
    const t = (time - this.#t0) / 1000;
    const values = this.#vitals.map((v) => ({ kind: v.kind, value: v.value(t) })).filter((x): x is { kind: ReadingKind; value: number } => x.value !== null);
    if (values.length === 0) return;
    const controlId = ++this.#seq;
    const frame = mllpWrap(encodeOruR01({ deviceId: this.o.deviceId, eui64: this.#eui64, patient: this.o.patient, controlId, time, values }));
    this.#queue.push({ controlId, frame, time, sentAt: time, values });
    this.#next();
  }

  #next(): void {
    if (!this.#connected || this.#inFlight || this.#queue.length === 0) return;
    const p = this.#queue[0]!;
    this.#inFlight = p;
    this.#socket!.write(p.frame);
    this.#ackTimer = setTimeout(() => {
      // No answer: send it again (the gateway recognises a copy it already kept).
      this.resends++;
      this.#inFlight = null;
      this.#next();
    }, this.o.ackTimeoutMs ?? 5000);
  }

  #onAck(text: string): void {
    let code = '';
    let ref = '';
    let why = '';
    try {
      const m = parseHl7(text);
      const msa = m.first('MSA');
      if (msa) [code, ref, why] = [m.value(msa, 1), m.value(msa, 2), m.value(msa, 3)];
    } catch {
      return; // not an ACK we can read: wait for the timeout and resend
    }
    const p = this.#inFlight;
    if (!p || ref !== String(p.controlId)) return; // a late answer to an earlier copy
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.#inFlight = null;
    this.#queue.shift();
    this.#settle(p, code === 'AA' || code === 'AE', code === 'AA' ? undefined : `${code}${why ? `: ${why}` : ''}`);
    this.#next();
  }

  #settle(p: Pending, acked: boolean, error?: string): void {
    for (const v of p.values) this.o.onResult({ deviceId: this.o.deviceId, patient: this.o.patient, kind: v.kind, value: v.value, deviceSeq: p.controlId, sentAt: p.sentAt, deviceTime: p.time, acked, ...(error ? { error } : {}) });
    if (this.#queue.length === 0) this.#idle.splice(0).forEach((f) => f());
  }

  async stop(timeoutMs = 5000): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#queue.length > 0) await Promise.race([new Promise<void>((r) => this.#idle.push(r)), new Promise<void>((r) => setTimeout(r, timeoutMs))]);
    this.#stopped = true;
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    for (const p of this.#queue.splice(0)) this.#settle(p, false, 'stopped before the gateway acknowledged it');
    this.#socket?.destroy();
  }
}
