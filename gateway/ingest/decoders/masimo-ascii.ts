/**
 * Decoder for the Masimo "ASCII 1" serial output (Rad-8, Radical-5, Radical-7): 9600 baud 8N1, one
 * line per second ending CR LF, space-separated fields after a date and time:
 *   09/15/10 15:10:29 SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800
 *   12/01/05 11:56:29 SN=0123456789 SPO2=098% BPM=240 PI=20.00% SPCO=01.0% SPMET=00.5% DESAT=01
 *     PIDELTA=-02 PVI=027 ALARM=0000 EXC=000820            (one line on the wire)
 * A value of dashes means "no value". ALARM and EXC are hexadecimal bitmasks. The lines carry no
 * checksum, so the decoder checks structure and ranges instead: a line with an unknown shape, a
 * malformed or out-of-range value, or more than 512 bytes without a line end is refused with a reason
 * naming the source, the line number and the field. It never throws on input.
 *
 * The date and time are the device's clock without a zone; they are read as UTC and kept as
 * deviceTime (receivedAt is the gateway's clock).
 */
import { READING_KINDS, type ReadingKind } from '../../../protocol/reading';
import type { DecodedEvent, SerialDecoder } from './serial-decoder';

export const MASIMO_ALARM_BITS: Readonly<Record<number, string>> = {
  0x0001: 'SpO2 high',
  0x0002: 'SpO2 low',
  0x0004: 'pulse rate high',
  0x0008: 'pulse rate low',
  0x0010: 'alarm active',
  0x0020: 'alarm silenced',
  0x0040: 'low battery',
  0x0100: 'SpCO high',
  0x0200: 'SpCO low',
  0x0400: 'SpMet high',
  0x0800: 'SpMet low',
  0x1000: 'desaturation index',
  0x2000: 'PI delta',
};

export const MASIMO_EXC_BITS: Readonly<Record<number, string>> = {
  0x001: 'no sensor',
  0x002: 'defective sensor',
  0x004: 'low perfusion',
  0x008: 'pulse search',
  0x010: 'interference',
  0x020: 'sensor off',
  0x040: 'ambient light',
  0x080: 'unrecognised sensor',
  0x400: 'low signal IQ',
  0x800: 'SET mode',
};

const MAX_LINE = 512;
/** Where a line starts: its date and time. Used to find a line glued to the tail of a cut-off one. */
const LINE_START = /\d{2}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} /g;
const LINE = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})((?: [A-Z][A-Z0-9]*=\S+)+) ?$/;

const bits = (mask: number, names: Readonly<Record<number, string>>): string[] =>
  Object.entries(names)
    .filter(([b]) => (mask & Number(b)) !== 0)
    .map(([, n]) => n);

/** A numeric field: digits with an optional decimal part and unit suffix, or dashes for "none". */
function numeric(field: string, raw: string, unit: '%' | ''): number | null | string {
  const body = unit && raw.endsWith(unit) ? raw.slice(0, -unit.length) : raw;
  if (/^-+(\.-+)?$/.test(body)) return null;
  if (!/^-?\d+(\.\d+)?$/.test(body)) return `${field}="${raw}" is not a number`;
  return Number(body);
}

export class MasimoAsciiDecoder implements SerialDecoder {
  readonly counters = { lines: 0, badLines: 0 };
  #buf = '';
  #lineNo = 0;

  constructor(readonly opts: { source: string }) {}

  push(chunk: Uint8Array): DecodedEvent[] {
    const out: DecodedEvent[] = [];
    this.#buf += Buffer.from(chunk).toString('latin1');
    for (;;) {
      const nl = this.#buf.indexOf('\n');
      if (nl < 0) {
        if (this.#buf.length > MAX_LINE) {
          this.#lineNo++;
          this.counters.badLines++;
          out.push({ type: 'error', reason: `${this.opts.source} line ${this.#lineNo}: ${this.#buf.length} bytes without a line end (limit ${MAX_LINE}); dropped`, raw: Buffer.from(this.#buf.slice(0, 64), 'latin1') });
          this.#buf = '';
        }
        return out;
      }
      let line = this.#buf.slice(0, nl).replace(/\r$/, '');
      this.#buf = this.#buf.slice(nl + 1);
      if (line.trim() === '') continue;
      // A line cut short (a loose connector, a device reset) has no line end, so the next line is
      // glued to it. Refuse the fragment and keep the whole line that follows it.
      const start = this.#lastLineStart(line);
      if (start > 0) {
        this.#lineNo++;
        this.counters.badLines++;
        const fragment = line.slice(0, start);
        out.push({ type: 'error', reason: `${this.opts.source} line ${this.#lineNo}: ${start} bytes cut off before a new line began ("${fragment.slice(0, 40).replace(/[^\x20-\x7e]/g, '.')}${fragment.length > 40 ? '…' : ''}"); dropped`, raw: Buffer.from(fragment, 'latin1') });
        line = line.slice(start);
      }
      this.#lineNo++;
      const ev = this.#line(line);
      if (ev.type === 'error') this.counters.badLines++;
      else this.counters.lines++;
      out.push(ev);
    }
  }

  #lastLineStart(line: string): number {
    let last = 0;
    LINE_START.lastIndex = 0;
    for (let m = LINE_START.exec(line); m; m = LINE_START.exec(line)) last = m.index;
    return last;
  }

  #line(line: string): DecodedEvent {
    const where = `${this.opts.source} line ${this.#lineNo}`;
    const fail = (why: string): DecodedEvent => ({ type: 'error', reason: `${where}: ${why}`, raw: Buffer.from(line, 'latin1') });
    if (line.length > MAX_LINE) return fail(`${line.length} bytes, limit ${MAX_LINE}`);
    if (/[^\x20-\x7e]/.test(line)) return fail('holds bytes that are not printable ASCII (wrong baud rate or framing?)');
    const m = LINE.exec(line);
    if (!m) return fail(`not "MM/DD/YY HH:MM:SS KEY=value …": "${line.slice(0, 40)}${line.length > 40 ? '…' : ''}"`);
    const [mo, d, y, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return fail(`date/time ${m.slice(1, 7).join(',')} out of range`);
    const deviceTime = Date.UTC(2000 + y, mo - 1, d, h, mi, s);
    const fields = new Map<string, string>();
    for (const f of m[7]!.trim().split(' ')) {
      const eq = f.indexOf('=');
      const k = f.slice(0, eq);
      if (fields.has(k)) return fail(`field ${k} appears twice`);
      fields.set(k, f.slice(eq + 1));
    }
    for (const k of ['SPO2', 'BPM']) if (!fields.has(k)) return fail(`no ${k} field`);
    const values: Array<{ kind: ReadingKind; value: number }> = [];
    const take = (key: string, kind: ReadingKind, unit: '%' | ''): string | null => {
      const raw = fields.get(key);
      if (raw === undefined) return null;
      const v = numeric(key, raw, unit);
      if (typeof v === 'string') return v;
      if (v === null) return null;
      const k = READING_KINDS[kind];
      if (v < k.min || v > k.max) return `${key}=${raw} outside ${k.min}..${k.max} ${k.unit}`;
      values.push({ kind, value: v });
      return null;
    };
    for (const [key, kind, unit] of [['SPO2', 'spo2', '%'], ['BPM', 'pulse_rate', ''], ['PI', 'perfusion_index', '%']] as const) {
      const problem = take(key, kind, unit);
      if (problem) return fail(problem);
    }
    const hexField = (key: string, lengths: number[]): number | string | null => {
      const raw = fields.get(key);
      if (raw === undefined) return null;
      if (!/^[0-9A-Fa-f]+$/.test(raw) || !lengths.includes(raw.length)) return `${key}="${raw}" is not a ${lengths.join(' or ')}-digit hexadecimal mask`;
      return parseInt(raw, 16);
    };
    const alarm = hexField('ALARM', [2, 4]);
    if (typeof alarm === 'string') return fail(alarm);
    const exc = hexField('EXC', [3, 6]);
    if (typeof exc === 'string') return fail(exc);
    return {
      type: 'readings',
      seq: this.#lineNo,
      deviceTime,
      values,
      alarms: alarm === null ? [] : bits(alarm, MASIMO_ALARM_BITS),
      exceptions: exc === null ? [] : bits(exc, MASIMO_EXC_BITS),
    };
  }
}
