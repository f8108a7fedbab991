/**
 * Messages between `mcps up` and the processes it forks (gateway, chain node) over Node's IPC
 * channel. Children report readiness and status; the parent asks the gateway to drain and to stop.
 */
import type { GatewayMetrics } from '../gateway/metrics';
import type { IngestCounters } from '../chain-node/ingest';

export type ChildMessage =
  | { type: 'ready'; role: 'gateway'; editorUrl: string; mqttPort: number; mqttUrl: string; editorCredentialsPath: string; metricsUrl: string | null }
  | { type: 'ready'; role: 'chain-node'; url: string; port: number; metricsUrl: string | null }
  | { type: 'status'; role: 'gateway'; metrics: GatewayMetrics }
  | { type: 'status'; role: 'chain-node'; counters: IngestCounters }
  | { type: 'drained'; metrics: GatewayMetrics }
  | { type: 'fatal'; error: string };

export type ParentMessage = { type: 'drain'; timeoutMs?: number } | { type: 'stop' };

export function sendToParent(m: ChildMessage): void {
  if (process.send && process.connected) process.send(m);
}
