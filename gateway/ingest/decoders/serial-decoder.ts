/**
 * What every serial decoder gives the gateway: from arbitrary chunks of a byte stream, events that
 * are either a group of values read at one moment (a Nonin packet, a Masimo line) or a refusal with
 * its reason and the raw bytes. `decoderFor` picks the decoder of a configured format;
 * `eventReadings` turns a group into canonical readings (codes and units from protocol/reading).
 */
import { READING_KINDS, type Reading, type ReadingKind } from '../../../protocol/reading';
import type { SerialFormat } from '../serial-settings';
import { MasimoAsciiDecoder } from './masimo-ascii';
import { NoninDf7Decoder } from './nonin-df7';
import { ContecCms50dDecoder } from './contec-cms50d';

export type DecodedEvent =
  | {
      type: 'readings';
      /** The device's own counter where it has one, else the decoder's count of groups since it started. */
      seq: number;
      deviceTime: number | null;
      values: Array<{ kind: ReadingKind; value: number }>;
      /** Device alarm and exception flags in words (e.g. "SpO2 low", "sensor off"), when the format has them. */
      alarms: string[];
      exceptions: string[];
    }
  | { type: 'error'; reason: string; raw: Uint8Array };

export interface SerialDecoder {
  push(chunk: Uint8Array): DecodedEvent[];
}

/** Nonin DF7 through the common interface. */
class NoninDf7Adapter implements SerialDecoder {
  readonly #d: NoninDf7Decoder;
  constructor(source: string) {
    this.#d = new NoninDf7Decoder({ source });
  }
  push(chunk: Uint8Array): DecodedEvent[] {
    return this.#d.push(chunk).map((ev): DecodedEvent => {
      if (ev.type === 'error') return ev;
      const values: Array<{ kind: ReadingKind; value: number }> = [];
      if (ev.spo2 !== null) values.push({ kind: 'spo2', value: ev.spo2 });
      if (ev.pulseRate !== null) values.push({ kind: 'pulse_rate', value: ev.pulseRate });
      const f = ev.flags;
      const exceptions = [f.sensorDisconnected && 'sensor disconnected', f.artifact && 'artefact', f.outOfTrack && 'out of track', f.sensorAlarm && 'sensor alarm'].filter((x): x is string => typeof x === 'string');
      return { type: 'readings', seq: ev.packetIndex, deviceTime: null, values, alarms: [], exceptions };
    });
  }
}

export function decoderFor(format: SerialFormat, source: string): SerialDecoder {
  switch (format) {
    case 'nonin-df7':
      return new NoninDf7Adapter(source);
    case 'masimo-ascii':
      return new MasimoAsciiDecoder({ source });
    case 'contec-cms50d':
      return new ContecCms50dDecoder({ source });
  }
}

export function eventReadings(ev: Extract<DecodedEvent, { type: 'readings' }>, ctx: { deviceId: string; patient: string; receivedAt: number }): Reading[] {
  return ev.values.map(({ kind, value }) => {
    const k = READING_KINDS[kind];
    return { deviceId: ctx.deviceId, patient: ctx.patient, kind, mdc: k.mdc, loinc: k.loinc, value, unit: k.unit, deviceTime: ev.deviceTime, receivedAt: ctx.receivedAt, deviceSeq: ev.seq, source: 'serial' };
  });
}
