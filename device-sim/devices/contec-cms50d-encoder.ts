/**
 * The simulator's Contec CMS50D+ live stream (gateway/decoders/contec-cms50d.ts reads it): 5-byte
 * frames at 60 per second, only the first byte of each with bit 7 set, no checksum. The line runs at
 * 19200 baud, 8 data bits, odd parity (parity is the UART's business: on a pseudo-terminal it only
 * has to be configured alike on both ends).
 */
export interface ContecFrame {
  /** 0–127. */
  pleth: number;
  /** null: no value (sent as 127 / 255, as the device does). */
  spo2: number | null;
  pulseRate: number | null;
  /** 0–15. */
  signal?: number;
  /** 0–15. */
  bar?: number;
  beep?: boolean;
  spo2Dropping?: boolean;
  fingerOut?: boolean;
  probeError?: boolean;
  searching?: boolean;
}

const nib = (n: number | undefined): number => Math.max(0, Math.min(15, Math.round(n ?? 0)));

export function encodeContecFrame(f: ContecFrame): Uint8Array {
  const pr = f.pulseRate === null ? 255 : Math.max(0, Math.min(255, Math.round(f.pulseRate)));
  const spo2 = f.spo2 === null ? 127 : Math.max(0, Math.min(100, Math.round(f.spo2)));
  return Uint8Array.of(
    0x80 | (f.beep ? 0x40 : 0) | (f.spo2Dropping ? 0x20 : 0) | (f.fingerOut ? 0x10 : 0) | nib(f.signal),
    Math.max(0, Math.min(127, Math.round(f.pleth))),
    ((pr & 0x80) >> 1) | (f.searching ? 0x20 : 0) | (f.probeError ? 0x10 : 0) | nib(f.bar),
    pr & 0x7f,
    spo2,
  );
}

/**
 * One second of stream: 60 frames carrying the same SpO2 and pulse rate, the pleth resampled to
 * 60 samples and scaled to 0–127, a beep on each beat (the pleth's rising zero crossing).
 */
export function encodeContecSecond(s: { spo2: number | null; pulseRate: number | null; pleth: readonly number[]; fingerOut?: boolean }): Uint8Array {
  const out = new Uint8Array(60 * 5);
  const lo = Math.min(...s.pleth);
  const span = Math.max(1, Math.max(...s.pleth) - lo);
  let prev = 0;
  for (let i = 0; i < 60; i++) {
    const x = s.pleth[Math.min(s.pleth.length - 1, Math.floor((i * s.pleth.length) / 60))]!;
    const p = s.fingerOut ? 0 : ((x - lo) / span) * 127;
    const rising = p >= 64 && prev < 64;
    prev = p;
    out.set(encodeContecFrame({ pleth: p, spo2: s.fingerOut ? null : s.spo2, pulseRate: s.fingerOut ? null : s.pulseRate, signal: s.fingerOut ? 0 : 8, bar: Math.round((p / 127) * 15), beep: rising, fingerOut: s.fingerOut }), i * 5);
  }
  return out;
}
