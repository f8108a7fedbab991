/**
 * The JSON-RPC provider of the sharing path (chain node, key service, data user): the network is
 * fixed (no eth_chainId before calls), and calls are not held back to be batched. ethers holds each
 * call 10 ms by default (batchStallTime) to send it in a batch with others; with 0 the calls made in
 * the same turn of the event loop still go as one batch, but a call on its own goes at once. A
 * user's fetch waits for about fifteen reads and a transaction one after the other (grant, registry,
 * the access record's estimate, fees, send, receipt): 10 ms each with the stall. Nor are answers
 * kept for 250 ms (cacheTimeout): a receipt asked for again right after a miss is asked afresh.
 */
import { ethers } from 'ethers';

export function rpcProvider(url: string | ethers.FetchRequest, pollingInterval = 250): ethers.JsonRpcProvider {
  return new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval, batchStallTime: 0, cacheTimeout: -1 });
}
