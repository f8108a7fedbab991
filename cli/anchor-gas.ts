/**
 * What anchoring cost in a run, read back from the chain: the anchor transactions since the
 * deployment (the Folded logs), their gas, and how many batches each folded. `mcps up` adds it to
 * its summary, so the gas per reading of a live run is measured, not estimated (docs/contracts.md,
 * "Gas").
 */
import { ethers } from 'ethers';
import { AnchorClient } from '../contracts/clients';

export interface AnchorGas {
  /** anchor transactions */
  txs: number;
  batches: number;
  gas: number;
  /** batches per transaction, and per gateway group (a gateway's consecutive batches in one transaction) */
  batchesPerTx: number;
  batchesPerGroup: number;
}

export async function anchorGas(rpcUrl: string, anchor: string, fromBlock: number): Promise<AnchorGas> {
  const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  try {
    const groups = await new AnchorClient(provider, anchor, fromBlock).allGroups(fromBlock);
    const txs = [...new Set(groups.map((g) => g.txHash))];
    let gas = 0;
    for (const h of txs) gas += Number((await provider.getTransactionReceipt(h))?.gasUsed ?? 0n);
    const batches = groups.reduce((n, g) => n + g.count, 0);
    const round = (x: number): number => Number(x.toFixed(2));
    return { txs: txs.length, batches, gas, batchesPerTx: round(txs.length ? batches / txs.length : 0), batchesPerGroup: round(groups.length ? batches / groups.length : 0) };
  } finally {
    provider.destroy();
  }
}
