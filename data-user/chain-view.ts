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
  /**
   * Starts reading, ahead of a check, what `gatewaysOf`, `gatewayKeys` and `anchored` will answer
   * for the hospital's gateways (`mcps data fetch` calls it while the node answers). The reads are
   * kept until `settle`.
   */
  prefetch?(hospital: string): void;
  /**
   * Before a check that uses reads made earlier: if the Registry or the Anchor contract logged
   * anything since the block those reads were made at, they are dropped (read again on use), so a
   * check never works on a registry or anchors older than the moment it starts.
   */
  settle?(): Promise<void>;
}

export function chainView(provider: ethers.Provider, d: Deployment): ChainView {
  const registry = new RegistryClient(provider, d.registry);
  const anchor = new AnchorClient(provider, d.anchor, d.deployBlock);
  // One read of every anchor serves all the gateways of a check (refreshed after 5 s).
  let all: Promise<Map<string, Map<number, AnchoredHeader>>> | null = null;
  let readAt = 0;
  // Reads made ahead of a check (prefetch), and the block they were made at or after (kept 5 s, as the anchors).
  let ahead: { at: number; block: Promise<number>; gateways: Map<string, Promise<string[]>>; keys: Map<string, Promise<Uint8Array[]>> } | null = null;
  const readAnchors = (): Promise<Map<string, Map<number, AnchoredHeader>>> =>
    (async () => {
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
  const anchored = async (g: string): Promise<Map<number, AnchoredHeader>> => {
    if (Date.now() - readAt > 5000) all = null;
    readAt = all ? readAt : Date.now();
    all ??= readAnchors();
    return (await all).get(g) ?? new Map();
  };
  const fresh = (): typeof ahead => {
    if (ahead && Date.now() - ahead.at > 5000) ahead = null;
    return ahead;
  };
  const readKeys = async (g: string): Promise<Uint8Array[]> => (await registry.keyHistory(g, d.deployBlock)).map((k) => k.blsPublicKey);
  return {
    gatewaysOf: (h) => fresh()?.gateways.get(h) ?? registry.gatewaysOf(h, d.deployBlock),
    gatewayKeys: (g) => fresh()?.keys.get(g) ?? readKeys(g),
    anchored,
    head: async (g) => Number(((await anchor.contract.getFunction('head').staticCall(idToBytes32(g))) as [bigint, string])[0]),
    accessLog: new AccessLogClient(provider, d.accessLog),
    prefetch(hospital) {
      // The block first: every read below sees at least its state.
      const block = provider.getBlockNumber();
      const a = (ahead = { at: Date.now(), block, gateways: new Map(), keys: new Map() });
      const gws = block.then(() => registry.gatewaysOf(hospital, d.deployBlock));
      a.gateways.set(hospital, gws);
      all = block.then(() => readAnchors());
      readAt = Date.now();
      const none = (): void => undefined;
      all.catch(none);
      gws.then((list) => list.forEach((g) => {
        const k = readKeys(g);
        k.catch(none);
        a.keys.set(g, k);
      }), none);
    },
    async settle() {
      const a = ahead;
      if (!a) return;
      ahead = null;
      let since: number;
      try {
        since = (await a.block) + 1;
      } catch {
        all = null;
        return;
      }
      // Anything the Registry or the Anchor logged since: the reads made ahead are dropped.
      const logs = await provider.getLogs({ address: [d.registry, d.anchor], fromBlock: since, toBlock: 'latest' });
      if (logs.length > 0) {
        all = null;
        return;
      }
      ahead = a;
    },
  };
}
