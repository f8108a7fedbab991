/**
 * The gateway's Prometheus metrics (prom-client), built from state the runtime keeps anyway.
 *
 * Nothing here runs on the ingest path: the runtime, the journal, the broker and the serial links
 * keep plain number counters (an increment each), and every metric below reads them when Prometheus
 * scrapes (a `collect` callback). The one exception is the anchoring-latency histogram, observed
 * once per receipt (one per batch, not per reading).
 *
 * Names follow Prometheus conventions: `mcps_gateway_` prefix, base units in the name (`_seconds`,
 * `_bytes`), `_total` for counters. Labels are bounded: `reason` and `state` take a fixed set of
 * values; `port`/`device` exist once per serial port configured in the flow (a handful per box);
 * `node` once per consortium chain node configured. Readings, patients and MQTT devices are never
 * labels (a ward of MQTT devices would be unbounded). docs/operations.md has the reference table.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { processMetrics, scrapedCounter } from '../../common/process-metrics';
import { decodeHeader } from '../../protocol/batch';
import { packageVersion } from '../../common/version';
import type { GatewayRuntime } from '../runtime';
import type { OutboxItem } from '../outbox/outbox';
import { LINK_STATES } from '../ingest/serial-link';
import type { GatewayMetrics } from '../metrics';

export const REGISTRATION_STATES: ReadonlyArray<GatewayMetrics['registration']> = ['unknown', 'registered', 'not-registered', 'other-key', 'revoked', 'not-a-gateway'];
export const STORAGE_STATES: ReadonlyArray<GatewayMetrics['storageState']> = ['ok', 'warn', 'full'];
/** Handshake failure reasons (gateway/chain/chain-client.ts handshakeFailureReason). */
export const HANDSHAKE_FAILURE_REASONS = ['refused', 'http_error', 'unreachable', 'node_not_verified', 'malformed_answer', 'registry_unavailable'] as const;

/** Accepted → receipt, per batch (its first reading): seconds on a Pi-class box, minutes when the chain is away. */
export const ANCHOR_LATENCY_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600];


/** Sets a counter to a value kept elsewhere (it only ever grows there). */
function setCounter(c: Counter<string>, value: number, labels?: Record<string, string>): void {
  if (labels) c.inc(labels, value);
  else c.inc(value);
}

function firstReceivedAt(item: OutboxItem): number | null {
  try {
    return decodeHeader(Uint8Array.from(Buffer.from(item.submission.header, 'hex'))).firstReceivedAt;
  } catch {
    return null;
  }
}

export interface GatewayMetricsOptions {
  now?: () => number;
  /** process_* and nodejs_* metrics (default true; tests that build many registries turn them off). */
  processMetrics?: boolean;
}

export function gatewayRegistry(rt: GatewayRuntime, opts: GatewayMetricsOptions = {}): Registry {
  const now = opts.now ?? Date.now;
  const reg = new Registry();
  if (opts.processMetrics ?? true) processMetrics(reg);
  const registers = [reg];
  const m = (): GatewayMetrics => rt.metrics;
  const counter = (name: string, help: string, value: () => number): void => scrapedCounter(registers, name, help, value);
  const gauge = (name: string, help: string, value: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value());
      },
    });
  };

  new Gauge({
    name: 'mcps_gateway_info',
    help: 'This gateway: its registry id and the mcps-edge version (always 1).',
    labelNames: ['gateway_id', 'version'],
    registers,
  }).set({ gateway_id: rt.gatewayId, version: packageVersion() }, 1);

  // Readings
  counter('mcps_gateway_readings_accepted_total', 'Readings accepted: journaled and synced to disk (then acknowledged, for MQTT).', () => m().readingsIn);
  new Counter({
    name: 'mcps_gateway_readings_refused_total',
    help: 'Readings refused, by reason: invalid (failed decoding or validation, or from an unregistered device; kept as a dead letter) or storage_full (the disk budget was reached).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      setCounter(this, m().readingsRejected, { reason: 'invalid' });
      setCounter(this, m().readingsRefusedFull, { reason: 'storage_full' });
    },
  });
  counter('mcps_gateway_readings_duplicate_total', 'Re-sent MQTT readings recognised by their dedupe key: acknowledged again, not journaled twice.', () => m().duplicatesDropped);
  counter('mcps_gateway_readings_swept_total', 'Readings sealed from the journal by the gateway itself (after a restart, or left behind by the flow).', () => m().readingsSwept);

  // Journal
  gauge('mcps_gateway_journal_unsealed_readings', 'Readings in the journal, accepted and not yet sealed into a batch (the journal depth).', () => (rt.refreshMetrics(), m().journalUnsealed));
  counter('mcps_gateway_journal_commits_total', 'Journal commits (each one fsync of a group of readings).', () => m().journalCommits);
  gauge('mcps_gateway_journal_max_group_readings', 'Most readings committed by one journal commit so far (group commit).', () => m().journalMaxGroup);

  // Batches and the outbox
  counter('mcps_gateway_batches_sealed_total', 'Batches sealed (Merkle root, encrypted, signed) and queued in the outbox.', () => m().batchesSealed);
  counter('mcps_gateway_readings_sealed_total', 'Readings sealed into batches.', () => m().readingsSealed);
  counter('mcps_gateway_batches_anchored_total', "Batches anchored: the chain node's signed receipt (ciphertext stored, anchor transaction mined) received.", () => m().batchesAnchored);
  counter('mcps_gateway_readings_anchored_total', 'Readings in anchored batches.', () => m().readingsAnchored);
  counter('mcps_gateway_batch_submit_failures_total', 'Failed batch submissions (each is retried with backoff; the batch stays in the outbox).', () => m().submitFailures);
  gauge('mcps_gateway_outbox_batches', 'Sealed batches waiting in the outbox for their receipt.', () => rt.parts.outbox.pending);
  gauge('mcps_gateway_outbox_oldest_age_seconds', "Age of the oldest reading in the outbox's oldest batch (0 when the outbox is empty).", () => {
    const item = rt.parts.outbox.oldest;
    const t = item ? firstReceivedAt(item) : null;
    return t === null ? 0 : Math.max(0, (now() - t) / 1000);
  });
  const latency = new Histogram({
    name: 'mcps_gateway_anchor_latency_seconds',
    help: "From a batch's first reading accepted to the batch's receipt (anchored on chain), per batch.",
    buckets: ANCHOR_LATENCY_BUCKETS,
    registers,
  });
  rt.on('receipt', (item) => {
    const t = firstReceivedAt(item);
    if (t !== null) latency.observe(Math.max(0, (now() - t) / 1000));
  });

  // Chain nodes
  const chain = (): NonNullable<GatewayRuntime['parts']['chainStats']> => rt.parts.chainStats ?? { handshakes: 0, handshakeFailures: {}, sessionsLost: 0, failovers: 0 };
  counter('mcps_gateway_handshakes_total', 'Completed handshakes with chain nodes (mutual authentication, new session keys).', () => chain().handshakes);
  new Counter({
    name: 'mcps_gateway_handshake_failures_total',
    help: 'Failed handshakes with chain nodes, by reason: refused (by the node), http_error, unreachable, node_not_verified (its answer did not verify against the registry), malformed_answer, registry_unavailable.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      const f = chain().handshakeFailures;
      for (const reason of HANDSHAKE_FAILURE_REASONS) setCounter(this, f[reason] ?? 0, { reason });
    },
  });
  counter('mcps_gateway_sessions_lost_total', 'Sessions a chain node no longer knew (its restart or expiry): a new handshake followed.', () => chain().sessionsLost);
  counter('mcps_gateway_chain_node_failovers_total', 'Switches to the next consortium chain node after repeated failures.', () => chain().failovers);
  new Gauge({
    name: 'mcps_gateway_chain_node_current',
    help: 'The chain node batches go to now (1 for it; one series per configured node seen).',
    labelNames: ['node'],
    registers,
    collect() {
      this.reset();
      const n = rt.chainNode;
      if (n) this.set({ node: n.nodeId }, 1);
    },
  });

  // Storage and registration
  gauge('mcps_gateway_storage_used_bytes', 'Bytes the state database uses (live pages plus write-ahead log), as the disk budget counts them.', () => (rt.refreshMetrics(), m().storageBytes));
  gauge('mcps_gateway_storage_budget_bytes', 'The state database’s disk budget (storage.budgetMB).', () => m().storageBudgetBytes);
  new Gauge({
    name: 'mcps_gateway_storage_state',
    help: 'Disk budget state: 1 for the current one of ok, warn (80% reached), full (new readings refused).',
    labelNames: ['state'],
    registers,
    collect() {
      for (const s of STORAGE_STATES) this.set({ state: s }, m().storageState === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'mcps_gateway_registration_state',
    help: "This gateway's key in the on-chain registry as last checked: 1 for the current one of unknown, registered, not-registered, other-key, revoked, not-a-gateway.",
    labelNames: ['state'],
    registers,
    collect() {
      for (const s of REGISTRATION_STATES) this.set({ state: s }, m().registration === s ? 1 : 0);
    },
  });

  // Serial ports: one series set per port configured in the running flow (bounded by the box's ports).
  const links = (): Array<{ deviceId: string; status: import('../ingest/serial-link').SerialLinkStatus }> => [...rt.serialLinks];
  new Gauge({
    name: 'mcps_gateway_serial_port_state',
    help: 'Each serial port of the flow: 1 for its current state of connecting, open, stale (no valid frame within its limit; being reopened), error, closed.',
    labelNames: ['port', 'device', 'state'],
    registers,
    collect() {
      this.reset();
      for (const l of links()) for (const s of LINK_STATES) this.set({ port: l.status.path, device: l.deviceId, state: s }, l.status.state === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'mcps_gateway_serial_last_byte_age_seconds',
    help: 'Seconds since the serial port last delivered a byte (since it was opened when none yet).',
    labelNames: ['port', 'device'],
    registers,
    collect() {
      this.reset();
      const t = now();
      for (const l of links()) {
        const since = l.status.lastByteAt ?? l.status.openedAt;
        if (since !== null) this.set({ port: l.status.path, device: l.deviceId }, Math.max(0, (t - since) / 1000));
      }
    },
  });
  new Gauge({
    name: 'mcps_gateway_serial_last_frame_age_seconds',
    help: 'Seconds since the serial port last delivered a valid frame (since it was opened when none yet).',
    labelNames: ['port', 'device'],
    registers,
    collect() {
      this.reset();
      const t = now();
      for (const l of links()) {
        const since = l.status.lastFrameAt ?? l.status.openedAt;
        if (since !== null) this.set({ port: l.status.path, device: l.deviceId }, Math.max(0, (t - since) / 1000));
      }
    },
  });
  new Counter({
    name: 'mcps_gateway_serial_reopens_total',
    help: 'Serial port reopens, by reason: error (an error, a hang-up or an unplugged device) or stale (no valid frame within its limit).',
    labelNames: ['port', 'device', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const l of links()) {
        setCounter(this, l.status.reopens.error, { port: l.status.path, device: l.deviceId, reason: 'error' });
        setCounter(this, l.status.reopens.stale, { port: l.status.path, device: l.deviceId, reason: 'stale' });
      }
    },
  });
  new Counter({
    name: 'mcps_gateway_serial_stale_total',
    help: 'Times a serial port went stale (one per silent period, however many reopens it took).',
    labelNames: ['port', 'device'],
    registers,
    collect() {
      this.reset();
      for (const l of links()) setCounter(this, l.status.staleEvents, { port: l.status.path, device: l.deviceId });
    },
  });

  // MQTT broker
  gauge('mcps_gateway_mqtt_clients_connected', 'MQTT clients connected to the embedded broker.', () => rt.broker?.counters.clientsConnected ?? 0);
  counter('mcps_gateway_mqtt_auth_failures_total', 'MQTT logins refused (unknown device, wrong password, username not the client id).', () => rt.broker?.counters.authFailures ?? 0);
  counter('mcps_gateway_mqtt_acl_denied_total', "MQTT publishes or subscriptions refused by the per-device topic ACL.", () => rt.broker?.counters.aclDenied ?? 0);
  counter('mcps_gateway_mqtt_publishes_refused_total', 'MQTT readings not acknowledged because they could not be stored (the device sends them again).', () => rt.broker?.counters.publishesRefused ?? 0);
  return reg;
}
