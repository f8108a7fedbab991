/**
 * Config node "mcps-gateway-identity": which gateway a flow is for — its registry id and the
 * registry contract — so a flow deployed on the wrong box, or against the wrong consortium, says
 * so instead of sealing. The gateway's BLS secret key never appears here or in the flow: it is
 * created on the box, in a 0600 key file, and never leaves it; the node shows the public key and
 * whether the registry knows it.
 */
import type { NodeAPI, NodeDef, NodeInstance } from './node-red-api';

interface GatewayIdentityConfig {
  gatewayId: string;
  registry: string;
  problems: string[];
}

export = function register(RED: NodeAPI): void {
  function GatewayIdentityNode(this: NodeInstance, def: NodeDef & { gatewayId?: string; registry?: string }): void {
    RED.nodes.createNode(this, def);
    const unset = (v: string): boolean => /^\$\{\w+\}$/.test(v);
    const gatewayId = String(def.gatewayId ?? '').trim();
    const registry = String(def.registry ?? '').trim();
    const problems: string[] = [];
    if (gatewayId && !unset(gatewayId) && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/.test(gatewayId)) problems.push(`gateway id "${gatewayId}" is not a registry id`);
    if (registry && !unset(registry) && !/^0x[0-9a-fA-F]{40}$/.test(registry)) problems.push(`registry "${registry}" is not a contract address (0x and 40 hex digits)`);
    const cfg: GatewayIdentityConfig = { gatewayId: unset(gatewayId) ? '' : gatewayId, registry: unset(registry) ? '' : registry, problems };
    (this as { identity?: GatewayIdentityConfig }).identity = cfg;
  }
  RED.nodes.registerType('mcps-gateway-identity', GatewayIdentityNode);
};
