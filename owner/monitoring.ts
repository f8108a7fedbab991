/**
 * The key service's Prometheus metrics (served on its monitoring listener, common/monitoring-server.ts,
 * when the config has "metrics"): slice keys and patient tags released, refusals by reason (a fixed
 * set, protocol/sharing/key-messages.ts), read from the service's counters at scrape time; and its
 * readiness (listening, the chain reachable).
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { processMetrics, scrapedCounter } from '../common/process-metrics';
import type { ReadinessCheck } from '../common/monitoring-server';
import { KEY_REFUSALS } from '../protocol/sharing/key-messages';
import type { RunningKeyService } from './key-service';

export function keyServiceRegistry(p: { hospital: string; version: string; counters: RunningKeyService['counters']; processMetrics?: boolean }): Registry {
  const reg = new Registry();
  if (p.processMetrics ?? true) processMetrics(reg);
  const registers = [reg];
  const c = p.counters;
  new Gauge({ name: 'mcps_key_service_info', help: 'This key service: its hospital and the mcps-edge version (always 1).', labelNames: ['hospital', 'version'], registers }).set({ hospital: p.hospital, version: p.version }, 1);
  const counter = (name: string, help: string, value: () => number): void => scrapedCounter(registers, name, help, value);
  counter('mcps_key_service_slice_keys_released_total', 'Slice keys released to data users (each under a grant and an access recorded on chain).', () => c.released);
  counter('mcps_key_service_tags_released_total', 'Answers with a patient\'s day tags over a grant (a data user starting a fetch).', () => c.tags);
  new Counter({
    name: 'mcps_key_service_refusals_total',
    help: 'Key requests refused, by reason (no-grant, wrong-user, revoked, expired, wrong-patient, no-access-recorded, not-covered, stale, replay, bad-signature, unknown-user, revoked-user, bad-request, unavailable).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const reason of KEY_REFUSALS) this.inc({ reason }, c.refusedByReason[reason] ?? 0);
    },
  });
  return reg;
}

export function keyServiceReadiness(p: { listening: () => boolean; blockNumber: () => Promise<number> }): () => Promise<ReadinessCheck[]> {
  return async () => {
    const checks: ReadinessCheck[] = [{ name: 'listening', ok: p.listening(), detail: p.listening() ? 'the key service answers' : 'the key service is not listening: see its log' }];
    try {
      const b = await Promise.race([p.blockNumber(), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no answer within 3 s')), 3000).unref())]);
      checks.push({ name: 'chain', ok: true, detail: `block ${b}` });
    } catch (err) {
      checks.push({ name: 'chain', ok: false, detail: `the chain's JSON-RPC endpoint does not answer (${(err as Error).message}): grants cannot be checked, every request is refused` });
    }
    return checks;
  };
}
