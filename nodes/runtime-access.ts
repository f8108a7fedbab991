/**
 * How a node reaches the gateway runtime: the `mcpsRuntime` setting the mcps gateway passes to its
 * embedded Node-RED. In a Node-RED without it, nodes say so in their status instead of failing.
 */
import type { GatewayRuntime } from '../gateway/runtime';
import { RUNTIME_SETTING } from '../gateway/runtime';
import type { NodeAPI } from './node-red-api';

export function gatewayRuntime(RED: NodeAPI): GatewayRuntime | null {
  const rt = RED.settings[RUNTIME_SETTING];
  return rt ? (rt as GatewayRuntime) : null;
}
