/**
 * Decoder for the Nonin pulse oximeter "data format 7" serial stream (9600 baud, 8N1).
 *
 * Frames of 5 bytes, 75 per second, 25 per packet:
 *   B1 status, always ≥ 0x80: bit6 sensor disconnected, bit5 artefact, bit4 out of track,
 *      bit3 sensor alarm, bits2–1 perfusion (01 green, 10 red, 11 yellow), bit0 SYNC (frame 1 only)
 *   B2:B3 pleth, 16 bits, most significant byte first
 *   B4 ≤ 0x7F, multiplexed by frame number: frame 1 pulse-rate bits 8–7, frame 2 bits 6–0,
 *      frame 3 SpO2 (others: firmware revision, extended averages)
 *   B5 = (B1 + B2 + B3 + B4) mod 256
 * Missing values: pulse rate 511, SpO2 127.
 *
 * The decoder works on an arbitrary byte stream: it resynchronises after corruption, rejects a
 * packet unless it holds exactly 25 valid frames from one SYNC to the next, and reports every
 * refusal as an event with a reason naming the source and the byte offset. It never throws on
 * input and holds at most one packet plus one frame in memory, whatever it is fed.
 */
import { READING_KINDS, type Reading } from '../../../protocol/reading';

export const FRAME_LEN = 5;
export const FRAMES_PER_PACKET = 25;
const MISSING_PR = 511;
const MISSING_SPO2 = 127;

export type Perfusion = 'none' | 'green' | 'red' | 'yellow';

export interface Df7Flags {
  sensorDisconnected: boolean;
  artifact: boolean;
  outOfTrack: boolean;
  sensorAlarm: boolean;
  perfusion: Perfusion;
}

export type Df7Event =
  | { type: 'packet'; packetIndex: number; spo2: number | null; pulseRate: number | null; flags: Df7Flags }
  | { type: 'error'; reason: string; raw: Uint8Array };

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;

/** Why bytes at `i` are not a frame, or null if they are one. */
function frameProblem(b: Uint8Array, i: number): string | null {
  const b1 = b[i]!;
  if ((b1 & 0x80) === 0) return `status byte ${hex2(b1)} lacks bit 7`;
  if (b[i + 3]! > 0x7f) return `byte 4 is ${hex2(b[i + 3]!)}, above 0x7F`;
  const sum = (b1 + b[i + 1]! + b[i + 2]! + b[i + 3]!) & 0xff;
  if (sum !== b[i + 4]) return `checksum ${hex2(b[i + 4]!)}, expected ${hex2(sum)}`;
  return null;
}

export class NoninDf7Decoder {
  readonly counters = { frames: 0, packets: 0, badFrames: 0, badPackets: 0, skippedBytes: 0 };
  readonly #source: string;
  #buf: Uint8Array = new Uint8Array(0);
  /** Stream offset of #buf[0]. */
  #offset = 0;
  #packet: Uint8Array[] = [];
  #packetStart = 0;
  #synced = false;
  /** An open run of unusable bytes: where it started, why, and (a bounded sample of) what it held. */
  #garbage: { start: number; reason: string; bytes: number[]; length: number } | null = null;

  constructor(opts: { source: string }) {
    this.#source = opts.source;
  }

  push(chunk: Uint8Array): Df7Event[] {
    const events: Df7Event[] = [];
    const buf = new Uint8Array(this.#buf.length + chunk.length);
    buf.set(this.#buf, 0);
    buf.set(chunk, this.#buf.length);
    let i = 0;
    while (buf.length - i >= FRAME_LEN) {
      const problem = frameProblem(buf, i);
      if (problem === null) {
        this.#closeGarbage(events);
        this.counters.frames++;
        this.#frame(buf.slice(i, i + FRAME_LEN), this.#offset + i, events);
        i += FRAME_LEN;
      } else {
        this.#skip(buf[i]!, this.#offset + i, problem);
        i += 1;
      }
    }
    this.#buf = buf.slice(i);
    this.#offset += i;
    return events;
  }

  #skip(byte: number, at: number, reason: string): void {
    if (!this.#garbage) {
      this.#garbage = { start: at, reason, bytes: [], length: 0 };
      this.counters.badFrames++;
    }
    this.#garbage.length++;
    if (this.#garbage.bytes.length < 64) this.#garbage.bytes.push(byte);
    this.counters.skippedBytes++;
    // Whatever packet was being built is broken now.
    if (this.#packet.length > 0) this.#dropPacket(null, 'bytes lost inside the packet');
  }

  #closeGarbage(events: Df7Event[]): void {
    const g = this.#garbage;
    if (!g) return;
    this.#garbage = null;
    // Bytes before the first packet start are joining mid-stream, not an error.
    if (!this.#synced && this.counters.packets === 0 && this.counters.badPackets === 0 && g.start === 0) return;
    events.push({ type: 'error', reason: `${this.#source} byte ${g.start}: ${g.reason}; ${g.length} byte${g.length === 1 ? '' : 's'} skipped to resynchronise`, raw: Uint8Array.from(g.bytes) });
  }

  #dropPacket(events: Df7Event[] | null, why: string): void {
    const n = this.#packet.length;
    const start = this.#packetStart;
    this.#packet = [];
    this.counters.badPackets++;
    this.#pendingDrop = `${this.#source} packet at byte ${start}: ${why} (${n} of ${FRAMES_PER_PACKET} frames)`;
    if (events) this.#flushDrop(events);
  }

  #pendingDrop: string | null = null;

  #flushDrop(events: Df7Event[]): void {
    if (this.#pendingDrop) {
      events.push({ type: 'error', reason: this.#pendingDrop, raw: new Uint8Array(0) });
      this.#pendingDrop = null;
    }
  }

  #frame(f: Uint8Array, at: number, events: Df7Event[]): void {
    this.#flushDrop(events);
    const sync = (f[0]! & 0x01) === 1;
    if (sync) {
      if (this.#packet.length > 0) this.#dropPacket(events, `${this.#packet.length} frames before the next SYNC, expected ${FRAMES_PER_PACKET}`);
      this.#packet = [f];
      this.#packetStart = at;
      return;
    }
    if (this.#packet.length === 0) {
      // A frame outside any packet: normal while joining mid-stream, an error once in step.
      if (this.#synced) {
        this.counters.badFrames++;
        events.push({ type: 'error', reason: `${this.#source} byte ${at}: frame without SYNC where a packet should start`, raw: f });
      }
      return;
    }
    this.#packet.push(f);
    if (this.#packet.length === FRAMES_PER_PACKET) {
      this.#synced = true;
      this.counters.packets++;
      events.push(this.#decodePacket(this.#packet));
      this.#packet = [];
    }
  }

  #decodePacket(frames: Uint8Array[]): Df7Event {
    const b4 = (n: number): number => frames[n - 1]![3]!;
    const pr = ((b4(1) & 0x03) << 7) | (b4(2) & 0x7f);
    const spo2 = b4(3);
    let flags = 0;
    for (const f of frames) flags |= f[0]!;
    const perf = (frames[frames.length - 1]![0]! >> 1) & 0x03;
    return {
      type: 'packet',
      packetIndex: this.counters.packets,
      pulseRate: pr === MISSING_PR ? null : pr,
      spo2: spo2 === MISSING_SPO2 || spo2 > 100 ? null : spo2,
      flags: {
        sensorDisconnected: (flags & 0x40) !== 0,
        artifact: (flags & 0x20) !== 0,
        outOfTrack: (flags & 0x10) !== 0,
        sensorAlarm: (flags & 0x08) !== 0,
        perfusion: (['none', 'green', 'red', 'yellow'] as const)[perf]!,
      },
    };
  }
}

/** Canonical readings of one packet: SpO2 and pulse rate, each only when the device reported it. */
export function df7Readings(ev: Extract<Df7Event, { type: 'packet' }>, ctx: { deviceId: string; patient: string; receivedAt: number }): Reading[] {
  const out: Reading[] = [];
  const make = (kind: 'spo2' | 'pulse_rate', value: number): Reading => {
    const k = READING_KINDS[kind];
    return { deviceId: ctx.deviceId, patient: ctx.patient, kind, mdc: k.mdc, loinc: k.loinc, value, unit: k.unit, deviceTime: null, receivedAt: ctx.receivedAt, deviceSeq: ev.packetIndex, source: 'serial' };
  };
  if (ev.spo2 !== null) out.push(make('spo2', ev.spo2));
  if (ev.pulseRate !== null) out.push(make('pulse_rate', ev.pulseRate));
  return out;
}
