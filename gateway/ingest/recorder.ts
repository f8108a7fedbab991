/**
 * Records what the gateway receives — every chunk of bytes from a serial port, every MQTT reading
 * message and every HL7 message over MLLP, accepted or refused, with the time it arrived — to a JSONL file that
 * `mcps sim replay` plays back (format: device-sim/recording.ts). For testers and for reproducing a
 * field problem; not part of the durability path (the journal is): lines are written asynchronously.
 * The file holds patient pseudonyms and values, so it is created 0600; it stops growing at
 * `maxBytes` with one warning.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { SerialFormat } from './serial-settings';
import type { LogFn } from '../runtime';

export class Recorder {
  #out: WriteStream;
  #bytes = 0;
  #full = false;
  entries = 0;

  constructor(readonly path: string, readonly opts: { gatewayId: string; maxBytes: number; log: LogFn; now?: () => number }) {
    const fd = openSync(path, 'a', 0o600);
    this.#out = createWriteStream('', { fd });
    this.#write({ mcpsRecording: 1, gatewayId: opts.gatewayId, startedAt: this.#now() });
    opts.log('info', `recording what the gateway receives to ${path} (up to ${Math.round(opts.maxBytes / 1e6)} MB)`);
  }

  #now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  serial(e: { format: SerialFormat; deviceId: string; patient: string; data: Uint8Array }): void {
    this.#write({ t: this.#now(), src: 'serial', format: e.format, deviceId: e.deviceId, patient: e.patient, data: Buffer.from(e.data).toString('base64') });
  }

  mqtt(e: { topic: string; deviceId: string; payload: Buffer }): void {
    this.#write({ t: this.#now(), src: 'mqtt', topic: e.topic, deviceId: e.deviceId, payload: e.payload.toString('utf8') });
  }

  hl7(e: { peer: string; data: Uint8Array }): void {
    this.#write({ t: this.#now(), src: 'hl7', peer: e.peer, message: Buffer.from(e.data).toString('utf8') });
  }

  #write(x: object): void {
    if (this.#full) return;
    const line = JSON.stringify(x) + '\n';
    if (this.#bytes + line.length > this.opts.maxBytes) {
      this.#full = true;
      this.opts.log('warn', `recording ${this.path} reached its limit of ${Math.round(this.opts.maxBytes / 1e6)} MB; recording stopped (the gateway goes on)`);
      return;
    }
    this.#bytes += line.length;
    this.entries++;
    this.#out.write(line);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#out.end(() => resolve()));
  }
}
