/**
 * Decoder for the Contec CMS50D+ pulse oximeter's live stream (19200 baud, 8 data bits, odd
 * parity, 1 stop bit).
 *
 * Frames of 5 bytes at 60 per second. Only byte 0 has bit 7 set — that is the whole framing: there
 * is no checksum, so the decoder checks structure and ranges instead.
 *   byte 0  bit7 = 1 (sync), bit6 beep (pulse beat), bit5 SpO2 dropping, bit4 finger out,
 *           bits 3–0 signal strength
 *   byte 1  pleth, 0–127
 *   byte 2  bit6 pulse-rate bit 7, bit5 searching, bit4 probe error, bits 3–0 bar graph
 *   byte 3  pulse-rate bits 6–0
 *   byte 4  SpO2, 0–100 (127: no value)
 * A pulse rate of 255 means no value; so does anything while the finger is out or the device is
 * searching.
 *
 * One group of values per 60 frame slots (a second of stream): SpO2 and pulse rate from the last
 * usable frame of that second, and the union of its flags in words. A frame cut short (a byte with
 * bit 7 arriving early), a value out of range, or bytes without a sync byte before them are refused
 * with a reason naming the source and the byte offset; consecutive refusals are reported as one.
 * Never throws on input; holds at most one frame in memory.
 */
import type { DecodedEvent, SerialDecoder } from './serial-decoder';

export const CONTEC_FRAME_LEN = 5;
export const CONTEC_FRAMES_PER_S = 60;
const MISSING_PR = 255;
const MISSING_SPO2 = 127;
const MAX_PR = 250; // the CMS50D+ measures 30–250/min

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;

interface Frame {
  fingerOut: boolean;
  spo2Dropping: boolean;
  probeError: boolean;
  searching: boolean;
  spo2: number | null;
  pulseRate: number | null;
}

export class ContecCms50dDecoder implements SerialDecoder {
  readonly counters = { frames: 0, badFrames: 0, seconds: 0, skippedBytes: 0 };
  readonly #source: string;
  /** The frame being read, and the stream offset of its first byte. */
  #cur: number[] = [];
  #curAt = 0;
  #offset = 0;
  /** Frame slots (usable or refused) in the current second, and what it saw. */
  #slots = 0;
  #last: { spo2: number | null; pulseRate: number | null } | null = null;
  #flags = { fingerOut: false, spo2Dropping: false, probeError: false, searching: false };
  #usable = 0;
  /** An open run of refused bytes, reported as one error when a good frame follows. */
  #run: { start: number; reason: string; bytes: number[]; length: number } | null = null;
  #seenFrame = false;

  constructor(opts: { source: string }) {
    this.#source = opts.source;
  }

  push(chunk: Uint8Array): DecodedEvent[] {
    const out: DecodedEvent[] = [];
    for (const b of chunk) {
      const at = this.#offset++;
      if (b & 0x80) {
        if (this.#cur.length > 0) this.#refuse(this.#cur, this.#curAt, `frame cut short after ${this.#cur.length} byte${this.#cur.length === 1 ? '' : 's'} (a sync byte ${hex2(b)} came early)`, out);
        this.#cur = [b];
        this.#curAt = at;
        continue;
      }
      if (this.#cur.length === 0) {
        // A byte with no sync byte before it: joining mid-frame at start, noise later.
        if (this.#seenFrame || this.#run) this.#refuse([b], at, `byte ${hex2(b)} outside a frame`, out, false);
        else this.counters.skippedBytes++;
        continue;
      }
      this.#cur.push(b);
      if (this.#cur.length === CONTEC_FRAME_LEN) {
        const f = this.#cur;
        this.#cur = [];
        const parsed = parseFrame(f);
        if (typeof parsed === 'string') this.#refuse(f, this.#curAt, parsed, out);
        else this.#frame(parsed, out);
      }
    }
    return out;
  }

  #refuse(bytes: number[], at: number, reason: string, out: DecodedEvent[], slot = true): void {
    if (!this.#run) {
      this.#run = { start: at, reason, bytes: [], length: 0 };
      this.counters.badFrames++;
    }
    this.#run.length += bytes.length;
    this.counters.skippedBytes += bytes.length;
    for (const b of bytes) if (this.#run.bytes.length < 64) this.#run.bytes.push(b);
    if (slot) this.#slot(out);
  }

  #closeRun(out: DecodedEvent[]): void {
    const r = this.#run;
    if (!r) return;
    this.#run = null;
    out.push({ type: 'error', reason: `${this.#source} byte ${r.start}: ${r.reason}; ${r.length} byte${r.length === 1 ? '' : 's'} refused`, raw: Uint8Array.from(r.bytes) });
  }

  #frame(f: Frame, out: DecodedEvent[]): void {
    this.#closeRun(out);
    this.#seenFrame = true;
    this.counters.frames++;
    this.#flags.fingerOut ||= f.fingerOut;
    this.#flags.spo2Dropping ||= f.spo2Dropping;
    this.#flags.probeError ||= f.probeError;
    this.#flags.searching ||= f.searching;
    this.#usable++;
    this.#last = { spo2: f.spo2, pulseRate: f.pulseRate };
    this.#slot(out);
  }

  /** One frame slot used; after a second's worth, the second's group goes out. */
  #slot(out: DecodedEvent[]): void {
    if (++this.#slots < CONTEC_FRAMES_PER_S) return;
    this.#slots = 0;
    this.counters.seconds++;
    const last = this.#last;
    const flags = this.#flags;
    const usable = this.#usable;
    this.#last = null;
    this.#usable = 0;
    this.#flags = { fingerOut: false, spo2Dropping: false, probeError: false, searching: false };
    if (usable === 0) return; // nothing but refused frames: those were reported
    const values: Array<{ kind: 'spo2' | 'pulse_rate'; value: number }> = [];
    if (last?.spo2 != null) values.push({ kind: 'spo2', value: last.spo2 });
    if (last?.pulseRate != null) values.push({ kind: 'pulse_rate', value: last.pulseRate });
    const exceptions = [flags.fingerOut && 'finger out', flags.probeError && 'probe error', flags.searching && 'pulse search'].filter((x): x is string => typeof x === 'string');
    out.push({ type: 'readings', seq: this.counters.seconds, deviceTime: null, values, alarms: flags.spo2Dropping ? ['SpO2 dropping'] : [], exceptions });
  }
}

/** A complete 5-byte frame (sync rule already holds), or why its values are impossible. */
function parseFrame(f: number[]): Frame | string {
  const [b0, , b2, b3, b4] = f as [number, number, number, number, number];
  const fingerOut = (b0 & 0x10) !== 0;
  const searching = (b2 & 0x20) !== 0;
  const probeError = (b2 & 0x10) !== 0;
  const pr = ((b2 & 0x40) << 1) | b3;
  if (b4 > 100 && b4 !== MISSING_SPO2) return `SpO2 ${b4} outside 0..100 (127 = no value)`;
  if (pr > MAX_PR && pr !== MISSING_PR) return `pulse rate ${pr} outside 0..${MAX_PR}`;
  const noValue = fingerOut || searching || probeError;
  return {
    fingerOut,
    spo2Dropping: (b0 & 0x20) !== 0,
    probeError,
    searching,
    spo2: noValue || b4 === MISSING_SPO2 || b4 === 0 ? null : b4,
    pulseRate: noValue || pr === MISSING_PR || pr === 0 ? null : pr,
  };
}
