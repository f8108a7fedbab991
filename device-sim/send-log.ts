/**
 * The simulator's send log: one JSON line per reading it sent, and whether the gateway acknowledged
 * it (MQTT PUBACK; for serial, the bytes were accepted by the tty). `mcps verify` compares it with
 * what is anchored on chain.
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

export interface SendLogEntry {
  deviceId: string;
  patient: string;
  kind: string;
  value: number;
  deviceSeq: number;
  sentAt: number;
  acked: boolean;
  transport: 'serial' | 'mqtt' | 'hl7';
  /** Why a reading was not acknowledged (the device gave up on it, e.g. when stopped). */
  error?: string;
  /** The device clock in the message, where it differs from sentAt (a clock fault). */
  deviceTime?: number;
  /** Faults injected into this reading (device-sim/faults.ts), comma-separated. */
  fault?: string;
  /** What the gateway should do with it; "refused" for deliberately invalid readings. */
  expect?: 'anchored' | 'refused';
}

export class SendLog {
  readonly #out: WriteStream;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.#out = createWriteStream(path, { flags: 'a' });
  }

  add(e: SendLogEntry): void {
    this.#out.write(JSON.stringify(e) + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.#out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

export function readSendLog(path: string): SendLogEntry[] {
  if (!existsSync(path)) throw new Error(`send log ${path} does not exist`);
  const out: SendLogEntry[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let e: Partial<SendLogEntry>;
      try {
        e = JSON.parse(line) as Partial<SendLogEntry>;
      } catch (err) {
        throw new Error(`send log ${path} line ${i + 1}: not JSON (${(err as Error).message})`);
      }
      if (typeof e.deviceId !== 'string' || typeof e.kind !== 'string' || !Number.isInteger(e.deviceSeq) || typeof e.acked !== 'boolean') {
        throw new Error(`send log ${path} line ${i + 1}: needs deviceId, kind, deviceSeq and acked`);
      }
      out.push(e as SendLogEntry);
    });
  return out;
}
