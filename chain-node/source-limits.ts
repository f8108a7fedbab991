/**
 * Per-source bounds for an anonymous network: a token bucket per source address (requests per
 * second with a burst), in a table that is itself bounded (the least recently seen source is
 * forgotten first, and comes back with a full bucket — the bound is on memory, not on fairness).
 */
export class SourceBuckets {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly ratePerS: number,
    readonly burst: number,
    readonly now: () => number = Date.now,
    readonly maxSources = 4096,
  ) {}

  /** Takes one token for `source`; false when its bucket is empty. */
  take(source: string): boolean {
    const t = this.now();
    let b = this.#buckets.get(source);
    if (b) this.#buckets.delete(source);
    else b = { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.ratePerS);
    b.at = t;
    this.#buckets.set(source, b);
    while (this.#buckets.size > this.maxSources) this.#buckets.delete(this.#buckets.keys().next().value as string);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** A bounded map from key to value with an expiry time; the oldest insert goes first when full. */
export class ExpiringTable<V> {
  readonly #m = new Map<string, { v: V; until: number }>();
  constructor(readonly max: number, readonly now: () => number = Date.now) {}

  get(k: string): V | undefined {
    const e = this.#m.get(k);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.#m.delete(k);
      return undefined;
    }
    return e.v;
  }

  set(k: string, v: V, ttlMs: number): void {
    this.#m.delete(k);
    this.#m.set(k, { v, until: this.now() + ttlMs });
    while (this.#m.size > this.max) this.#m.delete(this.#m.keys().next().value as string);
  }

  delete(k: string): void {
    this.#m.delete(k);
  }

  get size(): number {
    return this.#m.size;
  }
}
