/**
 * The chain node's ciphertext store: one file per batch, written durably before the batch is
 * anchored, so an anchored root always has its ciphertext beside it.
 *
 * Layout: <dir>/<gatewayId>/<seq, 12 digits>.json = { submission, receipt | null }.
 * The node cannot read the readings (they are encrypted for the data owner); it keeps the header,
 * the gateway's signature and the envelope so any data user can later verify and decrypt.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file';
import type { BatchSubmission, SignedReceipt } from '../protocol/submission';

export interface StoredBatch {
  readonly submission: BatchSubmission;
  readonly receipt: SignedReceipt | null;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;

export class BatchStore {
  constructor(readonly dir: string) {}

  #path(gatewayId: string, seq: number): string {
    if (!SAFE_ID.test(gatewayId)) throw new RangeError(`gateway id "${gatewayId}" is not a safe file name`);
    return join(this.dir, gatewayId, `${String(seq).padStart(12, '0')}.json`);
  }

  get(gatewayId: string, seq: number): StoredBatch | undefined {
    const p = this.#path(gatewayId, seq);
    if (!existsSync(p)) return undefined;
    return JSON.parse(readFileSync(p, 'utf8')) as StoredBatch;
  }

  put(gatewayId: string, seq: number, batch: StoredBatch): void {
    writeFileAtomic(this.#path(gatewayId, seq), JSON.stringify(batch));
  }

  gateways(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((d) => SAFE_ID.test(d));
  }

  /** Sequence numbers stored for a gateway, ascending. */
  sequences(gatewayId: string): number[] {
    const d = join(this.dir, gatewayId);
    if (!existsSync(d)) return [];
    return readdirSync(d)
      .filter((f) => /^\d{12}\.json$/.test(f))
      .map((f) => Number(f.slice(0, 12)))
      .sort((a, b) => a - b);
  }
}
