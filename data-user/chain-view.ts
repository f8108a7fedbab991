/**
 * What a data user (or an auditor) reads from the chain to check an answer, with the chain as the
 * only trusted source: the gateways a hospital has registered, each gateway's BLS keys over time,
 * every batch anchored for a gateway (header hash and root, from the Anchor contract's events),
 * the head of its chain, and the AccessLog's grants and accesses.
 */
import { ethers } from 'ethers';
import { loadArtifact } from '../contracts/artifacts';
import { AccessLogClient, AnchorClient, RegistryClient } from '../contracts/clients';
import type { Deployment } from '../contracts/deploy';
import { idToBytes32 } from '../contracts/ids';

export interface AnchoredHeader {
  readonly headerHash: string; // hex, no 0x
  readonly root: string; // hex, no 0x
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

const strip = (h: string): string => h.replace(/^0x/, '').toLowerCase();

export function chainView(provider: ethers.Provider, d: Deployment): ChainView {
  const registry = new RegistryClient(provider, d.registry);
  const anchor = new AnchorClient(provider, d.anchor);
  const anchorContract = new ethers.Contract(d.anchor, loadArtifact('Anchor').abi, provider);
  const cache = new Map<string, Promise<Map<number, AnchoredHeader>>>();
  return {
    gatewaysOf: (h) => registry.gatewaysOf(h, d.deployBlock),
    gatewayKeys: async (g) => (await registry.keyHistory(g, d.deployBlock)).map((k) => k.blsPublicKey),
    anchored: (g) => {
      let p = cache.get(g);
      if (!p) {
        p = (async () => {
          const logs = await anchorContract.queryFilter(anchorContract.filters.Anchored!(idToBytes32(g)), d.deployBlock, 'latest');
          const m = new Map<number, AnchoredHeader>();
          for (const l of logs) {
            const a = (l as ethers.EventLog).args as unknown as [string, bigint, string, string];
            m.set(Number(a[1]), { root: strip(a[2]), headerHash: strip(a[3]), txHash: l.transactionHash, blockNumber: l.blockNumber });
          }
          return m;
        })();
        cache.set(g, p);
      }
      return p;
    },
    head: async (g) => (await anchor.head(g)).seq,
    accessLog: new AccessLogClient(provider, d.accessLog),
  };
}
