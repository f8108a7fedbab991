/**
 * The gateway's readiness (/readyz): whether it does its job now, check by check, each saying what
 * it found and what to do. Ready means: the Node-RED flow runs, the MQTT broker accepts devices, the
 * journal takes a synced write (and the disk budget is not full), and batches reach a chain node —
 * or the outbox still holds them within its age budget (the gateway is built to ride out a chain
 * node that is away for a while: store and forward).
 */
import type { ReadinessCheck } from '../../common/monitoring-server';
import type { GatewayRuntime } from '../runtime';
import { decodeHeader } from '../../protocol/batch';

export interface GatewayReadinessOptions {
  runtime: GatewayRuntime;
  flowRunning: () => boolean;
  /** Throws when the journal cannot take a synced write. */
  probeJournal: () => void;
  /** The outbox may hold a batch this long before the gateway counts as not ready (default 900 s). */
  outboxMaxAgeS?: number;
  now?: () => number;
  /** Journal probes are cached this long (default 5 s), so a busy prober does not add fsyncs. */
  probeEveryMs?: number;
}

export function gatewayReadiness(o: GatewayReadinessOptions): () => Promise<ReadinessCheck[]> {
  const now = o.now ?? Date.now;
  const maxAgeS = o.outboxMaxAgeS ?? 900;
  let lastProbe: { at: number; error: string | null } | null = null;
  return async () => {
    const rt = o.runtime;
    const checks: ReadinessCheck[] = [];
    const running = o.flowRunning();
    checks.push({ name: 'flow', ok: running, detail: running ? 'the Node-RED flow is running' : 'the Node-RED flow is not running: deploy a flow in the editor, or look at the log for why it stopped' });
    const b = rt.broker;
    const listening = b?.listening === true;
    checks.push({ name: 'broker', ok: listening, detail: listening ? `the MQTT broker accepts devices on port ${b!.port}` : 'the MQTT broker is not listening (starting, stopping, or failed: see the log)' });
    const t = now();
    if (!lastProbe || t - lastProbe.at >= (o.probeEveryMs ?? 5000)) {
      try {
        o.probeJournal();
        lastProbe = { at: t, error: null };
      } catch (err) {
        lastProbe = { at: t, error: (err as Error).message };
      }
    }
    rt.refreshMetrics();
    const full = rt.metrics.storageState === 'full';
    const journalOk = lastProbe.error === null && !full;
    checks.push({
      name: 'journal',
      ok: journalOk,
      detail: lastProbe.error !== null ? `the journal cannot write: ${lastProbe.error} (check the disk and the data directory's permissions)` : full ? 'the disk budget is full: new readings are refused until receipts free space (is the chain node reachable? raise storage.budgetMB if the disk allows)' : `the journal writes (${rt.metrics.journalUnsealed} readings unsealed)`,
    });
    const outbox = rt.parts.outbox;
    const oldest = outbox.oldest;
    let ageS = 0;
    if (oldest) {
      try {
        ageS = Math.max(0, (t - decodeHeader(Uint8Array.from(Buffer.from(oldest.submission.header, 'hex'))).firstReceivedAt) / 1000);
      } catch {
        ageS = 0;
      }
    }
    const chainOk = ageS <= maxAgeS;
    const node = rt.chainNode?.nodeId ?? 'the chain node';
    checks.push({
      name: 'chain',
      ok: chainOk,
      detail:
        outbox.pending === 0
          ? `every sealed batch has its receipt (${node})`
          : chainOk
            ? `${outbox.pending} batches waiting for ${node}, the oldest for ${Math.round(ageS)} s (budget ${maxAgeS} s)`
            : `${outbox.pending} batches waiting for ${node}, the oldest for ${Math.round(ageS)} s, over the ${maxAgeS} s budget: check that the chain node and the chain are reachable (the log says why submissions fail)`,
    });
    return checks;
  };
}
