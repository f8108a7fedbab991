/**
 * The registry as the handshake and ingest see it: records fetched from the Registry contract and
 * cached for `ttlMs`, so a handshake or a batch costs no JSON-RPC call in the common case while a
 * rotation or revocation is seen within the cache lifetime. `fetch` is async (chain); `lookup` is
 * the synchronous view protocol/handshake needs, answering only from fresh cache entries.
 *
 * The cache is bounded (the ids come from anonymous peers): registered records and "not
 * registered" answers live in two separate LRU tables, so a flood of distinct unknown ids can only
 * evict other unknown ids, never a registered party. An id that is not a party id by syntax
 * (protocol/party-id.ts) is answered "not registered" without any call; concurrent fetches of one
 * id share one call.
 */
import { isPartyId } from '../protocol/party-id';
import type { Registry, RegistryRecord } from '../protocol/handshake/registry';
import type { RegistryEntrySource } from './registry-reader';

interface Entry {
  rec: RegistryRecord | undefined;
  at: number;
}

export interface ChainRegistryLimits {
  /** Registered records kept (default 4096). */
  maxRecords?: number;
  /** "Not registered" answers kept (default 1024). */
  maxNegative?: number;
}

/** A Map used as an LRU: a read moves the key to the end, an insert past the bound drops the oldest. */
class Lru<V> {
  readonly #m = new Map<string, V>();
  constructor(readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.#m.get(k);
    if (v !== undefined) {
      this.#m.delete(k);
      this.#m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.#m.delete(k);
    this.#m.set(k, v);
    while (this.#m.size > this.max) this.#m.delete(this.#m.keys().next().value as string);
  }
  delete(k: string): void {
    this.#m.delete(k);
  }
  get size(): number {
    return this.#m.size;
  }
}

export class ChainRegistry implements Registry {
  readonly #records: Lru<Entry>;
  readonly #negative: Lru<Entry>;
  readonly #inFlight = new Map<string, Promise<RegistryRecord | undefined>>();
  /** JSON-RPC lookups made (cache misses), for the metrics and tests. */
  chainLookups = 0;

  constructor(readonly client: RegistryEntrySource, readonly ttlMs = 10_000, readonly now: () => number = Date.now, limits: ChainRegistryLimits = {}) {
    this.#records = new Lru(limits.maxRecords ?? 4096);
    this.#negative = new Lru(limits.maxNegative ?? 1024);
  }

  /** Entries cached (registered and not registered). */
  get size(): number {
    return this.#records.size + this.#negative.size;
  }

  /** An entry younger than `maxAgeMs`. */
  #fresh(id: string, maxAgeMs: number): Entry | undefined {
    const hit = this.#records.get(id) ?? this.#negative.get(id);
    return hit && this.now() - hit.at < maxAgeMs ? hit : undefined;
  }

  async fetch(id: string): Promise<RegistryRecord | undefined> {
    if (!isPartyId(id)) return undefined;
    // fetch refreshes a little before the entry expires, so a lookup right after a fetch (the
    // handshake's synchronous view) never finds it expired in between.
    const hit = this.#fresh(id, this.ttlMs * 0.8);
    if (hit) return hit.rec;
    const running = this.#inFlight.get(id);
    if (running) return running;
    const p = (async () => {
      this.chainLookups++;
      const e = await this.client.getEntry(id);
      const rec: RegistryRecord | undefined = e
        ? { id: e.id, role: e.role, epoch: e.epoch, status: e.active ? 'active' : 'revoked', blsPublicKey: e.blsPublicKey, ...(e.x25519PublicKey ? { x25519PublicKey: e.x25519PublicKey } : {}) }
        : undefined;
      const entry = { rec, at: this.now() };
      if (rec) {
        this.#negative.delete(id);
        this.#records.set(id, entry);
      } else {
        this.#records.delete(id);
        this.#negative.set(id, entry);
      }
      return rec;
    })();
    this.#inFlight.set(id, p);
    try {
      return await p;
    } finally {
      this.#inFlight.delete(id);
    }
  }

  lookup(id: string): RegistryRecord | undefined {
    return this.#fresh(id, this.ttlMs)?.rec;
  }

  invalidate(id: string): void {
    this.#records.delete(id);
    this.#negative.delete(id);
  }
}
