/**
 * The simulator's Masimo "ASCII 1" line (gateway/decoders/masimo-ascii.ts reads it): what a Rad-8 /
 * Radical-5 (short) or a Radical-7 (long, with serial number and SpCO/SpMet/PVI) prints once a
 * second at 9600 baud 8N1, CR LF terminated. A null value prints as dashes, as the device does when
 * it has no reading (sensor off, pulse search).
 */
export interface MasimoSample {
  /** Device clock, ms since the epoch (printed as UTC MM/DD/YY HH:MM:SS). */
  time: number;
  spo2: number | null;
  bpm: number | null;
  pi: number | null;
  /** ALARM and EXC bitmasks (see MASIMO_ALARM_BITS / MASIMO_EXC_BITS). */
  alarm: number;
  exc: number;
}

const p2 = (n: number): string => String(n).padStart(2, '0');

export function encodeMasimoLine(s: MasimoSample, style: 'radical5' | 'radical7' = 'radical5', serial = '0123456789'): Uint8Array {
  const d = new Date(s.time);
  const when = `${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())}/${p2(d.getUTCFullYear() % 100)} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  const spo2 = s.spo2 === null ? '---%' : `${String(Math.round(s.spo2)).padStart(3, '0')}%`;
  const bpm = s.bpm === null ? '---' : String(Math.round(s.bpm)).padStart(3, '0');
  const pi = s.pi === null ? '--.--%' : `${s.pi.toFixed(2).padStart(5, '0')}%`;
  const fields =
    style === 'radical5'
      ? [`SPO2=${spo2}`, `BPM=${bpm}`, `PI=${pi}`, `ALARM=${s.alarm.toString(16).toUpperCase().padStart(2, '0')}`, `EXC=${s.exc.toString(16).toUpperCase().padStart(3, '0')}`]
      : [`SN=${serial}`, `SPO2=${spo2}`, `BPM=${bpm}`, `PI=${pi}`, 'SPCO=--.-%', 'SPMET=--.-%', 'DESAT=--', 'PIDELTA=+--', 'PVI=---', `ALARM=${s.alarm.toString(16).toUpperCase().padStart(4, '0')}`, `EXC=${s.exc.toString(16).toUpperCase().padStart(6, '0')}`];
  return Buffer.from(`${when} ${fields.join(' ')}\r\n`, 'latin1');
}
