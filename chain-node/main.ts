/**
 * Starts one chain node: its keys, the registry and anchor contracts on the configured chain, the
 * ciphertext store and the HTTP API.
 */
import { join } from 'node:path';
import { ethers } from 'ethers';
import { AnchorClient, RegistryClient } from '../contracts/clients';
import { AnchorBatcher } from './anchor-batcher';
import { BatchStore } from './batch-store';
import type { ChainNodeConfig } from './config';
import { startHttpApi } from './http-api';
import { loadChainNodeIdentity } from './identity';
import { BatchIngest, type GatewayRecord, type RegistryView } from './ingest';

export interface RunningChainNode {
  readonly url: string;
  readonly port: number;
  readonly ingest: BatchIngest;
  stop(): Promise<void>;
}

/** Gateway keys from the registry, cached for a short time (revocations are seen within `ttlMs`). */
class CachedRegistryView implements RegistryView {
  readonly #cache = new Map<string, { rec: GatewayRecord | undefined; until: number }>();
  constructor(readonly client: RegistryClient, readonly ttlMs = 10_000) {}

  async gateway(id: string): Promise<GatewayRecord | undefined> {
    const hit = this.#cache.get(id);
    if (hit && hit.until > Date.now()) return hit.rec;
    const e = await this.client.getEntry(id);
    const rec = e && e.role === 'gateway' ? { blsPublicKey: e.blsPublicKey, active: e.active } : undefined;
    this.#cache.set(id, { rec, until: Date.now() + this.ttlMs });
    return rec;
  }
}

export async function runChainNode(cfg: ChainNodeConfig, log: (level: 'info' | 'warn', msg: string) => void): Promise<RunningChainNode> {
  const id = loadChainNodeIdentity(cfg.dataDir);
  const provider = new ethers.JsonRpcProvider(cfg.chain.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 250 });
  const signer = new ethers.NonceManager(id.operator.connect(provider));
  const registry = new RegistryClient(provider, cfg.chain.registry);
  const me = await registry.getEntry(cfg.nodeId);
  if (!me || me.role !== 'node') throw new Error(`node id ${cfg.nodeId} is not registered as a chain node`);
  if (me.operator.toLowerCase() !== id.operatorAddress.toLowerCase()) throw new Error(`registry lists operator ${me.operator} for ${cfg.nodeId}, this node's key is ${id.operatorAddress}`);
  const anchors = new AnchorBatcher(new AnchorClient(signer, cfg.chain.anchor));
  const ingest = new BatchIngest({
    nodeId: cfg.nodeId,
    blsSecretKey: id.bls.secretKey,
    registry: new CachedRegistryView(registry),
    anchors,
    store: new BatchStore(join(cfg.dataDir, 'batches')),
    log,
  });
  const api = await startHttpApi({ host: cfg.host, port: cfg.port, nodeId: cfg.nodeId, ingest, log });
  return {
    url: api.url,
    port: api.port,
    ingest,
    stop: async () => {
      await api.close();
      provider.destroy();
    },
  };
}
