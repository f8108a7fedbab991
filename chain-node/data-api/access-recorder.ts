/**
 * Every access a chain node serves to a data user is recorded on chain (AccessLog) before the data
 * leaves the node. Accesses are group-committed, so the trace costs a few thousand gas per access
 * instead of a transaction each (recordAccesses: ~34,000 gas per transaction plus ~3,900 per
 * access; bench/share), without making a lone user wait for company:
 *
 *   - one transaction at a time (the operator's nonces stay in order); while it is under way the
 *     accesses that arrive gather, and go together in the next transaction once it is mined;
 *   - when no transaction is under way, the gathered accesses are sent as soon as no other query
 *     is on its way: the data API announces a query (`announce()`) when its user's session is
 *     made (DataApi.expectQuery; withdrawn if no query comes within a second) or else when it
 *     arrives, and the announcement ends when the query records its access or is refused. So the
 *     users of a burst, who make their handshakes together and then query one by one, join one
 *     group, and a user alone is sent at once (`quietMs`, default 0, would keep a group open that
 *     long after its last access besides);
 *   - at the latest `maxWaitMs` after a group's first access (default 1.5 s: a slow check or a
 *     steady stream of arrivals does not hold a group back longer), and at once when it holds
 *     `maxPerTx` accesses (default 200).
 *
 * A user alone waits only for its transaction. Each caller learns the transaction that holds its
 * access and whether the chain recorded it (its grant was still valid when the transaction ran);
 * an access the chain refused, or whose transaction failed, is not served.
 */
import type { AccessLogClient, AccessRecord } from '../../contracts/clients';

export interface RecordedAccess {
  readonly txHash: string;
  readonly blockNumber: number;
  /** false: the chain logged AccessRefused (grant revoked or expired meanwhile). */
  readonly recorded: boolean;
}

export interface AccessRecorderOptions {
  /** How long a group stays open after its last access joined, once no query is being checked (default 0: sent at once). */
  readonly quietMs?: number;
  readonly maxWaitMs?: number;
  readonly maxPerTx?: number;
  /** Injected for tests: the clock and the timer. */
  readonly now?: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

/** A query on its way to the recorder: it records its access, or withdraws (refused in its checks). */
export interface AccessTicket {
  record(access: AccessRecord): Promise<RecordedAccess>;
  /** Nothing to record (refused, failed); a no-op once recorded. */
  withdraw(): void;
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
  /** Queries announced and still being checked. */
  #arriving = 0;
  /** When the last access joined the gathering group. */
  #lastAt = 0;
  #timer: { cancel(): void } | null = null;
  readonly stats = { transactions: 0, accesses: 0, refusedOnChain: 0, maxPerTx: 0, gasUsed: 0, failures: 0 };

  constructor(readonly client: Pick<AccessLogClient, 'recordAccesses'>, readonly opts: AccessRecorderOptions = {}) {}

  get #now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** A query has arrived and is being checked: a group gathering now waits for it (up to maxWaitMs). */
  announce(): AccessTicket {
    let open = true;
    this.#arriving++;
    const close = (): boolean => {
      if (!open) return false;
      open = false;
      this.#arriving--;
      return true;
    };
    return {
      record: (access) => {
        if (!close()) return Promise.reject(new Error('this ticket was already used or withdrawn'));
        return this.#enqueue(access);
      },
      withdraw: () => {
        if (close()) this.#schedule();
      },
    };
  }

  /** Records one access (as a query that was not announced). */
  record(access: AccessRecord): Promise<RecordedAccess> {
    return this.#enqueue(access);
  }

  #enqueue(access: AccessRecord): Promise<RecordedAccess> {
    return new Promise((resolve, reject) => {
      const at = this.#now;
      this.#queue.push({ access, at, resolve, reject });
      this.#lastAt = at;
      this.#schedule();
    });
  }

  /** Sends the gathered group when it is due; else (re)arms the timer for when it will be. */
  #schedule(): void {
    if (this.#inFlight || this.#queue.length === 0) return;
    this.#timer?.cancel();
    this.#timer = null;
    const now = this.#now;
    const untilMax = (this.opts.maxWaitMs ?? 1500) - (now - this.#queue[0]!.at);
    // Queries still being checked: wait for them (they record or withdraw), but no longer than maxWaitMs.
    const left = this.#arriving > 0 ? untilMax : Math.min(untilMax, (this.opts.quietMs ?? 0) - (now - this.#lastAt));
    if (this.#queue.length >= (this.opts.maxPerTx ?? 200) || left <= 0) {
      void this.#send();
      return;
    }
    const set =
      this.opts.setTimer ??
      ((fn, ms) => {
        const h = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(h) };
      });
    this.#timer = set(() => {
      this.#timer = null;
      this.#schedule();
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
      // Those that gathered meanwhile: sent now, or when the queries still being checked have arrived.
      this.#schedule();
    }
  }
}
