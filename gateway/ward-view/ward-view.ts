/**
 * The live ward view, served by the gateway's own HTTP server next to the Node-RED editor:
 *   GET /ward         the page (static HTML, no data in it);
 *   GET /ward/state   the current snapshot as JSON, only with the editor's login (Node-RED's bearer
 *                     token, permission flows.read), recomputed at most once per `minIntervalMs` however
 *                     many browsers poll, so a browser never slows ingest.
 * Readings reach WardState through the runtime's `reading` event (O(1) per reading); device alarms
 * and last wills through in-process subscriptions on the embedded broker; refusals through
 * `dead-letter`; the gateway's state from its metrics.
 *
 * Why a page of our own rather than Node-RED Dashboard 2.0: the view has to sit behind the editor's
 * login (Dashboard 2.0 serves on the flows' HTTP root with its own auth story), read the runtime
 * directly instead of routing 1000 readings/s through flow messages and websocket widgets, and stay a
 * few kilobytes with no Vue/Vuetify bundle to install on a Pi. docs/ward-view.md says more.
 */
import { gzipSync } from 'node:zlib';
import type { Request, RequestHandler, Response, Router } from 'express';
import type { PublishPacket } from 'aedes';
import type { DeadLetter } from '../ingest/dead-letter';
import type { DeviceChanges } from '../ingest/device-credentials';
import type { OutboxItem } from '../outbox/outbox';
import type { SignedReceipt } from '../../protocol/submission';
import { deviceTopicOwner } from '../ingest/broker';
import type { GatewayRuntime } from '../runtime';
import type { Reading } from '../../protocol/reading';
import { WardState, type WardOptions, type WardSnapshot } from './ward-state';
import { WARD_PAGE } from './ward-page';

export interface GatewaySnapshot {
  readonly gatewayId: string;
  readonly flowsRunning: boolean;
  readonly readingsIn: number;
  readonly readingsPerS: number;
  readonly readingsRejected: number;
  readonly journalDepth: number;
  readonly outboxPending: number;
  readonly batchesSealed: number;
  readonly batchesAnchored: number;
  readonly submitFailures: number;
  readonly lastAnchored: { seq: number; count: number; txHash: string; blockNumber: number; nodeId: string; at: number } | null;
  readonly chainNode: { nodeId: string; url: string } | null;
  readonly registration: string;
  readonly storage: { bytes: number; budgetBytes: number; state: string };
  readonly lastError: string | null;
}

export interface WardViewOptions extends WardOptions {
  readonly runtime: GatewayRuntime;
  /** Node-RED's admin app (RED.httpAdmin) and its permission check (RED.auth.needsPermission). */
  readonly admin: Router;
  readonly needsPermission: (permission: string) => RequestHandler;
  readonly flowsRunning: () => boolean;
  /** The snapshot is recomputed at most this often (default 1000 ms). */
  readonly minIntervalMs?: number;
  readonly now?: () => number;
}

export interface WardView {
  /** The current snapshot (cached up to minIntervalMs). */
  snapshot(): { ward: WardSnapshot; gateway: GatewaySnapshot };
  stop(): Promise<void>;
}

/**
 * The device a dead letter came from, where its source names one: an MQTT topic ("mqtt:<topic>",
 * "decode:<topic>") or an HL7 monitor ("hl7:<peer> <device>"). Serial sources name only the port.
 */
export function refusedDevice(source: string): string | undefined {
  const topic = /^(?:mqtt|decode):(.*)$/.exec(source);
  if (topic) return deviceTopicOwner(topic[1]);
  return /^hl7:\S+ (\S+)$/.exec(source)?.[1];
}

export function mountWardView(o: WardViewOptions): WardView {
  const now = o.now ?? Date.now;
  const rt = o.runtime;
  const ward = new WardState(o);
  const minInterval = o.minIntervalMs ?? 1_000;
  let lastAnchored: GatewaySnapshot['lastAnchored'] = null;
  let rate = { at: now(), count: rt.metrics.readingsIn, perS: 0 };
  let cached: { at: number; value: { ward: WardSnapshot; gateway: GatewaySnapshot }; json?: string; gzip?: Buffer } | null = null;
  let stopped = false;

  const syncRegistered = (): void => {
    for (const d of rt.devices.list()) ward.register(d.id, d.patient);
  };
  syncRegistered();
  const onReading = (r: Reading): void => ward.reading(r, now());
  const onDeadLetter = (d: DeadLetter): void => {
    const device = refusedDevice(d.source);
    if (device) ward.refused(device, d.reason, now());
  };
  const onDevicesChanged = (c: DeviceChanges): void => {
    for (const id of c.removed) ward.unregister(id);
    syncRegistered();
  };
  const onReceipt = (_item: OutboxItem, r: SignedReceipt): void => {
    lastAnchored = { seq: r.receipt.seq, count: r.receipt.count, txHash: r.receipt.txHash, blockNumber: r.receipt.blockNumber, nodeId: r.receipt.nodeId, at: now() };
  };
  rt.on('reading', onReading);
  rt.on('dead-letter', onDeadLetter);
  rt.on('devices-changed', onDevicesChanged);
  rt.on('receipt', onReceipt);

  // Device alarm events and last wills from the embedded broker (not anchored: passed to flows and here).
  const aedes = rt.broker?.aedes;
  const onAlarm = (packet: PublishPacket, cb: () => void): void => {
    const id = deviceTopicOwner(packet.topic);
    try {
      const body = JSON.parse(packet.payload.toString()) as { alarm?: unknown; active?: unknown };
      if (id && typeof body.alarm === 'string') ward.deviceAlarm(id, rt.devices.get(id)?.patient ?? 'unknown', body.alarm.slice(0, 40), body.active !== false, now());
    } catch {
      /* not JSON: the flow's nodes report it; the view ignores it */
    }
    cb();
  };
  const onStatus = (packet: PublishPacket, cb: () => void): void => {
    const id = deviceTopicOwner(packet.topic);
    const s = packet.payload.toString().trim();
    if (id && (s === 'online' || s === 'offline')) ward.deviceAnnounced(id, s === 'online');
    cb();
  };
  aedes?.subscribe('mcps/devices/+/alarms', onAlarm, () => undefined);
  aedes?.subscribe('mcps/devices/+/status', onStatus, () => undefined);

  const gateway = (t: number): GatewaySnapshot => {
    rt.refreshMetrics();
    const m = rt.metrics;
    if (t - rate.at >= 1_000) rate = { at: t, count: m.readingsIn, perS: Math.round(((m.readingsIn - rate.count) * 1000) / (t - rate.at)) };
    const chain = rt.chainNode;
    return {
      gatewayId: rt.gatewayId,
      flowsRunning: o.flowsRunning(),
      readingsIn: m.readingsIn,
      readingsPerS: rate.perS,
      readingsRejected: m.readingsRejected,
      journalDepth: m.journalUnsealed,
      outboxPending: m.outboxPending,
      batchesSealed: m.batchesSealed,
      batchesAnchored: m.batchesAnchored,
      submitFailures: m.submitFailures,
      lastAnchored: lastAnchored ?? (m.lastTx ? { seq: -1, count: 0, txHash: m.lastTx, blockNumber: -1, nodeId: '', at: 0 } : null),
      chainNode: chain ? { nodeId: chain.nodeId, url: chain.url } : null,
      registration: m.registration,
      storage: { bytes: m.storageBytes, budgetBytes: m.storageBudgetBytes, state: m.storageState },
      lastError: m.lastError,
    };
  };

  const snapshot = (): { ward: WardSnapshot; gateway: GatewaySnapshot } => {
    const t = now();
    if (!cached || t - cached.at >= minInterval) cached = { at: t, value: { ward: ward.snapshot(t), gateway: gateway(t) } };
    return cached.value;
  };

  o.admin.get('/ward', (_req: Request, res: Response) => {
    res.set({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:" });
    res.send(WARD_PAGE);
  });
  // The answer is encoded (and gzipped) once per snapshot, whatever the number of browsers.
  o.admin.get('/ward/state', o.needsPermission('flows.read'), (req: Request, res: Response) => {
    if (stopped) return void res.status(503).json({ error: 'the gateway is stopping' });
    snapshot();
    const c = cached!;
    c.json ??= JSON.stringify(c.value);
    res.set({ 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8', vary: 'accept-encoding' });
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      c.gzip ??= gzipSync(c.json, { level: 6 });
      res.set('content-encoding', 'gzip').send(c.gzip);
    } else res.send(c.json);
  });

  return {
    snapshot,
    async stop() {
      stopped = true;
      rt.off('reading', onReading);
      rt.off('dead-letter', onDeadLetter);
      rt.off('devices-changed', onDevicesChanged);
      rt.off('receipt', onReceipt);
      if (aedes) {
        await new Promise<void>((r) => aedes.unsubscribe('mcps/devices/+/alarms', onAlarm, () => r()));
        await new Promise<void>((r) => aedes.unsubscribe('mcps/devices/+/status', onStatus, () => r()));
      }
    },
  };
}
