/**
 * The chain node's Prometheus metrics and readiness, read at scrape time from the counters its
 * parts keep (ingest, handshakes, the anchor batcher). Labels are bounded: `reason` takes a fixed
 * set of values (refusal classes, the protocol's handshake reason codes), `outcome` two. Gateways
 * and users are never labels (a consortium may have many).
 *
 * User accesses (issue 14's data API for users) are a family here from the start, zero until that
 * API counts into `userAccesses`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { processMetrics, scrapedCounter } from '../common/process-metrics';
import type { ReadinessCheck } from '../common/monitoring-server';
import type { AnchorBatcher } from './anchor-batcher';
import { REFUSAL_REASONS, type BatchIngest } from './ingest';
import type { HandshakeService } from './sessions';

/** Data-user accesses by outcome: served (granted and handed over) or denied (no grant, revoked, …). */
export interface UserAccessCounters {
  served: number;
  denied: number;
}

export function newUserAccessCounters(): UserAccessCounters {
  return { served: 0, denied: 0 };
}

export interface ChainNodeMetricsParts {
  nodeId: string;
  version: string;
  ingest: BatchIngest;
  handshakes: HandshakeService;
  anchors: AnchorBatcher;
  userAccesses: UserAccessCounters;
  processMetrics?: boolean;
}

export function chainNodeRegistry(p: ChainNodeMetricsParts): Registry {
  const reg = new Registry();
  if (p.processMetrics ?? true) processMetrics(reg);
  const registers = [reg];
  const counter = (name: string, help: string, value: () => number): void => scrapedCounter(registers, name, help, value);
  new Gauge({ name: 'mcps_chain_node_info', help: 'This chain node: its registry id and the mcps-edge version (always 1).', labelNames: ['node_id', 'version'], registers }).set({ node_id: p.nodeId, version: p.version }, 1);
  const c = p.ingest.counters;
  counter('mcps_chain_node_batches_ingested_total', 'Batches accepted from gateways: checked, stored and anchored (receipt sent).', () => c.accepted);
  counter('mcps_chain_node_batches_duplicate_total', 'Batches sent again by a gateway after they were anchored: answered with the stored receipt.', () => c.duplicates);
  counter('mcps_chain_node_batches_replicated_total', 'Batches another consortium node had anchored, stored here as a copy (gateway failover).', () => c.replicated);
  counter('mcps_chain_node_batches_resumed_total', 'Batches stored before a restart without a receipt, completed at start.', () => c.resumed);
  new Counter({
    name: 'mcps_chain_node_batches_refused_total',
    help: 'Batches refused, by reason: invalid (malformed, wrong hash), forbidden (unknown or revoked gateway, bad signature), conflict (a gap or a rewrite of the anchored chain), other.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const reason of REFUSAL_REASONS) this.inc({ reason }, p.ingest.refusedByReason[reason] ?? 0);
    },
  });
  const a = p.anchors.stats;
  counter('mcps_chain_node_anchor_transactions_total', 'Anchor transactions mined (one may carry many batches).', () => a.transactions);
  counter('mcps_chain_node_anchored_batches_total', 'Batches anchored by this node’s transactions.', () => a.batches);
  counter('mcps_chain_node_anchor_gas_used_total', 'Gas used by this node’s anchor transactions.', () => a.gasUsed);
  counter('mcps_chain_node_anchor_failures_total', 'Anchor transactions that failed (refused in simulation, reverted, or the chain unreachable).', () => a.failures);
  new Gauge({ name: 'mcps_chain_node_anchors_pending', help: 'Batches waiting for an anchor transaction or in the one under way.', registers, collect() { this.set(p.anchors.pending); } });
  const h = p.handshakes.counters;
  counter('mcps_chain_node_handshakes_total', 'Handshakes completed with gateways (and users).', () => h.handshakes);
  new Counter({
    name: 'mcps_chain_node_handshake_failures_total',
    help: "Handshakes refused, by the protocol's reason code (protocol/errors.ts; a fixed set).",
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(p.handshakes.refusedByReason)) this.inc({ reason }, n);
    },
  });
  counter('mcps_chain_node_requests_throttled_total', 'Requests answered 429 by the per-source handshake limits (docs/protocol.md, the node under attack).', () => h.throttled);
  counter('mcps_chain_node_m1_replays_total', 'M1 copies answered from the replay cache or refused as replays.', () => h.m1Replays);
  counter('mcps_chain_node_records_refused_total', 'Session records that did not open (dropped; the session goes on).', () => h.recordsRefused);
  new Gauge({ name: 'mcps_chain_node_sessions', help: 'Live sessions with gateways and users.', registers, collect() { this.set(p.handshakes.counters.sessions); } });
  new Counter({
    name: 'mcps_chain_node_user_accesses_total',
    help: "Data users' accesses to patient data, by outcome: served or denied.",
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      this.inc({ outcome: 'served' }, p.userAccesses.served);
      this.inc({ outcome: 'denied' }, p.userAccesses.denied);
    },
  });
  return reg;
}

export interface ChainNodeReadinessOptions {
  apiListening: () => boolean;
  /** The chain's latest block number (throws when the RPC endpoint does not answer). */
  blockNumber: () => Promise<number>;
  storeDir: string;
  timeoutMs?: number;
}

export function chainNodeReadiness(o: ChainNodeReadinessOptions): () => Promise<ReadinessCheck[]> {
  return async () => {
    const checks: ReadinessCheck[] = [];
    const api = o.apiListening();
    checks.push({ name: 'api', ok: api, detail: api ? 'the HTTP API accepts gateways' : 'the HTTP API is not listening (starting, stopping, or failed: see the log)' });
    try {
      const n = await Promise.race([o.blockNumber(), new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no answer within ${o.timeoutMs ?? 3000} ms`)), o.timeoutMs ?? 3000).unref())]);
      checks.push({ name: 'chain', ok: true, detail: `the chain answers (block ${n})` });
    } catch (err) {
      checks.push({ name: 'chain', ok: false, detail: `the chain's RPC endpoint does not answer: ${(err as Error).message} (check chain.rpcUrl and the network)` });
    }
    try {
      mkdirSync(o.storeDir, { recursive: true });
      const probe = join(o.storeDir, '.write-probe');
      writeFileSync(probe, String(Date.now()));
      rmSync(probe, { force: true });
      checks.push({ name: 'store', ok: true, detail: 'the ciphertext store writes' });
    } catch (err) {
      checks.push({ name: 'store', ok: false, detail: `the ciphertext store cannot write: ${(err as Error).message} (check the disk and the data directory's permissions)` });
    }
    return checks;
  };
}
