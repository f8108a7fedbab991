/**
 * Config node "mcps-chain-node": the consortium chain nodes this gateway's batches go to, in order
 * of preference ("<node id> <url>" per line); the seal & forward node using it switches to the next
 * one when the current one keeps failing. Each node is authenticated by the two-way handshake
 * against its key in the on-chain registry, so nothing secret is configured here.
 */
import { parseChainTargets } from '../gateway/chain/failover-client';
import type { NodeAPI, NodeDef, NodeInstance } from './node-red-api';

export = function register(RED: NodeAPI): void {
  function ChainNodeConfig(this: NodeInstance, def: NodeDef & { endpoints?: string }): void {
    RED.nodes.createNode(this, def);
    const raw = String(def.endpoints ?? '').trim();
    // "${NAME}" left as it is: the variable is not set; the gateway's own configuration applies.
    (this as { chainTargets?: unknown }).chainTargets = /^\$\{\w+\}$/.test(raw) ? { unset: raw } : parseChainTargets(raw);
  }
  RED.nodes.registerType('mcps-chain-node', ChainNodeConfig);
};
