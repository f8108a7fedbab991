/**
 * HL7 version 2 messages, as much as a gateway reading device observations needs: segments split on
 * CR, fields on the field separator, components, repetitions and escape sequences with the encoding
 * characters the message declares in MSH-1/MSH-2. Pure; strict about structure, with errors that
 * name the segment and field.
 *
 * Why not a library: the maintained HL7 v2 packages for Node need Node 22 (node-hl7-client 4,
 * @medplum/hl7 5) while gateways run Node 20, and what a device feed needs is this small surface.
 */

export interface Hl7Encoding {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

export const DEFAULT_ENCODING: Hl7Encoding = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };

export interface Hl7Segment {
  readonly name: string;
  /** Fields by HL7 number: fields[1] is the first field after the name (for MSH, MSH-1 is the separator itself). */
  readonly fields: readonly string[];
}

export class Hl7Message {
  constructor(readonly segments: readonly Hl7Segment[], readonly encoding: Hl7Encoding) {}

  all(name: string): Hl7Segment[] {
    return this.segments.filter((s) => s.name === name);
  }

  first(name: string): Hl7Segment | undefined {
    return this.segments.find((s) => s.name === name);
  }

  /** Field `n` of a segment, raw (escapes still in). */
  raw(seg: Hl7Segment, n: number): string {
    return seg.fields[n] ?? '';
  }

  /** Components of field `n` (first repetition), unescaped: component(seg, 3)[0] is OBX-3.1. */
  components(seg: Hl7Segment, n: number): string[] {
    const firstRep = this.raw(seg, n).split(this.encoding.repetition)[0] ?? '';
    return firstRep.split(this.encoding.component).map((c) => this.unescape(c));
  }

  /** Field `n`, first repetition, first component, unescaped. */
  value(seg: Hl7Segment, n: number): string {
    return this.components(seg, n)[0] ?? '';
  }

  unescape(s: string): string {
    const e = this.encoding;
    if (!s.includes(e.escape)) return s;
    let out = '';
    for (let i = 0; i < s.length; i++) {
      if (s[i] !== e.escape) {
        out += s[i];
        continue;
      }
      const end = s.indexOf(e.escape, i + 1);
      if (end < 0) throw new Error(`an escape sequence "${s.slice(i, i + 8)}" is not closed`);
      const seq = s.slice(i + 1, end);
      const map: Record<string, string> = { F: e.field, S: e.component, T: e.subcomponent, R: e.repetition, E: e.escape };
      if (seq in map) out += map[seq];
      else if (/^X[0-9A-Fa-f]{2,}$/.test(seq) && seq.length % 2 === 1) out += Buffer.from(seq.slice(1), 'hex').toString('latin1');
      else if (seq === '.br') out += '\n';
      else throw new Error(`unknown escape sequence ${e.escape}${seq}${e.escape}`);
      i = end;
    }
    return out;
  }
}

export const MAX_HL7_MESSAGE = 1 << 20;

/** Parses one message (segments separated by CR; LF and CRLF tolerated). Throws with the place named. */
export function parseHl7(text: string): Hl7Message {
  if (text.length > MAX_HL7_MESSAGE) throw new Error(`message of ${text.length} characters, limit ${MAX_HL7_MESSAGE}`);
  const lines = text.split(/\r\n|\r|\n/).filter((l) => l.length > 0);
  if (lines.length === 0) throw new Error('empty message');
  const msh = lines[0]!;
  if (!msh.startsWith('MSH') || msh.length < 8) throw new Error(`the first segment is "${msh.slice(0, 3)}", not MSH`);
  const fieldSep = msh[3]!;
  const enc = msh.slice(4, 8);
  const encoding: Hl7Encoding = { field: fieldSep, component: enc[0]!, repetition: enc[1]!, escape: enc[2]!, subcomponent: enc[3]! };
  const chars = [encoding.field, encoding.component, encoding.repetition, encoding.escape, encoding.subcomponent];
  if (new Set(chars).size !== 5 || chars.some((c) => /[A-Za-z0-9\r\n ]/.test(c))) throw new Error(`MSH-1/MSH-2 "${msh.slice(3, 8)}" are not five distinct separator characters`);
  if (msh[8] !== undefined && msh[8] !== fieldSep) throw new Error(`MSH-2 "${msh.slice(4, 9)}" has more than four encoding characters`);
  const segments: Hl7Segment[] = lines.map((line, i) => {
    const name = line.slice(0, 3);
    if (!/^[A-Z][A-Z0-9]{2}$/.test(name) || (line.length > 3 && line[3] !== fieldSep)) throw new Error(`segment ${i + 1} "${line.slice(0, 12)}" does not start with a segment name and "${fieldSep}"`);
    if (name === 'MSH') {
      if (i !== 0) throw new Error(`segment ${i + 1}: a second MSH`);
      // MSH-1 is the field separator and MSH-2 the encoding characters; MSH-3 follows.
      const rest = line.slice(9).split(fieldSep);
      return { name, fields: ['', fieldSep, enc, ...rest] };
    }
    return { name, fields: ['', ...line.slice(4).split(fieldSep)] };
  });
  return new Hl7Message(segments, encoding);
}

/** Escapes text for a field with the default encoding characters. */
export function hl7Escape(s: string, e: Hl7Encoding = DEFAULT_ENCODING): string {
  let out = '';
  for (const ch of s) {
    if (ch === e.escape) out += `${e.escape}E${e.escape}`;
    else if (ch === e.field) out += `${e.escape}F${e.escape}`;
    else if (ch === e.component) out += `${e.escape}S${e.escape}`;
    else if (ch === e.repetition) out += `${e.escape}R${e.escape}`;
    else if (ch === e.subcomponent) out += `${e.escape}T${e.escape}`;
    else if (ch === '\r' || ch === '\n') out += ' ';
    else out += ch;
  }
  return out;
}

/** HL7 DTM (YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]) → epoch ms; without a zone, UTC. Null if not a time. */
export function parseHl7Time(s: string): number | null {
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$/.exec(s);
  if (!m) return null;
  const [y, mo = '01', d = '01', h = '00', mi = '00', sec = '00'] = m.slice(1, 7) as [string, string?, string?, string?, string?, string?];
  const n = [y, mo, d, h, mi, sec].map(Number) as [number, number, number, number, number, number];
  if (n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 || n[3] > 23 || n[4] > 59 || n[5] > 59) return null;
  const frac = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  let t = Date.UTC(n[0], n[1] - 1, n[2], n[3], n[4], n[5], frac);
  if (m[8]) {
    const sign = m[8][0] === '-' ? -1 : 1;
    const zh = Number(m[8].slice(1, 3));
    const zm = Number(m[8].slice(3, 5));
    if (zh > 14 || zm > 59) return null;
    t -= sign * (zh * 60 + zm) * 60_000;
  }
  return t;
}

/** Epoch ms → HL7 DTM in UTC with milliseconds and +0000. */
export function formatHl7Time(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0000`;
}
