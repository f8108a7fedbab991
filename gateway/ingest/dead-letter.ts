/**
 * Dead letters: input the gateway refused, kept aside with the reason instead of being dropped.
 *
 * One JSON line per refused input: when, from where, why, and the raw bytes (hex), so an engineer can
 * see exactly what a device sent. Appends are synchronous: refusals are rare and must not be lost.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DeadLetter {
  readonly at: number;
  readonly source: string;
  readonly reason: string;
  readonly raw?: Uint8Array;
}

export class DeadLetterFile {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  add(d: DeadLetter): void {
    const line = JSON.stringify({
      at: new Date(d.at).toISOString(),
      source: d.source,
      reason: d.reason,
      raw: d.raw ? Buffer.from(d.raw).toString('hex') : undefined,
    });
    appendFileSync(this.path, line + '\n');
  }
}
