/**
 * Bytes onto a simulated serial line no faster than the line carries them: at `baud` with
 * 1 start bit + data bits + parity bit + stop bits per byte (9600 8N1 = 960 bytes/s), in chunks of
 * about 10 ms of line time — so the gateway reads a packet in pieces, spread over time, as it does
 * from a real UART, instead of all at once. `write` resolves when the last byte is on the line.
 */
import type { PtyPair } from './pty';

export interface LineSettings {
  baud: number;
  dataBits: number;
  parity: 'none' | 'even' | 'odd';
  stopBits: number;
}

export const bitsPerByte = (l: LineSettings): number => 1 + l.dataBits + (l.parity === 'none' ? 0 : 1) + l.stopBits;

export class LinePacer {
  readonly bytesPerS: number;
  #freeAt = 0;
  #chain: Promise<void> = Promise.resolve();

  constructor(readonly pty: Pick<PtyPair, 'write'>, readonly line: LineSettings, speed = 1, readonly now: () => number = Date.now) {
    this.bytesPerS = (line.baud / bitsPerByte(line)) * speed;
  }

  write(bytes: Uint8Array): Promise<void> {
    const run = this.#chain.then(() => this.#send(bytes));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #send(bytes: Uint8Array): Promise<void> {
    const chunk = Math.max(1, Math.round(this.bytesPerS / 100)); // ~10 ms of line time
    for (let i = 0; i < bytes.length; i += chunk) {
      const part = bytes.subarray(i, i + chunk);
      const wait = this.#freeAt - this.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      await this.pty.write(part);
      this.#freeAt = Math.max(this.now(), this.#freeAt) + (part.length / this.bytesPerS) * 1000;
    }
  }
}
