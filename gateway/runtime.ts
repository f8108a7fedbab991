/**
 * The gateway runtime: the services our Node-RED nodes use, created once per gateway process and
 * handed to Node-RED as the `mcpsRuntime` setting.
 *
 * Nodes stay thin adapters. Every reading enters through `ingest` (serial nodes) or the broker's
 * publish hook (`ingestMqtt`): it is journaled and synced before it is acknowledged or passed to the
 * flow, and it travels through the flow with its journal id. The batch node closes windows, the seal
 * node calls `sealBatch`, which takes the readings out of the journal in the same transaction that
 * queues the batch. Readings the flow never brings to a seal (a crash, a flow that drops them) are
 * sealed from the journal by `sweepJournal`: at start, and when they have waited `orphanAfterMs`.
 * Counters live here so the status line and `mcps up` see one truth.
 */
import type { LogFn } from '../common/log';
import { registrationState, type IdentityFacts, type RegistrationState } from './identity/identity-check';
import type { RegistryRecord } from '../protocol/handshake/registry';
import type { ChainTarget, FailoverChainClient } from './chain/failover-client';
import type { Recorder } from './ingest/recorder';
import type { SerialLinkStatus } from './ingest/serial-link';
import type { ChainClientStats } from './chain/chain-client';
import type { SerialFormat } from './ingest/serial-settings';
import { EventEmitter } from 'node:events';
import type { Reading } from '../protocol/reading';
import type { SignedReceipt } from '../protocol/submission';
import type { GatewayBroker } from './ingest/broker';
import type { DeadLetter, DeadLetterFile } from './ingest/dead-letter';
import type { DeviceChanges, DeviceCredentials } from './ingest/device-credentials';
import { dedupeKey, type ReadingJournal } from './journal/journal';
import { newMetrics, type GatewayMetrics } from './metrics';
import { readingFromMqtt } from './ingest/mqtt-reading';
import type { Outbox, OutboxItem } from './outbox/outbox';
import type { SealEntry, Sealer } from './sealing/sealer';
import { StorageFullError, type StorageBudget } from './journal/storage-budget';

export type { LogFn };

/** A journaled reading from an MQTT device, as the mcps-mqtt-device node receives it. */
export interface MqttReadingEvent {
  readonly topic: string;
  readonly reading: Reading;
  readonly journalId: number;
}

export interface MqttRejectedEvent {
  readonly topic: string;
  readonly payload: Buffer;
  readonly reason: string;
}

export interface GatewayRuntimeEvents {
  /** Close every open batch window now (drain before stop). */
  flush: [];
  receipt: [OutboxItem, SignedReceipt];
  /** A submission of batch `item` failed (it stays queued and is retried). */
  failure: [OutboxItem, string, number];
  'mqtt-reading': [MqttReadingEvent];
  /**
   * The same readings, grouped: every reading of the embedded broker journaled by one commit (one
   * fsync) arrives in one event, in arrival order. For nodes that pass readings on in groups (one
   * Node-RED message per group instead of one per reading).
   */
  'mqtt-readings': [MqttReadingEvent[]];
  'mqtt-rejected': [MqttRejectedEvent];
  /** A reading was journaled (accepted); for live views (gateway/ward-view/), which must stay O(1) per reading. */
  reading: [Reading];
  /** Input was refused and kept aside as a dead letter. */
  'dead-letter': [DeadLetter];
  /** devices.json was reloaded (gateway/ingest/device-watch.ts): listeners drop sessions of removed and changed devices. */
  'devices-changed': [DeviceChanges];
}

export interface GatewayRuntimeParts {
  gatewayId: string;
  broker: GatewayBroker | null;
  devices: DeviceCredentials;
  deadLetters: DeadLetterFile;
  journal: ReadingJournal;
  budget: StorageBudget;
  sealer: Sealer;
  outbox: Outbox;
  log: LogFn;
  /** Unsealed journal entries older than this are sealed by the sweep (default 5 min). */
  orphanAfterMs?: number;
  /** Readings per batch when the sweep seals (default 500). */
  sweepBatchSize?: number;
  /** Records what arrives, for replay (`record` in the gateway config); none by default. */
  recorder?: Recorder | null;
  /** Builds a client for the given chain nodes with this gateway's identity (for mcps-chain-node). */
  chainClientFor?: (targets: ChainTarget[]) => FailoverChainClient;
  /** The chain nodes of the gateway's own configuration. */
  defaultChainTargets?: ChainTarget[];
  /** Handshakes, their failures and failovers of every chain-node client of this gateway (metrics). */
  chainStats?: ChainClientStats;
  /** Who this gateway is, and how to look it up in the registry (for mcps-gateway-identity). */
  identity?: IdentityFacts & { lookup(id: string): Promise<RegistryRecord | undefined> };
}

export class GatewayRuntime extends EventEmitter<GatewayRuntimeEvents> {
  readonly metrics: GatewayMetrics = newMetrics();
  /** Batches handed to the sealer and not yet queued in the outbox. */
  #sealing = 0;
  #broker: GatewayBroker | null;

  constructor(readonly parts: GatewayRuntimeParts) {
    super();
    this.#broker = parts.broker;
    parts.outbox.on('receipt', (item, receipt) => {
      this.metrics.batchesAnchored++;
      this.metrics.readingsAnchored += item.count;
      this.metrics.lastTx = receipt.receipt.txHash;
      this.metrics.outboxPending = parts.outbox.pending;
      this.emit('receipt', item, receipt);
    });
    this.refreshMetrics();
  }

  #intakeClosed: string | null = null;

  /**
   * From now on no reading is accepted (shutdown: what is held is drained, new input is refused,
   * unacknowledged, so devices and monitors send it again later).
   */
  closeIntake(reason: string): void {
    this.#intakeClosed = reason;
  }

  get gatewayId(): string {
    return this.parts.gatewayId;
  }

  get log(): LogFn {
    return this.parts.log;
  }

  get broker(): GatewayBroker | null {
    return this.#broker;
  }

  /** The broker is started after the runtime (its publish hook calls into the runtime). */
  attachBroker(b: GatewayBroker): void {
    this.#broker = b;
  }

  get devices(): DeviceCredentials {
    return this.parts.devices;
  }

  readonly #openPorts = new Set<string>();

  /** The serial links of the running flow, read by the metrics at scrape time (the data path never looks). */
  readonly serialLinks = new Set<{ readonly deviceId: string; readonly status: SerialLinkStatus }>();

  /** Serial links report whether their port is open. */
  serialState(path: string, open: boolean): void {
    if (open) this.#openPorts.add(path);
    else this.#openPorts.delete(path);
    this.metrics.serialPortsOpen = this.#openPorts.size;
  }

  /**
   * Journals a reading. Resolves with its journal id once it is on disk, or `duplicate` when the
   * same reading (by its dedupe key) was journaled before. Rejects with StorageFullError at the
   * disk budget, or when the journal cannot write; the reading is then not accepted.
   */
  async ingest(r: Reading, key?: string): Promise<{ journalId: number } | { duplicate: true }> {
    if (this.#intakeClosed) throw new Error(this.#intakeClosed);
    const budget = this.parts.budget;
    if (budget.check() === 'full') {
      this.metrics.readingsRefusedFull++;
      this.refreshMetrics();
      throw new StorageFullError(budget.bytes, budget.budgetBytes);
    }
    const res = await this.parts.journal.append(r, key);
    if (res.duplicate) {
      this.metrics.duplicatesDropped++;
      return { duplicate: true };
    }
    this.metrics.readingsIn++;
    if (this.listenerCount('reading') > 0) this.emit('reading', r);
    return { journalId: res.id };
  }

  /**
   * The broker's hook for a device's publish to its readings topic, called BEFORE the broker sends
   * the PUBACK: valid readings are journaled first (so the PUBACK means "on disk"), invalid ones are
   * kept aside as dead letters and acknowledged (sending them again would not make them valid).
   * Rejects only when the reading could not be stored: the publish is then refused and the device
   * keeps the message.
   */
  async ingestMqtt(topic: string, device: string, payload: Buffer): Promise<void> {
    const r = await this.acceptMqtt(topic, device, payload);
    if ('rejected' in r) this.emit('mqtt-rejected', { topic, payload, reason: r.rejected });
    else if ('journalId' in r) {
      const ev = { topic, reading: r.reading, journalId: r.journalId };
      if (this.listenerCount('mqtt-reading') > 0) this.emit('mqtt-reading', ev);
      // A journal group is acknowledged in one go; its readings are gathered for one event after
      // this turn (the PUBACKs do not wait for it).
      this.#delivered.push(ev);
      if (this.#delivered.length === 1) setImmediate(this.#deliver);
    }
  }

  #delivered: MqttReadingEvent[] = [];
  readonly #deliver = (): void => {
    const group = this.#delivered;
    this.#delivered = [];
    if (group.length > 0) this.emit('mqtt-readings', group);
  };

  /**
   * One MQTT reading message, from the embedded broker or from an external one (mcps-mqtt-broker):
   * validated against the device's registration, journaled (synced) when valid, kept aside as a dead
   * letter when not. Resolves once the outcome is durable, so the caller acknowledges after it;
   * rejects only when the reading could not be stored. A device the gateway does not know (possible
   * on an external broker, whose logins are not ours) is refused.
   */
  async acceptMqtt(topic: string, device: string, payload: Buffer): Promise<{ reading: Reading; journalId: number } | { duplicate: true } | { rejected: string }> {
    this.parts.recorder?.mqtt({ topic, deviceId: device, payload });
    let reading: Reading;
    try {
      const registered = this.devices.get(device);
      if (!registered) throw new RangeError(`message on ${topic}: device "${device}" is not registered on this gateway`);
      reading = readingFromMqtt(topic, payload, device, registered.patient, Date.now());
      if (registered.kinds && !registered.kinds.includes(reading.kind)) throw new RangeError(`message on ${topic}: device "${device}" is registered for ${registered.kinds.join(', ')}, not ${reading.kind}`);
    } catch (err) {
      const reason = (err as Error).message;
      this.reject({ at: Date.now(), source: `mqtt:${topic}`, reason, raw: payload });
      return { rejected: reason };
    }
    const res = await this.ingest(reading, dedupeKey(reading));
    return 'journalId' in res ? { reading, journalId: res.journalId } : res;
  }

  #defaultClient: Outbox['client'] | null = null;
  #chainClient: FailoverChainClient | null = null;

  /**
   * The chain nodes batches go to, from a flow's mcps-chain-node configuration; null: back to the
   * gateway configuration's. Takes effect from the outbox's next attempt.
   */
  useChainNodes(targets: ChainTarget[] | null): FailoverChainClient | null {
    const outbox = this.parts.outbox;
    this.#defaultClient ??= outbox.client;
    if (targets === null || !this.parts.chainClientFor) {
      outbox.setClient(this.#defaultClient);
      this.#chainClient = null;
      return null;
    }
    this.#chainClient = this.parts.chainClientFor(targets);
    outbox.setClient(this.#chainClient);
    return this.#chainClient;
  }

  /** The chain node batches currently go to, when a flow set them. */
  get chainNode(): ChainTarget | null {
    return this.#chainClient?.current ?? this.parts.defaultChainTargets?.[0] ?? null;
  }

  get identity(): IdentityFacts | null {
    const i = this.parts.identity;
    return i ? { gatewayId: i.gatewayId, publicKey: i.publicKey, registry: i.registry } : null;
  }

  /** This gateway's entry in the on-chain registry, read now, against its own key. */
  async checkRegistration(): Promise<{ state: RegistrationState; epoch?: number }> {
    const i = this.parts.identity;
    if (!i) throw new Error('this runtime has no identity to check');
    const r = registrationState(await i.lookup(i.gatewayId), i);
    this.metrics.registration = r.state;
    return r;
  }

  /** An HL7 message as it came over MLLP, for the recording (if one is on). */
  recordHl7(e: { peer: string; data: Uint8Array }): void {
    this.parts.recorder?.hl7(e);
  }

  /** Bytes as they came from a serial port, for the recording (if one is on). */
  recordSerial(e: { format: SerialFormat; deviceId: string; patient: string; data: Uint8Array }): void {
    this.parts.recorder?.serial(e);
  }

  reject(d: DeadLetter): void {
    this.metrics.readingsRejected++;
    this.metrics.lastError = `${d.source}: ${d.reason}`;
    this.parts.deadLetters.add(d);
    if (this.listenerCount('dead-letter') > 0) this.emit('dead-letter', d);
  }

  /** Seals the readings as a batch and queues it; null when all of them were sealed already. */
  async sealBatch(entries: readonly SealEntry[]): Promise<OutboxItem | null> {
    this.#sealing++;
    try {
      const item = await this.parts.sealer.seal(entries);
      if (item) {
        this.metrics.batchesSealed++;
        this.metrics.readingsSealed += item.count;
      }
      this.refreshMetrics();
      return item;
    } finally {
      this.#sealing--;
    }
  }

  /**
   * Seals journaled readings that have waited longer than `olderThanMs` (0: all of them) in batches
   * of `sweepBatchSize`. At start this rebuilds what a crash left half-built; while running it
   * catches readings a flow never brought to a seal node. A reading the flow seals later is then
   * left out of that batch (see Sealer), so nothing is sealed twice.
   */
  async sweepJournal(olderThanMs: number): Promise<number> {
    const size = this.parts.sweepBatchSize ?? 500;
    const cutoff = olderThanMs === 0 ? Number.MAX_SAFE_INTEGER : Date.now() - olderThanMs;
    let sealed = 0;
    for (;;) {
      const entries = this.parts.journal.unsealed(size, cutoff);
      if (entries.length === 0) break;
      const item = await this.sealBatch(entries.map((e) => ({ reading: e.reading, journalId: e.id })));
      sealed += item?.count ?? 0;
      if (entries.length < size) break;
    }
    this.metrics.readingsSwept += sealed;
    return sealed;
  }

  #sweepTimer: NodeJS.Timeout | null = null;
  #pruneTimer: NodeJS.Timeout | null = null;

  /** Starts the periodic sweep of orphaned journal entries and the pruning of dedupe keys. */
  startSweeping(everyMs = 30_000): void {
    const orphanAfterMs = this.parts.orphanAfterMs ?? 300_000;
    // Dedupe keys age out a few thousand at a time (journal.ts, pruneSeen), so each call is short.
    this.#pruneTimer = setInterval(() => this.parts.journal.pruneSeen(), 2_000);
    this.#pruneTimer.unref();
    this.#sweepTimer = setInterval(() => {
      this.sweepJournal(orphanAfterMs).then(
        (n) => {
          if (n > 0) this.log('warn', `journal: sealed ${n} readings that waited over ${orphanAfterMs / 1000} s for a seal node (is every input wired to a batch and a seal node?)`, { component: 'journal', event: 'swept', count: n });
        },
        (err: unknown) => this.log('error', `journal sweep: ${(err as Error).message}`, { component: 'journal', event: 'sweep-failed' }),
      );
    }, everyMs);
    this.#sweepTimer.unref();
  }

  stopSweeping(): void {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    this.#pruneTimer = null;
  }

  refreshMetrics(): void {
    const m = this.metrics;
    const { journal, budget, outbox, sealer } = this.parts;
    m.outboxPending = outbox.pending;
    m.journalUnsealed = journal.unsealedCount;
    m.journalCommits = journal.stats.commits;
    m.journalMaxGroup = journal.stats.maxGroup;
    m.alreadySealed = sealer.alreadySealed;
    m.storageBytes = budget.bytes;
    m.storageBudgetBytes = budget.budgetBytes;
    m.storageState = budget.state;
  }

  /**
   * Closes all windows and waits until the journal is empty (every accepted reading sealed) and
   * every sealed batch has its receipt. Node-RED delivers messages asynchronously, so a flush is
   * followed by watching the journal, not by trusting one round trip. Readings a flow holds back
   * (no batch node, a window that ignores flush) are sealed by a final sweep.
   */
  async drain(timeoutMs = 120_000): Promise<void> {
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    const deadline = Date.now() + timeoutMs;
    let lastSweep = Date.now();
    for (;;) {
      this.emit('flush');
      await sleep(50);
      while (this.#sealing > 0) await sleep(20);
      const unsealed = this.parts.journal.unsealedCount;
      if (unsealed > 0 && Date.now() - lastSweep > 5000) {
        // The flow had its chance (a backlog, or readings it holds back): seal the rest from the
        // journal. Batches the flow closes later leave these readings out.
        lastSweep = Date.now();
        const n = await this.sweepJournal(0);
        if (n > 0) this.log('info', `drain: sealed ${n} journaled readings from the journal directly`);
        continue;
      }
      if (unsealed === 0 && this.#sealing === 0) {
        await Promise.race([this.parts.outbox.drained(), sleep(Math.max(0, deadline - Date.now()))]);
        this.refreshMetrics();
        if (this.parts.outbox.pending === 0 || Date.now() > deadline) return;
      }
      if (Date.now() > deadline) {
        this.log('warn', `drain: ${unsealed} journaled readings still unsealed after ${timeoutMs} ms`);
        return;
      }
      await sleep(100);
    }
  }
}

/** How nodes find the runtime: Node-RED exposes user settings to nodes as RED.settings.<key>. */
export const RUNTIME_SETTING = 'mcpsRuntime';
