/**
 * Starts one chain node: its keys, the registry and anchor contracts on the configured chain, the
 * ciphertext store and the HTTP API.
 */
import type { LogFn } from '../common/log';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { AccessLogClient, AnchorClient, RegistryClient } from '../contracts/clients';
import { AccessRecorder } from './data-api/access-recorder';
import { DataApi } from './data-api/data-api';
import { AnchorBatcher } from './anchor-batcher';
import { BatchStore } from './batch-store';
import type { ChainNodeConfig } from './config';
import { startHttpApi } from './http-api';
import { checkPlaintextListener, loadTlsMaterial } from '../common/tls';
import { loadChainNodeIdentity, promoteRotatedNodeKeys } from './identity';
import { lockDataDir, type DirLock } from '../common/dir-lock';
import { ChainRegistry, type ChainRegistryLimits } from '../contracts/chain-registry';
import { rpcProvider } from '../contracts/rpc-provider';
import type { HttpLimits } from './http-limits';
import { BatchIngest, type GatewayRecord, type RegistryView } from './ingest';
import { HandshakeService, type HandshakeLimits } from './sessions';
import { mclPairing } from '../common/mcl-pairing';
import { noblePairing, signatureVerifier } from '../protocol/handshake';
import { SIG_DST } from '../protocol/bls';
import { randomBytes } from 'node:crypto';
import { startMonitoringServer, type MonitoringServer } from '../common/monitoring-server';
import { packageVersion } from '../common/version';
import { chainNodeReadiness, chainNodeRegistry, newUserAccessCounters, type UserAccessCounters } from './monitoring';

export interface RunningChainNode {
  readonly url: string;
  readonly port: number;
  readonly ingest: BatchIngest;
  /** The handshake responder and live sessions (its counters feed the metrics). */
  readonly handshakes: HandshakeService;
  /** The node's bounded cache of registry records. */
  readonly registry: ChainRegistry;
  /** Takes no new requests, lets those in flight (batches being anchored) finish for at most `deadlineMs`, then stops. */
  shutdown(deadlineMs: number): Promise<{ drained: boolean; left: string }>;
  /** Base URL of the monitoring listener (…/metrics, …/healthz, …/readyz), when configured. */
  readonly metricsUrl: string | null;
  /** Counted by the data API for users (issue 14); exported as mcps_chain_node_user_accesses_total. */
  readonly userAccesses: UserAccessCounters;
  stop(): Promise<void>;
}

/** Bounds a deployment (or a test) may tune; the defaults suit a node on the open network. */
export interface ChainNodeTuning {
  http?: Partial<HttpLimits>;
  registry?: ChainRegistryLimits;
  handshakes?: Partial<HandshakeLimits>;
}

export async function runChainNode(cfg: ChainNodeConfig, log: LogFn, tuning: ChainNodeTuning = {}): Promise<RunningChainNode> {
  // One process per data directory: a second one stops here, naming the holder (common/dir-lock.ts).
  const lock = lockDataDir(cfg.dataDir);
  try {
    return await startChainNode(cfg, log, lock, tuning);
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function startChainNode(cfg: ChainNodeConfig, log: LogFn, lock: DirLock, tuning: ChainNodeTuning): Promise<RunningChainNode> {
  // TLS files checked before anything starts; plaintext off loopback only with allowPlaintext.
  const tlsMaterial = cfg.tls ? loadTlsMaterial(cfg.tls, 'tls') : undefined;
  const apiTls = cfg.apiTls ?? tlsMaterial !== undefined;
  const metricsTls = cfg.metrics?.tls ?? tlsMaterial !== undefined;
  if (!apiTls) checkPlaintextListener('the chain node API (host)', cfg.host, cfg.allowPlaintext, log);
  if (cfg.metrics && !metricsTls) checkPlaintextListener('the monitoring listener (metrics)', cfg.metrics.host, cfg.allowPlaintext, log);
  const provider = rpcProvider(cfg.chain.rpcUrl);
  const registry = new RegistryClient(provider, cfg.chain.registry);
  const me = await registry.getEntry(cfg.nodeId);
  if (me?.role === 'node' && promoteRotatedNodeKeys(cfg.dataDir, me.blsPublicKey)) log('info', `the registry lists this node's rotated keys (epoch ${me.epoch}): they are the node's keys now`, { component: 'identity', event: 'key-rotated' });
  const id = loadChainNodeIdentity(cfg.dataDir);
  const signer = new ethers.NonceManager(id.operator.connect(provider));
  if (!me || me.role !== 'node') throw new Error(`node id ${cfg.nodeId} is not registered as a chain node`);
  if (me.operator.toLowerCase() !== id.operatorAddress.toLowerCase()) throw new Error(`registry lists operator ${me.operator} for ${cfg.nodeId}, this node's key is ${id.operatorAddress}`);
  const chainRegistry = new ChainRegistry(registry, undefined, undefined, tuning.registry);
  const gatewayView: RegistryView = {
    gateway: async (gid: string): Promise<GatewayRecord | undefined> => {
      const rec = await chainRegistry.fetch(gid);
      return rec && rec.role === 'gateway' ? { blsPublicKey: rec.blsPublicKey, active: rec.status === 'active' } : undefined;
    },
  };
  // mcl-wasm verifies handshake signatures several times faster than noble; noble stays the fallback.
  const pairing = await mclPairing().catch((err: unknown) => {
    log('warn', `mcl-wasm unavailable (${String(err)}); verifying handshakes with noble`);
    return noblePairing;
  });
  const handshakes = new HandshakeService({ nodeId: cfg.nodeId, x25519SecretKey: id.x25519SecretKey, registry: chainRegistry, log, pairing, ...(tuning.handshakes ? { limits: tuning.handshakes } : {}) });
  if (!me.x25519PublicKey || Buffer.compare(Buffer.from(me.x25519PublicKey), Buffer.from(id.x25519PublicKey)) !== 0) throw new Error(`registry lists another X25519 handshake key for ${cfg.nodeId} than this node's key file`);
  const anchors = new AnchorBatcher(new AnchorClient(signer, cfg.chain.anchor));
  const ingest = new BatchIngest({
    nodeId: cfg.nodeId,
    blsSecretKey: id.bls.secretKey,
    registry: gatewayView,
    anchors,
    store: new BatchStore(join(cfg.dataDir, 'batches')),
    log,
    verify: signatureVerifier(pairing, (n) => new Uint8Array(randomBytes(n)), SIG_DST),
  });
  const userAccesses = newUserAccessCounters();
  const accessLog = cfg.chain.accessLog ? new AccessLogClient(signer, cfg.chain.accessLog) : null;
  // A registered party's role and hospital never change (Registry refuses an id twice): a gateway's
  // hospital, once read, is kept; an id not (yet) a gateway is asked again.
  const hospitalOf = new Map<string, string>();
  const dataApi = new DataApi({
    store: new BatchStore(join(cfg.dataDir, 'batches')),
    registry: chainRegistry,
    gatewayHospital: async (gid) => {
      const known = hospitalOf.get(gid);
      if (known !== undefined) return known;
      const e = await registry.getEntry(gid);
      if (e?.role !== 'gateway') return undefined;
      hospitalOf.set(gid, e.hospital);
      return e.hospital;
    },
    grants: accessLog,
    recorder: accessLog ? new AccessRecorder(accessLog) : null,
    counters: userAccesses,
    log,
    ...(cfg.userPageBytes ? { pageBytes: cfg.userPageBytes } : {}),
  });
  // The data API's index of stored batches, read now rather than by the first data user's query.
  if (accessLog) {
    void dataApi.warmIndex().catch((err: unknown) => log('warn', `reading the batch index ahead failed (it is read on first use): ${(err as Error).message}`, { component: 'data-api', event: 'index-warm-failed' }));
  }
  const api = await startHttpApi({ host: cfg.host, port: cfg.port, nodeId: cfg.nodeId, ingest, handshakes, log, tls: apiTls ? tlsMaterial : undefined, userRequests: (peer, p) => dataApi.handle(peer, p), userSession: (peer) => dataApi.expectQuery(peer.id), ...(tuning.http ? { limits: tuning.http } : {}) });
  let monitoring: MonitoringServer | null = null;
  if (cfg.metrics) {
    monitoring = await startMonitoringServer({
      host: cfg.metrics.host,
      port: cfg.metrics.port,
      registry: chainNodeRegistry({ nodeId: cfg.nodeId, version: packageVersion(), ingest, handshakes, anchors, userAccesses }),
      readiness: chainNodeReadiness({ apiListening: () => api.server.listening, blockNumber: () => provider.getBlockNumber(), storeDir: join(cfg.dataDir, 'batches') }),
      log,
      tls: metricsTls ? tlsMaterial : undefined,
    }).catch((err: unknown) => {
      log('error', `metrics and health not served: ${(err as Error).message}`, { component: 'monitoring', event: 'listen-failed' });
      return null;
    });
    if (monitoring) log('info', `metrics at ${monitoring.url}/metrics, health at ${monitoring.url}/healthz and ${monitoring.url}/readyz`, { component: 'monitoring', event: 'listening', url: monitoring.url });
  }
  // Batches stored but not answered before a restart: anchored (or found anchored) now, in order;
  // a gateway resending one meanwhile waits in the same per-gateway queue.
  void ingest.resumePending().then((n) => {
    if (n > 0) log('info', `resumed ${n} batches stored before the restart`);
  });
  // Requests in flight, so a shutdown can let them finish (a batch is answered once anchored).
  let inFlight = 0;
  api.server.on('request', (_req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
  });
  const stop = async (): Promise<void> => {
    await monitoring?.close();
    await api.close();
    provider.destroy();
    lock.release();
  };
  return {
    url: api.url,
    port: api.port,
    ingest,
    handshakes,
    registry: chainRegistry,
    metricsUrl: monitoring?.url ?? null,
    userAccesses,
    shutdown: async (deadlineMs) => {
      api.server.close(); // no new connections
      api.server.closeIdleConnections();
      const deadline = Date.now() + deadlineMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const left = inFlight;
      await stop();
      return { drained: left === 0, left: `${left} requests still in flight` };
    },
    stop,
  };
}
