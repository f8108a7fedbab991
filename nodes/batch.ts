/**
 * Node "mcps-batch": groups readings into batches by count or age.
 * Input: msg.payload = a canonical reading (from a device node), with msg.journalId when it was
 * journaled; or an array of readings (a device node's "group" output), with msg.journalIds in the
 * same order. msg.flush = true closes the window now.
 * Output: msg.payload = the readings of one closed batch, in arrival order; msg.journalIds = their
 * journal ids (the seal node takes them out of the journal when it seals the batch).
 */
import { BatchWindow } from '../gateway/sealing/batch-window';
import type { SealEntry } from '../gateway/sealing/sealer';
import type { Reading } from '../protocol/reading';
import type { DoneFn, NodeAPI, NodeDef, NodeInstance, NodeMessage, SendFn } from './node-red-api';
import { gatewayRuntime } from './runtime-access';
import { throttledStatus } from './status-throttle';

interface BatchDef extends NodeDef {
  maxCount?: string | number;
  maxAgeMs?: string | number;
}

export = function register(RED: NodeAPI): void {
  function BatchNode(this: NodeInstance, def: BatchDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = throttledStatus(node);
    let window: BatchWindow<SealEntry>;
    try {
      window = new BatchWindow({
        maxCount: Number(def.maxCount ?? 100),
        maxAgeMs: Number(def.maxAgeMs ?? 2000),
        onClose: (entries) => {
          const readings = entries.map((e) => e.reading);
          const journalIds = entries.flatMap((e) => (e.journalId === undefined ? [] : [e.journalId]));
          node.send({ payload: readings, count: readings.length, journalIds: journalIds.length === readings.length ? journalIds : undefined });
          status.set(() => ({ fill: 'green', shape: 'dot', text: RED._('mcps-batch.status.closed', { count: readings.length }) }));
        },
      });
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-batch.status.config-error') });
      node.error(`mcps-batch: ${(err as Error).message}`);
      return;
    }
    node.status({ fill: 'yellow', shape: 'ring', text: RED._('mcps-batch.status.waiting') });
    const rt = gatewayRuntime(RED);
    const onFlush = (): void => window.flush();
    rt?.on('flush', onFlush);
    node.on('input', (msg: NodeMessage, _send: SendFn, done: DoneFn) => {
      if (msg.flush === true) {
        window.flush();
        return done();
      }
      const isReading = (r: unknown): r is Reading => {
        const x = r as Partial<Reading> | null;
        return !!x && typeof x === 'object' && typeof x.deviceId === 'string' && typeof x.kind === 'string' && typeof x.value === 'number';
      };
      const asId = (id: unknown): number | undefined => (typeof id === 'number' && Number.isSafeInteger(id) ? id : undefined);
      if (Array.isArray(msg.payload)) {
        // A group: taken whole or not at all, so a bad element cannot split it.
        const group: unknown[] = msg.payload;
        const ids = Array.isArray(msg.journalIds) && msg.journalIds.length === group.length ? (msg.journalIds as unknown[]) : undefined;
        if (msg.journalIds !== undefined && ids === undefined) return done(new Error(RED._('mcps-batch.errors.ids-mismatch')));
        if (!group.every(isReading)) return done(new Error(RED._('mcps-batch.errors.not-a-reading')));
        group.forEach((r, i) => window.add({ reading: r, journalId: asId(ids?.[i]) }));
        return done();
      }
      if (!isReading(msg.payload)) return done(new Error(RED._('mcps-batch.errors.not-a-reading')));
      window.add({ reading: msg.payload, journalId: asId(msg.journalId) });
      done();
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      rt?.off('flush', onFlush);
      // Readings still in the window are sealed rather than dropped when the flow stops.
      window.flush();
      window.close();
      done();
    });
  }
  RED.nodes.registerType('mcps-batch', BatchNode);
};
