/**
 * Node "mcps-anchor-status": the gateway's anchoring as messages, for dashboards and alerts.
 * Output 1: one message per receipt (anchored batch). Output 2: one message per failed submission
 * (the batch stays queued and is retried), so an alert can fire when the chain node is away.
 */
import type { OutboxItem } from '../gateway/outbox/outbox';
import type { SignedReceipt } from '../protocol/submission';
import type { NodeAPI, NodeDef, NodeInstance } from './node-red-api';
import { gatewayRuntime } from './runtime-access';
import { throttledStatus } from './status-throttle';

export = function register(RED: NodeAPI): void {
  function AnchorStatusNode(this: NodeInstance, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = throttledStatus(node);
    const rt = gatewayRuntime(RED);
    if (!rt) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-anchor-status.status.no-runtime') });
      return;
    }
    node.status({ fill: 'yellow', shape: 'ring', text: RED._('mcps-anchor-status.status.waiting') });
    const onReceipt = (item: OutboxItem, signed: SignedReceipt): void => {
      node.send([{ topic: `anchored/${item.seq}`, payload: { ...signed.receipt, pending: rt.metrics.outboxPending } }, null]);
      status.set(() => ({ fill: 'green', shape: 'dot', text: RED._('mcps-anchor-status.status.anchored', { seq: item.seq, pending: rt.metrics.outboxPending }) }));
    };
    const onFailure = (item: OutboxItem, reason: string, attempt: number): void => {
      node.send([null, { topic: `failed/${item.seq}`, payload: { seq: item.seq, attempt, reason, pending: rt.metrics.outboxPending } }]);
      status.set(() => ({ fill: 'red', shape: 'ring', text: RED._('mcps-anchor-status.status.failing', { seq: item.seq, attempt }) }));
    };
    rt.on('receipt', onReceipt);
    rt.on('failure', onFailure);
    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      rt.off('receipt', onReceipt);
      rt.off('failure', onFailure);
      done();
    });
  }
  RED.nodes.registerType('mcps-anchor-status', AnchorStatusNode);
};
