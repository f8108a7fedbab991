/**
 * Every access a chain node serves to a data user is recorded on chain (AccessLog) before the data
 * leaves the node. Accesses are group-committed, so the trace costs a few thousand gas per access
 * instead of a transaction each (recordAccesses: ~34,000 gas per transaction plus ~3,900 per
 * access; bench/share):
 *
 *   - a group opens with the first access and closes when no other access has arrived for `quietMs`
 *     (default 250 ms: a burst of users, each finishing its handshake at its own moment, lands in
 *     one group), at the latest `maxWaitMs` after its first access (default 1.5 s: nobody waits
 *     longer for a busy node), or at once when it holds `maxPerTx` accesses (default 200);
 *   - while a group's transaction is under way the next group gathers, and is sent when that
 *     transaction is mined (one transaction at a time: the operator's nonces stay in order).
 *
 * A user alone waits `quietMs` plus its transaction. Each caller learns the transaction that holds
 * its access and whether the chain recorded it (its grant was still valid when the transaction
 * ran); an access the chain refused is not served.
 */
import type { AccessLogClient, AccessRecord } from '../../contracts/clients';

export interface RecordedAccess {
  readonly txHash: string;
  readonly blockNumber: number;
  /** false: the chain logged AccessRefused (grant revoked or expired meanwhile). */
  readonly recorded: boolean;
}

export interface AccessRecorderOptions {
  readonly quietMs?: number;
  readonly maxWaitMs?: number;
  readonly maxPerTx?: number;
  /** Injected for tests: the clock and the timer. */
  readonly now?: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

interface Pending {
  readonly access: AccessRecord;
  readonly at: number;
  resolve(r: RecordedAccess): void;
  reject(e: Error): void;
}

export class AccessRecorder {
  readonly #queue: Pending[] = [];
  #inFlight = false;
  #timer: { cancel(): void } | null = null;
  readonly stats = { transactions: 0, accesses: 0, refusedOnChain: 0, maxPerTx: 0, gasUsed: 0, failures: 0 };

  constructor(readonly client: Pick<AccessLogClient, 'recordAccesses'>, readonly opts: AccessRecorderOptions = {}) {}

  get #now(): number {
    return (this.opts.now ?? Date.now)();
  }

  record(access: AccessRecord): Promise<RecordedAccess> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ access, at: this.#now, resolve, reject });
      this.#schedule();
    });
  }

  /** (Re)arms the timer that closes the gathering group; sends at once when it is full or overdue. */
  #schedule(): void {
    if (this.#inFlight || this.#queue.length === 0) return;
    this.#timer?.cancel();
    this.#timer = null;
    const max = this.opts.maxPerTx ?? 200;
    const waited = this.#now - this.#queue[0]!.at;
    const left = Math.min(this.opts.quietMs ?? 250, (this.opts.maxWaitMs ?? 1500) - waited);
    if (this.#queue.length >= max || left <= 0) {
      void this.#send();
      return;
    }
    const set = this.opts.setTimer ?? ((fn, ms) => {
      const h = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(h) };
    });
    this.#timer = set(() => {
      this.#timer = null;
      void this.#send();
    }, left);
  }

  async #send(): Promise<void> {
    if (this.#inFlight || this.#queue.length === 0) return;
    this.#inFlight = true;
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
    } finally {
      this.#inFlight = false;
      // Those that gathered meanwhile: sent when their quiet time or wait is over (at once if overdue or full).
      this.#schedule();
    }
  }
}
