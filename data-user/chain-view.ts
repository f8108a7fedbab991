/**
 * What a data user (or an auditor) reads from the chain to check an answer, with the chain as the
 * only trusted source: the gateways a hospital has registered, each gateway's BLS keys over time,
 * every batch anchored for a gateway (its header hash as the Anchor contract folded it: the Folded
 * events and their transactions' calldata, contracts/clients.ts allAnchored; the header hash binds
 * the root),
 * the head of its chain, and the AccessLog's grants and accesses.
 */
import { ethers } from 'ethers';
import { AccessLogClient, AnchorClient, RegistryClient } from '../contracts/clients';
import type { Deployment } from '../contracts/deploy';
import { idToBytes32 } from '../contracts/ids';

export interface AnchoredHeader {
  readonly headerHash: string; // hex, no 0x
  readonly txHash: string;
  readonly blockNumber: number;
}

export interface ChainView {
  gatewaysOf(hospital: string): Promise<string[]>;
  /** Every BLS key the gateway has had (registration, then rotations). */
  gatewayKeys(gatewayId: string): Promise<Uint8Array[]>;
  /** seq → what the Anchor contract holds for that batch. */
  anchored(gatewayId: string): Promise<Map<number, AnchoredHeader>>;
  head(gatewayId: string): Promise<number>;
  readonly accessLog: AccessLogClient;
}

export function chainView(provider: ethers.Provider, d: Deployment): ChainView {
  const registry = new RegistryClient(provider, d.registry);
  const anchor = new AnchorClient(provider, d.anchor, d.deployBlock);
  // One read of every anchor serves all the gateways of a check (refreshed after 5 s).
  let all: Promise<Map<string, Map<number, AnchoredHeader>>> | null = null;
  let readAt = 0;
  return {
    gatewaysOf: (h) => registry.gatewaysOf(h, d.deployBlock),
    gatewayKeys: async (g) => (await registry.keyHistory(g, d.deployBlock)).map((k) => k.blsPublicKey),
    anchored: async (g) => {
      if (Date.now() - readAt > 5000) all = null;
      readAt = all ? readAt : Date.now();
      all ??= (async () => {
        const m = new Map<string, Map<number, AnchoredHeader>>();
        for (const a of await anchor.allAnchored()) {
          let per = m.get(a.gatewayId);
          if (!per) m.set(a.gatewayId, (per = new Map()));
          per.set(a.seq, { headerHash: Buffer.from(a.headerHash).toString('hex'), txHash: a.txHash, blockNumber: a.blockNumber });
        }
        return m;
      })();
      return (await all).get(g) ?? new Map();
    },
    head: async (g) => Number(((await anchor.contract.getFunction('head').staticCall(idToBytes32(g))) as [bigint, string])[0]),
    accessLog: new AccessLogClient(provider, d.accessLog),
  };
}
