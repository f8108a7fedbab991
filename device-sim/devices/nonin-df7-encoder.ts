/**
 * Encoder for the Nonin data format 7 stream, written from the published layout (and independently
 * of the gateway's decoder): 25 frames of 5 bytes per packet, SYNC bit on frame 1, pleth in bytes
 * 2–3, byte 4 multiplexed by frame number, byte 5 the mod-256 sum of bytes 1–4.
 */
export interface Df7PacketInput {
  spo2: number | null;
  pulseRate: number | null;
  /** 25 pleth samples, 0..65535. */
  pleth: readonly number[];
  sensorDisconnected?: boolean;
  artifact?: boolean;
  outOfTrack?: boolean;
  sensorAlarm?: boolean;
  perfusion?: 'none' | 'green' | 'red' | 'yellow';
  firmwareRevision?: number;
}

const PERFUSION_BITS = { none: 0, green: 1, red: 2, yellow: 3 } as const;

export function encodeDf7Packet(p: Df7PacketInput): Uint8Array {
  if (p.pleth.length !== 25) throw new RangeError(`a packet carries 25 pleth samples, got ${p.pleth.length}`);
  const pr = p.pulseRate === null ? 511 : p.pulseRate;
  const spo2 = p.spo2 === null ? 127 : p.spo2;
  if (!Number.isInteger(pr) || pr < 0 || pr > 511) throw new RangeError(`pulse rate ${pr} does not fit 9 bits`);
  if (!Number.isInteger(spo2) || spo2 < 0 || spo2 > 127) throw new RangeError(`SpO2 ${spo2} does not fit 7 bits`);
  const status =
    0x80 |
    (p.sensorDisconnected ? 0x40 : 0) |
    (p.artifact ? 0x20 : 0) |
    (p.outOfTrack ? 0x10 : 0) |
    (p.sensorAlarm ? 0x08 : 0) |
    (PERFUSION_BITS[p.perfusion ?? 'green'] << 1);
  const out = new Uint8Array(125);
  for (let f = 1; f <= 25; f++) {
    let b4 = 0;
    if (f === 1) b4 = (pr >> 7) & 0x03;
    else if (f === 2) b4 = pr & 0x7f;
    else if (f === 3 || f === 9 || f === 10 || f === 11) b4 = spo2; // SpO2, SpO2-D, fast, beat-to-beat
    else if (f === 4) b4 = (p.firmwareRevision ?? 0x2a) & 0x7f;
    const pleth = Math.max(0, Math.min(65535, Math.round(p.pleth[f - 1]!)));
    const b1 = status | (f === 1 ? 0x01 : 0);
    const b2 = pleth >> 8;
    const b3 = pleth & 0xff;
    const o = (f - 1) * 5;
    out[o] = b1;
    out[o + 1] = b2;
    out[o + 2] = b3;
    out[o + 3] = b4;
    out[o + 4] = (b1 + b2 + b3 + b4) & 0xff;
  }
  return out;
}
