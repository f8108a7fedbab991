/**
 * Resolves a chain node's BLS key from the on-chain registry, cached briefly so receipts do not cost
 * a JSON-RPC call each, yet a revocation is seen within the cache lifetime.
 */
import { ethers } from 'ethers';
import { RegistryClient } from '../contracts/clients';
import type { NodeKeyResolver } from './chain-client';

export class RegistryNodeKeys implements NodeKeyResolver {
  readonly #registry: RegistryClient;
  readonly #cache = new Map<string, { key: Uint8Array; until: number }>();

  constructor(rpcUrl: string, registryAddress: string, readonly ttlMs = 30_000) {
    const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
    this.#registry = new RegistryClient(provider, registryAddress);
  }

  async nodeBlsKey(nodeId: string): Promise<Uint8Array> {
    const hit = this.#cache.get(nodeId);
    if (hit && hit.until > Date.now()) return hit.key;
    const e = await this.#registry.getEntry(nodeId);
    if (!e) throw new Error(`chain node ${nodeId} is not in the registry`);
    if (e.role !== 'node') throw new Error(`registry entry ${nodeId} is a ${e.role}, not a chain node`);
    if (!e.active) throw new Error(`chain node ${nodeId} is revoked in the registry`);
    this.#cache.set(nodeId, { key: e.blsPublicKey, until: Date.now() + this.ttlMs });
    return e.blsPublicKey;
  }
}
