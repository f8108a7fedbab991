/**
 * Node "mcps-to-fhir": canonical readings → FHIR R4 (docs/fhir.md).
 * Input msg.payload = one reading → output msg.payload = an Observation (references relative:
 * DeviceMetric/<id>); = an array of readings (the batch node's output) → one Bundle (collection or
 * transaction, as configured) with the Devices, DeviceMetrics and Observations. A reading FHIR cannot
 * express (a time past 9999, an empty patient) is reported with node.error naming it and left out of
 * the Bundle; the rest still goes on.
 */
import { readingsToBundle, readingToObservation } from '../fhir/bundle';
import { checkReading } from '../protocol/canonical';
import type { Reading } from '../protocol/reading';
import type { DoneFn, NodeAPI, NodeDef, NodeInstance, NodeMessage, SendFn } from './node-red-api';
import { throttledStatus } from './status-throttle';

interface ToFhirDef extends NodeDef {
  bundleType?: string;
  patientSystem?: string;
  deviceSystem?: string;
}

export = function register(RED: NodeAPI): void {
  function ToFhirNode(this: NodeInstance, def: ToFhirDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const type = def.bundleType === 'collection' ? 'collection' : 'transaction';
    const ids = { patientSystem: def.patientSystem?.trim() || undefined, deviceSystem: def.deviceSystem?.trim() || undefined };
    const status = throttledStatus(node);
    let observations = 0;
    let bundles = 0;
    let refused = 0;

    node.on('input', (msg: NodeMessage, send: SendFn, done: DoneFn) => {
      const many = Array.isArray(msg.payload);
      const items: unknown[] = many ? (msg.payload as unknown[]) : [msg.payload];
      const good: Reading[] = [];
      items.forEach((x, i) => {
        try {
          const r = checkReading(x, many ? `msg.payload[${i}]` : 'msg.payload');
          readingToObservation(r, ids);
          good.push(r);
        } catch (err) {
          refused++;
          node.error(RED._('mcps-to-fhir.errors.refused', { reason: (err as Error).message }), { ...msg, payload: x, error: (err as Error).message });
        }
      });
      if (good.length > 0) {
        if (many) {
          const bundle = readingsToBundle(good, { type, timestamp: Date.now(), ...ids });
          bundles++;
          observations += (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Observation').length;
          send({ ...msg, payload: bundle });
        } else {
          observations++;
          send({ ...msg, payload: readingToObservation(good[0], ids) });
        }
      }
      status.set(() => ({ fill: refused > 0 ? 'yellow' : 'green', shape: 'dot', text: RED._('mcps-to-fhir.status.counts', { observations, bundles, refused }) }));
      done();
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      done();
    });
  }
  RED.nodes.registerType('mcps-to-fhir', ToFhirNode);
};
