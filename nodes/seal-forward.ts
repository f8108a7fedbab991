/**
 * Node "mcps-seal-forward": seals each batch (Merkle root, encryption for the data owner, BLS
 * signature) and queues it for the chain node. Output: one message per receipt from the chain node.
 */
import { identityMismatch, shortKey } from '../gateway/identity/identity-check';
import type { ChainTarget } from '../gateway/chain/failover-client';
import type { Reading } from '../protocol/reading';
import type { DoneFn, NodeAPI, NodeDef, NodeInstance, NodeMessage, SendFn } from './node-red-api';
import { gatewayRuntime } from './runtime-access';
import { throttledStatus } from './status-throttle';
import type { OutboxItem } from '../gateway/outbox/outbox';
import type { SignedReceipt } from '../protocol/submission';

interface SealForwardDef extends NodeDef {
  /** An mcps-chain-node config node; empty: the chain node of the gateway's configuration. */
  chainNode?: string;
  /** An mcps-gateway-identity config node: the gateway this flow is for. */
  identity?: string;
}

type IdentityConfigNode = NodeInstance & { identity?: { gatewayId: string; registry: string; problems: string[] } };

type ChainNodeConfigNode = NodeInstance & { chainTargets?: { targets: ChainTarget[] } | { problem: string } | { unset: string } };

export = function register(RED: NodeAPI): void {
  function SealForwardNode(this: NodeInstance, def: SealForwardDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = throttledStatus(node);
    const rt = gatewayRuntime(RED);
    if (!rt) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-seal-forward.status.no-runtime') });
      node.on('input', (_msg: NodeMessage, _send: SendFn, done: DoneFn) => done(new Error(RED._('mcps-seal-forward.status.no-runtime'))));
      return;
    }
    // Which gateway the flow is for: sealing under another gateway's flow is refused, not guessed.
    if (def.identity) {
      const idNode = RED.nodes.getNode(def.identity) as IdentityConfigNode | null;
      const self = rt.identity;
      const problems = !idNode?.identity ? [RED._('mcps-seal-forward.errors.no-identity-config')] : [...idNode.identity.problems, ...(self ? identityMismatch(idNode.identity, self) : [])];
      if (problems.length > 0) {
        const why = problems.join('; ');
        node.status({ fill: 'red', shape: 'ring', text: why });
        node.error(`mcps-seal-forward: ${why}`);
        node.on('input', (_msg: NodeMessage, _send: SendFn, done: DoneFn) => done(new Error(why)));
        return;
      }
    }
    // Where batches go: the flow's mcps-chain-node configuration, else the gateway's own.
    const cfgNode = def.chainNode ? (RED.nodes.getNode(def.chainNode) as ChainNodeConfigNode | null) : null;
    const chosen = cfgNode?.chainTargets;
    if (def.chainNode && (!chosen || 'problem' in chosen)) {
      const why = chosen && 'problem' in chosen ? chosen.problem : RED._('mcps-seal-forward.errors.no-chain-config');
      // Not sealing for a flow whose destination is wrong; the journal's sweep still seals these
      // readings for the gateway configuration's chain node, so nothing is lost meanwhile.
      node.status({ fill: 'red', shape: 'ring', text: why });
      node.error(`mcps-seal-forward: ${why}`);
      node.on('input', (_msg: NodeMessage, _send: SendFn, done: DoneFn) => done(new Error(why)));
      return;
    } else if (chosen && 'targets' in chosen) {
      rt.useChainNodes(chosen.targets);
    }
    const target = (): string => {
      const c = rt.chainNode;
      return c ? `${c.nodeId}` : '?';
    };
    const mine = new Set<number>();
    // A receipt can arrive before this node learns its batch's sequence number (a fast chain node
    // answers while the seal call is still returning): such receipts wait here, a bounded few.
    const early = new Map<number, SignedReceipt>();
    const emit = (seq: number, signed: SignedReceipt): void => {
      node.send({ topic: `batch/${seq}`, payload: signed.receipt, signature: signed.signature });
      status.set(() => ({ fill: 'green', shape: 'dot', text: RED._('mcps-seal-forward.status.anchored', { seq, pending: rt.metrics.outboxPending, node: target() }) }));
    };
    const onReceipt = (item: OutboxItem, signed: SignedReceipt): void => {
      if (mine.delete(item.seq)) return emit(item.seq, signed);
      early.set(item.seq, signed);
      if (early.size > 1000) early.delete(early.keys().next().value!);
    };
    rt.on('receipt', onReceipt);
    node.status({ fill: 'yellow', shape: 'ring', text: RED._('mcps-seal-forward.status.waiting') });
    // Is this gateway's key the one the registry has? Shown before the first batch, logged if not.
    const self = rt.identity;
    if (self) {
      let closed = false;
      node.on('close', () => void (closed = true));
      rt.checkRegistration().then(
        (r) => {
          if (closed) return;
          const text = RED._(`mcps-seal-forward.identity.${r.state}`, { id: self.gatewayId, key: shortKey(self.publicKey), epoch: String(r.epoch ?? '') });
          if (r.state === 'registered') {
            status.set(() => ({ fill: 'yellow', shape: 'ring', text }));
            node.log(`registry check: ${text}`);
          }
          else {
            status.set(() => ({ fill: 'red', shape: 'ring', text }));
            node.warn(`mcps-seal-forward: ${text}; batches wait in the outbox until the registry accepts this gateway`);
          }
        },
        (err: Error) => {
          if (!closed) node.warn(`mcps-seal-forward: the registry could not be read (${err.message}); batches are sealed and wait in the outbox`);
        },
      );
    }
    node.on('input', (msg: NodeMessage, _send: SendFn, done: DoneFn) => {
      const readings = msg.payload;
      if (!Array.isArray(readings) || readings.length === 0) return done(new Error(RED._('mcps-seal-forward.errors.not-a-batch')));
      const ids = Array.isArray(msg.journalIds) && msg.journalIds.length === readings.length ? (msg.journalIds as unknown[]) : null;
      const entries = (readings as Reading[]).map((reading, i) => {
        const id = ids?.[i];
        return { reading, journalId: typeof id === 'number' && Number.isSafeInteger(id) ? id : undefined };
      });
      rt.sealBatch(entries).then(
        (item) => {
          if (!item) {
            // Every reading of this batch was sealed already (by the journal sweep): nothing to do.
            status.set(() => ({ fill: 'grey', shape: 'dot', text: RED._('mcps-seal-forward.status.already-sealed') }));
            return done();
          }
          const already = early.get(item.seq);
          if (already) {
            early.delete(item.seq);
            emit(item.seq, already);
          } else mine.add(item.seq);
          status.set(() => ({ fill: 'blue', shape: 'dot', text: RED._('mcps-seal-forward.status.queued', { seq: item.seq, pending: rt.metrics.outboxPending }) }));
          done();
        },
        (err: Error) => {
          status.set(() => ({ fill: 'red', shape: 'ring', text: RED._('mcps-seal-forward.status.error') }));
          done(err);
        },
      );
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      if (chosen && 'targets' in chosen) rt.useChainNodes(null);
      status.stop();
      rt.off('receipt', onReceipt);
      done();
    });
  }
  RED.nodes.registerType('mcps-seal-forward', SealForwardNode);
};
