/**
 * Every access a chain node serves to a data user is recorded on chain (AccessLog) before the data
 * leaves the node. Accesses are group-committed: those that arrive within `lingerMs` of each other,
 * or while a transaction is under way, go together in one recordAccesses transaction (up to
 * `maxPerTx`), so the trace costs a few thousand gas per access instead of a transaction each.
 * Each caller learns the transaction that holds its access and whether the chain recorded it (its
 * grant was still valid when the transaction ran); an access the chain refused is not served.
 */
import type { AccessLogClient, AccessRecord } from '../../contracts/clients';

export interface RecordedAccess {
  readonly txHash: string;
  readonly blockNumber: number;
  /** false: the chain logged AccessRefused (grant revoked or expired meanwhile). */
  readonly recorded: boolean;
}

interface Pending {
  readonly access: AccessRecord;
  resolve(r: RecordedAccess): void;
  reject(e: Error): void;
}

export class AccessRecorder {
  readonly #queue: Pending[] = [];
  #busy = false;
  readonly stats = { transactions: 0, accesses: 0, refusedOnChain: 0, maxPerTx: 0, gasUsed: 0, failures: 0 };

  constructor(readonly client: Pick<AccessLogClient, 'recordAccesses'>, readonly opts: { lingerMs?: number; maxPerTx?: number } = {}) {}

  record(access: AccessRecord): Promise<RecordedAccess> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ access, resolve, reject });
      if (!this.#busy) {
        this.#busy = true;
        setTimeout(() => void this.#drain(), this.opts.lingerMs ?? 100);
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue.splice(0, this.opts.maxPerTx ?? 200);
        try {
          const r = await this.client.recordAccesses(group.map((p) => p.access));
          this.stats.transactions++;
          this.stats.accesses += group.length;
          this.stats.gasUsed += Number(r.gasUsed);
          this.stats.maxPerTx = Math.max(this.stats.maxPerTx, group.length);
          group.forEach((p, i) => {
            if (!r.recorded[i]) this.stats.refusedOnChain++;
            p.resolve({ txHash: r.txHash, blockNumber: r.blockNumber, recorded: r.recorded[i] === true });
          });
        } catch (err) {
          this.stats.failures++;
          for (const p of group) p.reject(err as Error);
        }
      }
    } finally {
      this.#busy = false;
    }
  }
}
