/**
 * The gateway runtime: the services our Node-RED nodes use, created once per gateway process and
 * handed to Node-RED as the `mcpsRuntime` setting.
 *
 * Nodes stay thin adapters: an input node validates and calls `acceptReading`, the batch node closes
 * windows and calls `sealer.seal`, the forward node listens for receipts. Counters live here so the
 * status line and `mcps up` see one truth.
 */
import { EventEmitter } from 'node:events';
import type { Reading } from '../protocol/reading';
import type { SignedReceipt } from '../protocol/submission';
import type { GatewayBroker } from './broker';
import type { DeadLetter, DeadLetterFile } from './dead-letter';
import type { DeviceCredentials } from './device-credentials';
import { newMetrics, type GatewayMetrics } from './metrics';
import type { Outbox, OutboxItem } from './outbox';
import type { Sealer } from './sealer';

export type LogFn = (level: 'info' | 'warn' | 'error', msg: string) => void;

export interface GatewayRuntimeEvents {
  /** Close every open batch window now (drain before stop). */
  flush: [];
  receipt: [OutboxItem, SignedReceipt];
  /** A submission of batch `item` failed (it stays queued and is retried). */
  failure: [OutboxItem, string, number];
}

export interface GatewayRuntimeParts {
  gatewayId: string;
  broker: GatewayBroker | null;
  devices: DeviceCredentials;
  deadLetters: DeadLetterFile;
  sealer: Sealer;
  outbox: Outbox;
  log: LogFn;
}

export class GatewayRuntime extends EventEmitter<GatewayRuntimeEvents> {
  readonly metrics: GatewayMetrics = newMetrics();
  /** Batches handed to the sealer and not yet queued in the outbox. */
  #sealing = 0;

  constructor(readonly parts: GatewayRuntimeParts) {
    super();
    parts.outbox.on('receipt', (item, receipt) => {
      this.metrics.batchesAnchored++;
      this.metrics.readingsAnchored += item.count;
      this.metrics.lastTx = receipt.receipt.txHash;
      this.metrics.outboxPending = parts.outbox.pending;
      this.emit('receipt', item, receipt);
    });
  }

  get gatewayId(): string {
    return this.parts.gatewayId;
  }

  get log(): LogFn {
    return this.parts.log;
  }

  get broker(): GatewayBroker | null {
    return this.parts.broker;
  }

  get devices(): DeviceCredentials {
    return this.parts.devices;
  }

  readonly #openPorts = new Set<string>();

  /** Serial links report whether their port is open. */
  serialState(path: string, open: boolean): void {
    if (open) this.#openPorts.add(path);
    else this.#openPorts.delete(path);
    this.metrics.serialPortsOpen = this.#openPorts.size;
  }

  acceptReading(_r: Reading): void {
    this.metrics.readingsIn++;
  }

  reject(d: DeadLetter): void {
    this.metrics.readingsRejected++;
    this.metrics.lastError = `${d.source}: ${d.reason}`;
    this.parts.deadLetters.add(d);
  }

  async sealBatch(readings: readonly Reading[]): Promise<OutboxItem> {
    this.#sealing++;
    try {
      const item = await this.parts.sealer.seal(readings);
      this.metrics.batchesSealed++;
      this.metrics.readingsSealed += item.count;
      this.metrics.outboxPending = this.parts.outbox.pending;
      return item;
    } finally {
      this.#sealing--;
    }
  }

  /**
   * Closes all windows and waits until every accepted reading is sealed and every sealed batch has
   * its receipt. Node-RED delivers messages asynchronously, so a flush is followed by checking the
   * counters, not by trusting one round trip; a flow that drops readings on purpose ends the wait at
   * the deadline with a warning.
   */
  async drain(timeoutMs = 120_000): Promise<void> {
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.emit('flush');
      await sleep(50);
      while (this.#sealing > 0) await sleep(20);
      await this.parts.outbox.drained();
      const m = this.metrics;
      if (m.readingsSealed >= m.readingsIn && this.#sealing === 0 && this.parts.outbox.pending === 0) return;
      if (Date.now() > deadline) {
        this.log('warn', `drain: ${m.readingsIn - m.readingsSealed} accepted readings were not sealed within ${timeoutMs} ms (is every input wired to a batch node?)`);
        return;
      }
      await sleep(100);
    }
  }
}

/** How nodes find the runtime: Node-RED exposes user settings to nodes as RED.settings.<key>. */
export const RUNTIME_SETTING = 'mcpsRuntime';
