/**
 * Readings of one batch or one fetch as one FHIR Bundle: a Device per source device, a DeviceMetric
 * per device and kind, and the Observations (systolic and diastolic taken at the same time by the
 * same device become one blood-pressure panel).
 *
 * type "collection" is a document to hand over or store; type "transaction" is what a FHIR server
 * accepts at its base URL: every entry is a PUT to a client-derived id, so posting the same readings
 * again (a retry, a replayed queue) updates in place and never duplicates.
 */
import type { Bundle, BundleEntry, FhirResource, Observation } from 'fhir/r4';
import type { Reading } from '../protocol/reading';
import { toDevice, toDeviceMetric } from './device';
import { fhirInstant, readingTime, toBloodPressurePanel, toObservation } from './observation';
import { resolveIdentity, type FhirIdentityOptions } from './options';

export type BundleKind = 'collection' | 'transaction';

export interface BundleOptions extends FhirIdentityOptions {
  readonly type: BundleKind;
  /** When the Bundle was assembled, ms since the epoch (injected: this module reads no clock). */
  readonly timestamp: number;
  /** A business identifier for the Bundle, e.g. the batch it carries. */
  readonly identifier?: { readonly system: string; readonly value: string };
}

/** Groups systolic/diastolic/mean readings of one device, patient and time into panels. */
function bloodPressureGroups(readings: readonly Reading[]): { panels: { systolic: Reading; diastolic: Reading; mean?: Reading }[]; rest: Reading[] } {
  const groups = new Map<string, Reading[]>();
  const rest: Reading[] = [];
  for (const r of readings) {
    if (r.kind === 'nibp_systolic' || r.kind === 'nibp_diastolic' || r.kind === 'nibp_mean') {
      const key = JSON.stringify([r.deviceId, r.patient, readingTime(r)]);
      const g = groups.get(key);
      if (g) g.push(r);
      else groups.set(key, [r]);
    } else rest.push(r);
  }
  const panels: { systolic: Reading; diastolic: Reading; mean?: Reading }[] = [];
  for (const g of groups.values()) {
    const of = (k: Reading['kind']) => g.filter((r) => r.kind === k);
    const s = of('nibp_systolic');
    const d = of('nibp_diastolic');
    const m = of('nibp_mean');
    if (s.length === 1 && d.length === 1 && m.length <= 1) panels.push({ systolic: s[0], diastolic: d[0], ...(m.length ? { mean: m[0] } : {}) });
    else rest.push(...g);
  }
  return { panels, rest };
}

export function readingsToBundle(readings: readonly Reading[], o: BundleOptions): Bundle<FhirResource> {
  const id = resolveIdentity(o);
  const entries: BundleEntry<FhirResource>[] = [];
  const seen = new Set<string>();
  const add = (resource: FhirResource & { id?: string }) => {
    const rid = resource.id as string;
    if (seen.has(rid)) return;
    seen.add(rid);
    entries.push({
      fullUrl: `urn:uuid:${rid}`,
      resource,
      ...(o.type === 'transaction' ? { request: { method: 'PUT' as const, url: `${resource.resourceType}/${rid}` } } : {}),
    });
  };
  const observations: Observation[] = [];
  const { panels, rest } = bloodPressureGroups(readings);
  for (const r of readings) {
    add(toDevice(r, id));
    add(toDeviceMetric(r.deviceId, r.kind, id, 'urn'));
  }
  for (const r of rest) observations.push(toObservation(r, id, 'urn'));
  for (const p of panels) observations.push(toBloodPressurePanel(p, id, 'urn'));
  observations.sort((a, b) => (a.effectiveDateTime ?? '').localeCompare(b.effectiveDateTime ?? '') || (a.id ?? '').localeCompare(b.id ?? ''));
  for (const ob of observations) add(ob);
  return {
    resourceType: 'Bundle',
    ...(o.identifier ? { identifier: { system: o.identifier.system, value: o.identifier.value } } : {}),
    type: o.type,
    timestamp: fhirInstant(o.timestamp, 'bundle timestamp'),
    entry: entries,
  };
}

/** One reading as a standalone Observation (references are relative: DeviceMetric/<id>). */
export function readingToObservation(r: Reading, o: FhirIdentityOptions = {}): Observation {
  return toObservation(r, resolveIdentity(o), 'relative');
}
