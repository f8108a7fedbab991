/**
 * The batching window: collects readings and closes a batch when it holds `maxCount` readings or its
 * oldest reading is `maxAgeMs` old, whichever comes first. Also closed on demand (flush), e.g. when
 * the gateway drains before stopping. Closing hands the readings to `onClose`, in arrival order.
 */
export interface BatchWindowOptions<T> {
  maxCount: number;
  maxAgeMs: number;
  onClose: (items: T[]) => void;
  /** Injected for tests; defaults to global timers. */
  setTimer?: (fn: () => void, ms: number) => { unref?: () => void };
  clearTimer?: (t: unknown) => void;
}

export class BatchWindow<T> {
  #readings: T[] = [];
  #timer: unknown = null;
  readonly #opts: BatchWindowOptions<T>;

  constructor(opts: BatchWindowOptions<T>) {
    if (!Number.isInteger(opts.maxCount) || opts.maxCount < 1 || opts.maxCount > 100_000) throw new RangeError(`maxCount ${opts.maxCount}: expected an integer from 1 to 100000`);
    if (!Number.isFinite(opts.maxAgeMs) || opts.maxAgeMs < 10 || opts.maxAgeMs > 86_400_000) throw new RangeError(`maxAgeMs ${opts.maxAgeMs}: expected 10 ms to 24 h`);
    this.#opts = opts;
  }

  get size(): number {
    return this.#readings.length;
  }

  add(r: T): void {
    this.#readings.push(r);
    if (this.#readings.length >= this.#opts.maxCount) {
      this.flush();
    } else if (this.#timer === null) {
      const set = this.#opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
      this.#timer = set(() => {
        this.#timer = null;
        this.flush();
      }, this.#opts.maxAgeMs);
    }
  }

  flush(): void {
    this.#cancelTimer();
    if (this.#readings.length === 0) return;
    const closed = this.#readings;
    this.#readings = [];
    this.#opts.onClose(closed);
  }

  /** Stops the timer; readings still held are returned, not sealed. */
  close(): T[] {
    this.#cancelTimer();
    const left = this.#readings;
    this.#readings = [];
    return left;
  }

  #cancelTimer(): void {
    if (this.#timer !== null) {
      (this.#opts.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout)))(this.#timer);
      this.#timer = null;
    }
  }
}
