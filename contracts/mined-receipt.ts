import type { ethers } from 'ethers';

/**
 * The receipt of a sent transaction, asked for until it is there: at once, then after 5 ms, doubling
 * up to 250 ms. tx.wait(1) waits for new-block events once its first look misses, and counts
 * confirmations against a block number ethers caches for 250 ms: on a chain that mines only when a
 * transaction comes (anvil), a wait that misses its block can wait for the next transaction.
 */
export async function minedReceipt(tx: ethers.TransactionResponse): Promise<ethers.TransactionReceipt> {
  for (let delay = 5; ; delay = Math.min(2 * delay, 250)) {
    const r = await tx.provider.getTransactionReceipt(tx.hash);
    if (r) return r;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
