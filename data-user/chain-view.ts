/**
 * What a data user (or an auditor) reads from the chain to check an answer, with the chain as the
 * only trusted source: the gateways a hospital has registered, each gateway's BLS keys over time,
 * every batch anchored for a gateway (the Folded events and their transactions' calldata,
 * contracts/clients.ts allGroups: in folded mode each group of a gateway's consecutive batches with
 * its head, the last batch's header hash, which the batches' headers must link to; in trustless
 * mode every header hash; the header hash binds the root),
 * the head of its chain, and the AccessLog's grants and accesses.
 */
import { ethers } from 'ethers';
import { AccessLogClient, AnchorClient, RegistryClient } from '../contracts/clients';
import type { Deployment } from '../contracts/deploy';
import { idToBytes32 } from '../contracts/ids';

export interface AnchoredHeader {
  /** hex, no 0x, where the chain holds it (trustless mode, or the batch is its group's head); null: shown by the group's later headers linking to `head` */
  readonly headerHash: string | null;
  /** the last batch of the group the batch was anchored in, and its header hash (hex): the group's head */
  readonly lastSeq: number;
  readonly head: string;
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
        const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
        for (const g of await anchor.allGroups()) {
          let per = m.get(g.gatewayId);
          if (!per) m.set(g.gatewayId, (per = new Map()));
          const lastSeq = g.firstSeq + g.count - 1;
          for (let k = 0; k < g.count; k++) {
            const known = g.leaves?.[k] ?? (k === g.count - 1 ? g.headHash : null);
            per.set(g.firstSeq + k, { headerHash: known ? hex(known) : null, lastSeq, head: hex(g.headHash), txHash: g.txHash, blockNumber: g.blockNumber });
          }
        }
        return m;
      })();
      return (await all).get(g) ?? new Map();
    },
    head: async (g) => Number(((await anchor.contract.getFunction('head').staticCall(idToBytes32(g))) as [bigint, string])[0]),
    accessLog: new AccessLogClient(provider, d.accessLog),
  };
}
