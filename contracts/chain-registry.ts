/**
 * The registry as the handshake and ingest see it: records fetched from the Registry contract and
 * cached for `ttlMs`, so a handshake or a batch costs no JSON-RPC call in the common case while a
 * rotation or revocation is seen within the cache lifetime. `fetch` is async (chain); `lookup` is
 * the synchronous view protocol/handshake needs, answering only from fresh cache entries.
 */
import type { Registry, RegistryRecord } from '../protocol/handshake/registry';
import type { RegistryClient } from './clients';

export class ChainRegistry implements Registry {
  readonly #cache = new Map<string, { rec: RegistryRecord | undefined; at: number }>();

  constructor(readonly client: Pick<RegistryClient, 'getEntry'>, readonly ttlMs = 10_000, readonly now: () => number = Date.now) {}

  async fetch(id: string): Promise<RegistryRecord | undefined> {
    const hit = this.#cache.get(id);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.rec;
    const e = await this.client.getEntry(id);
    const rec: RegistryRecord | undefined = e
      ? { id: e.id, role: e.role, epoch: e.epoch, status: e.active ? 'active' : 'revoked', blsPublicKey: e.blsPublicKey, ...(e.x25519PublicKey ? { x25519PublicKey: e.x25519PublicKey } : {}) }
      : undefined;
    this.#cache.set(id, { rec, at: this.now() });
    return rec;
  }

  lookup(id: string): RegistryRecord | undefined {
    const hit = this.#cache.get(id);
    return hit && this.now() - hit.at < this.ttlMs ? hit.rec : undefined;
  }

  invalidate(id: string): void {
    this.#cache.delete(id);
  }
}
