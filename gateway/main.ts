/**
 * Starts one gateway: keys, device credentials, the MQTT broker, the sealer and outbox, and the
 * embedded Node-RED with our nodes and the default flow. `mcps gateway --config FILE` runs it as a
 * process; `mcps up` forks that process and talks to it over IPC.
 */
import { FailoverChainClient, type ChainTarget } from './chain/failover-client';
import { Recorder } from './ingest/recorder';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadOrCreateKey, readKeyFile } from '../common/key-file';
import { PATIENT_TAG_KEY_KIND } from '../common/key-kinds';
import { startBroker, type GatewayBroker } from './ingest/broker';
import { ChainRegistry } from '../contracts/chain-registry';
import { registryReaderFor } from '../contracts/registry-reader';
import { ChainNodeClient } from './chain/chain-client';
import { listenerTls, mqttPort, type GatewayConfig } from './config';
import { checkPlaintextListener, loadCa, loadTlsMaterial, type TlsMaterial } from '../common/tls';
import { DeadLetterFile } from './ingest/dead-letter';
import { DeviceCredentials } from './ingest/device-credentials';
import { closeDeviceSessions, watchDevices } from './ingest/device-watch';
import { lockDataDir, type DirLock } from '../common/dir-lock';
import { loadOrCreateEditorCredentials } from './host/editor-credentials';
import { gatewayKeyPath, loadGatewayIdentity } from './identity/identity';
import { nextKeyPath } from '../common/key-rotation';
import { existsSync } from 'node:fs';
import { startNodeRed, type NodeRedHost } from './host/node-red-host';
import { Outbox } from './outbox/outbox';
import { GatewayRuntime, type LogFn } from './runtime';
import { Sealer } from './sealing/sealer';
import { SEAL_WORKER_OLD_SPACE_MB, SealWorker } from './sealing/seal-worker';
import { OutboxStore } from './outbox/outbox-store';
import { ReadingJournal } from './journal/journal';
import { openStateDb, stateDbBytes } from './journal/state-db';
import { StorageBudget } from './journal/storage-budget';
import { statSync } from 'node:fs';
import { mclPairing, mclSigner } from '../common/mcl-pairing';
import { noblePairing, signatureVerifier } from '../protocol/handshake';
import { nobleSigner, SIG_DST } from '../protocol/bls';
import { newChainClientStats } from './chain/chain-client';
import { probeWritable } from './journal/state-db';
import { startMonitoringServer, type MonitoringServer } from '../common/monitoring-server';
import { gatewayRegistry } from './monitoring/gateway-metrics';
import { gatewayReadiness } from './monitoring/readiness';

export interface RunningGateway {
  readonly runtime: GatewayRuntime;
  readonly editorUrl: string;
  readonly editorCredentialsPath: string;
  readonly mqttPort: number;
  /** mqtt://host:port or mqtts://host:port: where devices connect. */
  readonly mqttUrl: string;
  /** Base URL of the monitoring listener (…/metrics, …/healthz, …/readyz), when configured. */
  readonly metricsUrl: string | null;
  drain(timeoutMs?: number): Promise<void>;
  /**
   * Stops taking readings (the broker closes: devices keep what was not acknowledged; HL7 and
   * serial input is refused), seals and forwards what is held for at most `deadlineMs`, then stops.
   */
  shutdown(deadlineMs: number): Promise<{ drained: boolean; left: string }>;
  stop(): Promise<void>;
}

export function devicesPath(dataDir: string): string {
  return join(dataDir, 'devices.json');
}

export function patientTagKeyPath(cfg: Pick<GatewayConfig, 'dataDir' | 'patientTagKeyFile'>): string {
  return cfg.patientTagKeyFile ?? join(cfg.dataDir, 'keys', 'patient-tag.key');
}

/** The hospital's patient tag key, given to this gateway by the hospital (never created here). */
export function loadPatientTagKey(path: string): Uint8Array {
  try {
    const k = readKeyFile(path, PATIENT_TAG_KEY_KIND);
    if (k.length !== 32) throw new Error(`holds ${k.length} bytes, expected 32`);
    return k;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`no patient tag key at ${path}: the hospital's key (kind "${PATIENT_TAG_KEY_KIND}") must be installed there with mode 0600 before the gateway can seal batches (docs/sharing.md, "Keys")`);
    }
    throw err;
  }
}

/** When a rotated key waits to be promoted: the key the registry lists for this gateway now (null if unknown). */
async function rotatedKeyInRegistry(cfg: GatewayConfig): Promise<Uint8Array | null> {
  if (!existsSync(nextKeyPath(gatewayKeyPath(cfg.dataDir)))) return null;
  const reader = registryReaderFor(cfg.chain.rpcUrl, cfg.chain.registry);
  try {
    const e = await reader.getEntry(cfg.gatewayId);
    return e?.role === 'gateway' && e.active ? e.blsPublicKey : null;
  } catch {
    return null;
  } finally {
    reader.destroy();
  }
}

export async function runGateway(cfg: GatewayConfig, log: LogFn): Promise<RunningGateway> {
  // One process per data directory: a second one stops here, naming the holder (common/dir-lock.ts).
  const lock = lockDataDir(cfg.dataDir);
  try {
    return await startGateway(cfg, log, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * The box's TLS files, read and checked before anything starts, and the plaintext policy for each
 * listener: plaintext off loopback only with allowPlaintext (a warning each start).
 */
function gatewayTls(cfg: GatewayConfig, log: LogFn): { material: TlsMaterial | null; chainNodeCa: Buffer | undefined } {
  const material = cfg.tls ? loadTlsMaterial(cfg.tls, 'tls') : null;
  if (!listenerTls(cfg, 'mqtt')) checkPlaintextListener('the MQTT broker (mqtt)', cfg.mqtt.host, cfg.allowPlaintext, log);
  if (!listenerTls(cfg, 'editor')) checkPlaintextListener('the Node-RED editor and admin API (editor)', cfg.editor.host, cfg.allowPlaintext, log);
  if (cfg.metrics && !listenerTls(cfg, 'metrics')) checkPlaintextListener('the monitoring listener (metrics)', cfg.metrics.host, cfg.allowPlaintext, log);
  const caFile = cfg.chainNode.ca ?? cfg.tls?.ca;
  const chainNodeCa = cfg.chainNode.url.startsWith('https:') && caFile ? loadCa(caFile, cfg.chainNode.ca ? 'chainNode.ca' : 'tls.ca') : undefined;
  return { material, chainNodeCa };
}

async function startGateway(cfg: GatewayConfig, log: LogFn, lock: DirLock): Promise<RunningGateway> {
  const tls = gatewayTls(cfg, log);
  for (const [name, path] of Object.entries(cfg.serialPorts ?? {})) process.env[name] = path;
  // The default flow's mcps-chain-node shows (and a field engineer may extend) the configured node.
  process.env.MCPS_CHAIN_NODES ??= `${cfg.chainNode.nodeId} ${cfg.chainNode.url}`;
  process.env.MCPS_GATEWAY_ID ??= cfg.gatewayId;
  process.env.MCPS_REGISTRY ??= cfg.chain.registry;
  const identity = loadGatewayIdentity(cfg.dataDir, await rotatedKeyInRegistry(cfg), (m) => log('info', m, { component: 'identity', event: 'key-rotated' }));
  if (identity.created) log('info', `created gateway key ${gatewayKeyPath(cfg.dataDir)} (0600)`, { component: 'identity', event: 'key-created' });
  const devices = DeviceCredentials.load(devicesPath(cfg.dataDir));
  const dbPath = join(cfg.dataDir, 'state', 'gateway.db');
  const db = openStateDb(dbPath, { fsync: cfg.storage?.fsync ?? true });
  if (cfg.storage?.fsync === false) log('warn', 'storage.fsync is off: acknowledged readings can be lost in a power cut (for benchmarks only)', { component: 'journal' });
  const store = new OutboxStore(db);
  const journal = new ReadingJournal(db);
  const walBytes = (): number => {
    try {
      return statSync(`${dbPath}-wal`).size;
    } catch {
      return 0;
    }
  };
  const budget = new StorageBudget({ budgetBytes: (cfg.storage?.budgetMB ?? 1024) * 1048576, measure: () => stateDbBytes(db, walBytes()), log });
  // The gateway only reads the registry (getEntry): one eth_call, no ethers (contracts/registry-reader.ts).
  const registryReader = registryReaderFor(cfg.chain.rpcUrl, cfg.chain.registry);
  const registry = new ChainRegistry(registryReader, 30_000);
  // Receipts are checked with mcl-wasm (several times faster than noble, same answers); noble if it cannot load.
  const pairing = await mclPairing().catch((err: unknown) => {
    log('warn', `mcl-wasm unavailable (${String(err)}); verifying receipts with noble`, { component: 'chain' });
    return noblePairing;
  });
  const verify = signatureVerifier(pairing, (n) => new Uint8Array(randomBytes(n)), SIG_DST);
  // The handshake signature too (same bytes as noble's, tested side by side; noble if mcl cannot load).
  const signer = pairing === noblePairing ? nobleSigner : await mclSigner();
  const chainStats = newChainClientStats();
  const client = new ChainNodeClient({ url: cfg.chainNode.url, nodeId: cfg.chainNode.nodeId, selfId: cfg.gatewayId, blsSecretKey: identity.secretKey, registry, verify, signer, stats: chainStats, ca: tls.chainNodeCa });
  const chainClientFor = (targets: ChainTarget[]): FailoverChainClient =>
    new FailoverChainClient(
      targets.map((t) => ({ ...t, client: new ChainNodeClient({ url: t.url, nodeId: t.nodeId, selfId: cfg.gatewayId, blsSecretKey: identity.secretKey, registry, verify, signer, stats: chainStats, ca: tls.chainNodeCa }) })),
      { log, stats: chainStats },
    );
  let lastErrorLogged = '';
  const outbox = new Outbox({
    client,
    // Only the next batches' envelopes stay in memory; the others are read back from the state database.
    envelopes: { load: (seq) => store.envelope(seq) },
    onError: (item, err, attempt) => {
      runtime.metrics.submitFailures++;
      runtime.metrics.lastError = err.message;
      // Repeated identical failures are logged once, not once per retry.
      if (err.message !== lastErrorLogged || attempt === 1) log('warn', `batch ${item.seq}: ${err.message} (attempt ${attempt}, will retry)`, { component: 'outbox', event: 'submit-failed', seq: item.seq, attempt });
      lastErrorLogged = err.message;
      runtime.emit('failure', item, err.message, attempt);
    },
  });
  // Merkle tree, encryption and signature of each batch run on a worker thread, beside ingest.
  const patientTagKey = loadPatientTagKey(patientTagKeyPath(cfg));
  // Sealing runs on the main thread in slices that let the broker run between (memory.sealWorker:
  // on a worker thread instead, its own isolate: about 15 MB more resident memory).
  const sealWorker = cfg.memory?.sealWorker
    ? new SealWorker(
        { blsSecretKey: identity.secretKey, ownerPublicKey: Uint8Array.from(Buffer.from(cfg.ownerPublicKey, 'hex')), patientTagKey },
        { onOutOfMemory: () => log('warn', `seal worker: a batch needed more than its ${SEAL_WORKER_OLD_SPACE_MB} MB heap; sealed on the main thread, worker started again (a batch node with fewer readings per batch avoids this)`, { component: 'sealer', event: 'worker-out-of-memory' }) },
      )
    : null;
  const sealer = new Sealer({
    ...(sealWorker ? { worker: sealWorker } : {}),
    // The worker leaves the header signature to mcl-wasm here (noble in the worker cost ~14 ms a batch).
    ...(signer !== nobleSigner ? { signer } : {}),
    gatewayId: cfg.gatewayId,
    blsSecretKey: identity.secretKey,
    ownerPublicKey: Uint8Array.from(Buffer.from(cfg.ownerPublicKey, 'hex')),
    patientTagKey,
    state: store,
    journal,
    onSealed: (item) => outbox.enqueue(item),
  });
  outbox.on('receipt', (item) => store.remove(item.seq));
  // Batches sealed before a restart and not yet receipted go out first, in order.
  const carried = store.pending(false);
  for (const item of carried) outbox.enqueue(item);
  if (carried.length > 0) log('info', `outbox: ${carried.length} sealed batches from before the restart (from ${carried[0]!.seq})`, { component: 'outbox', event: 'carried-over', count: carried.length, fromSeq: carried[0]!.seq });
  const recorder = cfg.record ? new Recorder(cfg.record.path, { gatewayId: cfg.gatewayId, maxBytes: (cfg.record.maxMB ?? 512) * 1e6, log }) : null;
  const runtime: GatewayRuntime = new GatewayRuntime({
    gatewayId: cfg.gatewayId,
    broker: null,
    devices,
    deadLetters: new DeadLetterFile(join(cfg.dataDir, 'dead-letters.jsonl')),
    journal,
    budget,
    sealer,
    outbox,
    log,
    orphanAfterMs: (cfg.orphanAfterS ?? 300) * 1000,
    recorder,
    chainClientFor,
    defaultChainTargets: [{ nodeId: cfg.chainNode.nodeId, url: cfg.chainNode.url }],
    chainStats,
    identity: {
      gatewayId: cfg.gatewayId,
      publicKey: identity.publicKey,
      registry: cfg.chain.registry,
      lookup: (id) => {
        registry.invalidate(id);
        return registry.fetch(id);
      },
    },
  });
  // What a crash left in the journal (readings accepted but not sealed) is sealed now, before new
  // readings arrive: into the next batches, in the order it was accepted.
  const recovered = await runtime.sweepJournal(0);
  if (recovered > 0) log('info', `journal: sealed ${recovered} readings accepted before the restart`, { component: 'journal', event: 'recovered', count: recovered });
  runtime.startSweeping();
  let broker: GatewayBroker | null = null;
  try {
    const brokerTls = listenerTls(cfg, 'mqtt') && tls.material ? { material: tls.material, clientCertificates: cfg.mqtt.clientCertificates } : undefined;
    broker = await startBroker({ host: cfg.mqtt.host, port: mqttPort(cfg), credentials: devices, log, onReading: (topic, device, payload) => runtime.ingestMqtt(topic, device, payload), deferListen: true, tls: brokerTls });
  } catch (err) {
    runtime.stopSweeping();
    outbox.stop();
    await sealWorker?.close();
    db.close();
    await recorder?.close();
    throw err;
  }
  runtime.attachBroker(broker);
  const editorCredentialsPath = join(cfg.dataDir, 'editor-credentials.json');
  const editor = loadOrCreateEditorCredentials(editorCredentialsPath);
  const credentialSecret = Buffer.from(loadOrCreateKey(join(cfg.dataDir, 'keys', 'node-red-credentials.key'), 'mcps/node-red-credential-secret', () => randomBytes(32)).key).toString('hex');
  let red: NodeRedHost;
  try {
    red = await startNodeRed({
      userDir: join(cfg.dataDir, 'node-red'),
      host: cfg.editor.host,
      port: cfg.editor.port,
      editor: editor.creds,
      credentialSecret,
      tls: listenerTls(cfg, 'editor') && tls.material ? tls.material : undefined,
      // The flow's HL7 listeners take TLS from here (MLLP over TLS) and follow the same plaintext policy.
      listenerTls: { material: tls.material ?? undefined, allowPlaintext: cfg.allowPlaintext === true },
      runtime,
      log,
      coreNodes: cfg.editor.coreNodes,
      logLevel: cfg.logLevel === 'debug' ? 'debug' : cfg.logLevel === 'info' ? 'info' : 'warn',
    });
  } catch (err) {
    runtime.stopSweeping();
    outbox.stop();
    await broker.close();
    await sealWorker?.close();
    db.close();
    await recorder?.close();
    throw err;
  }
  await broker.listen();
  // Metrics and health on their own port. A listener that cannot start is logged, not fatal: the
  // box goes on taking readings (mcps doctor and the log name the port in use).
  let monitoring: MonitoringServer | null = null;
  if (cfg.metrics) {
    const host = red;
    monitoring = await startMonitoringServer({
      host: cfg.metrics.host,
      port: cfg.metrics.port,
      registry: gatewayRegistry(runtime),
      readiness: gatewayReadiness({ runtime, flowRunning: () => host.flowsRunning(), probeJournal: () => probeWritable(db), outboxMaxAgeS: cfg.metrics.readyOutboxMaxAgeS }),
      log,
      tls: listenerTls(cfg, 'metrics') && tls.material ? tls.material : undefined,
    }).catch((err: unknown) => {
      log('error', `metrics and health not served: ${(err as Error).message}`, { component: 'monitoring', event: 'listen-failed' });
      return null;
    });
    if (monitoring) log('info', `metrics at ${monitoring.url}/metrics, health at ${monitoring.url}/healthz and ${monitoring.url}/readyz`, { component: 'monitoring', event: 'listening', url: monitoring.url });
  }
  // devices.json is followed while running: mcps devices add|remove|passwd|move need no restart.
  const b = broker;
  const deviceWatch = watchDevices({
    path: devicesPath(cfg.dataDir),
    devices,
    log,
    onChange: (c) => {
      b.forgetLogins([...c.removed, ...c.changed]);
      const closed = closeDeviceSessions(b.aedes, [...c.removed, ...c.changed]);
      if (closed > 0) log('info', `devices: closed ${closed} MQTT sessions of removed or changed devices`, { component: 'devices', event: 'sessions-closed', count: closed });
      runtime.emit('devices-changed', c);
    },
  });
  let brokerClosed: Promise<void> | null = null;
  const closeBroker = (): Promise<void> => (brokerClosed ??= b.close());
  const stop = async (): Promise<void> => {
    await monitoring?.close();
    deviceWatch.close();
    await red.stop();
    runtime.stopSweeping();
    await closeBroker();
    // Readings journaled after the flow stopped stay in the journal and are sealed at the next start.
    outbox.stop();
    await sealer.idle();
    await sealWorker?.close();
    registryReader.destroy();
    db.close();
    await recorder?.close();
    lock.release();
  };
  return {
    runtime,
    editorUrl: red.url,
    editorCredentialsPath,
    mqttPort: broker.port,
    mqttUrl: `${listenerTls(cfg, 'mqtt') ? 'mqtts' : 'mqtt'}://${cfg.mqtt.host}:${broker.port}`,
    metricsUrl: monitoring?.url ?? null,
    drain: (timeoutMs?: number) => runtime.drain(timeoutMs),
    shutdown: async (deadlineMs) => {
      runtime.closeIntake('the gateway is stopping');
      await closeBroker();
      await runtime.drain(deadlineMs);
      runtime.refreshMetrics();
      const unsealed = journal.unsealedCount;
      const pending = outbox.pending;
      await stop();
      return { drained: unsealed === 0 && pending === 0, left: `${unsealed} readings not yet sealed, ${pending} sealed batches without a receipt` };
    },
    stop,
  };
}
