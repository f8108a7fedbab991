/**
 * The live one-line status of `mcps up`: rewritten in place on a terminal, a plain line every few
 * seconds otherwise (CI logs, pipes).
 */
import type { GatewayMetrics } from '../gateway/metrics';

export function formatStatus(m: GatewayMetrics, sent: number): string {
  const tx = m.lastTx ? `${m.lastTx.slice(0, 10)}…` : '-';
  return `sent ${sent} | readings in ${m.readingsIn} (rejected ${m.readingsRejected}) | batches sealed ${m.batchesSealed} | anchored ${m.batchesAnchored} (${m.readingsAnchored} readings) | outbox ${m.outboxPending} | last tx ${tx}`;
}

export class StatusLine {
  #lastPlain = 0;
  #shown = false;
  constructor(readonly stream: NodeJS.WriteStream = process.stdout, readonly enabled = true) {}

  get isTTY(): boolean {
    return this.stream.isTTY === true;
  }

  update(text: string): void {
    if (!this.enabled) return;
    if (this.stream.isTTY) {
      const width = this.stream.columns ?? 120;
      this.stream.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
      this.#shown = true;
    } else if (Date.now() - this.#lastPlain >= 5000) {
      this.#lastPlain = Date.now();
      this.stream.write(`${text}\n`);
    }
  }

  /** Ends the in-place line so normal output continues below it. */
  clear(): void {
    if (this.#shown && this.stream.isTTY) this.stream.write('\n');
    this.#shown = false;
  }
}
