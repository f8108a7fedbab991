/**
 * The disk budget for the gateway's state (journal + outbox): a bounded amount of disk, an alarm
 * before it fills, and a documented policy at the limit (docs/operations.md, "Disk budget"):
 *
 * - below `warnFraction` of the budget: ok;
 * - from `warnFraction`: warn — logged once per crossing, shown in the metrics; nothing refused;
 * - at the budget: full — new readings are refused at the door, loudly: MQTT publishes are not
 *   acknowledged (the device keeps them and sends again later), serial readings are counted as
 *   refused and logged (a serial device cannot be asked to wait). Nothing already accepted is ever
 *   dropped to make room: sealing and forwarding go on, and receipts free the space.
 */
import type { LogFn } from '../../common/log';

export type StorageState = 'ok' | 'warn' | 'full';

export interface StorageBudgetOptions {
  budgetBytes: number;
  warnFraction?: number;
  /** Bytes in use now. */
  measure: () => number;
  log: LogFn;
  /** Re-measure at most this often (default 500 ms). */
  intervalMs?: number;
  now?: () => number;
}

export class StorageBudget {
  #state: StorageState = 'ok';
  #bytes = 0;
  #measuredAt = -Infinity;
  readonly #opts: Required<StorageBudgetOptions>;

  constructor(opts: StorageBudgetOptions) {
    if (!(opts.budgetBytes > 0)) throw new RangeError(`storage budget ${opts.budgetBytes}: expected a positive number of bytes`);
    this.#opts = { warnFraction: 0.8, intervalMs: 500, now: Date.now, ...opts };
    this.check(true);
  }

  get state(): StorageState {
    return this.#state;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get budgetBytes(): number {
    return this.#opts.budgetBytes;
  }

  /** The state now; measures again when the last measurement is older than the interval or `force`. */
  check(force = false): StorageState {
    const now = this.#opts.now();
    if (!force && now - this.#measuredAt < this.#opts.intervalMs) return this.#state;
    this.#measuredAt = now;
    this.#bytes = this.#opts.measure();
    const { budgetBytes, warnFraction } = this.#opts;
    const next: StorageState = this.#bytes >= budgetBytes ? 'full' : this.#bytes >= warnFraction * budgetBytes ? 'warn' : 'ok';
    if (next !== this.#state) {
      const mb = (n: number): string => (n / 1048576).toFixed(1);
      const what = `state database uses ${mb(this.#bytes)} MB of its ${mb(budgetBytes)} MB budget`;
      if (next === 'full') this.#opts.log('error', `storage FULL: ${what}; new readings are refused until receipts free space (MQTT devices keep theirs and resend, serial readings are counted as refused)`, { component: 'storage', event: 'storage-state', state: next, bytes: this.#bytes, budgetBytes });
      else if (next === 'warn') this.#opts.log('warn', `storage alarm: ${what} (${Math.round(warnFraction * 100)}% reached; is the chain node reachable?)`, { component: 'storage', event: 'storage-state', state: next, bytes: this.#bytes, budgetBytes });
      else this.#opts.log('info', `storage ok again: ${what}`, { component: 'storage', event: 'storage-state', state: next, bytes: this.#bytes, budgetBytes });
      this.#state = next;
    }
    return next;
  }
}

export class StorageFullError extends Error {
  constructor(bytes: number, budget: number) {
    super(`storage budget full (${bytes} of ${budget} bytes): reading refused`);
    this.name = 'StorageFullError';
  }
}
