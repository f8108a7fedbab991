/**
 * Runs the hospital's key service from its configuration: keys from ownerDir, the chain's
 * Registry and AccessLog, the HTTP listener. Refuses to start when the registry lists another owner
 * key for the hospital (users would seal their requests to a key this service cannot open).
 */
import { rpcProvider } from '../contracts/rpc-provider';
import type { LogFn } from '../common/log';
import { AccessLogClient, RegistryClient } from '../contracts/clients';
import type { OwnerServiceConfig } from './config';
import { loadOrCreateOwnerKeyPair, loadOrCreateOwnerTagKey } from './keys';
import { startKeyService, type RunningKeyService } from './key-service';
import { checkPlaintextListener, loadTlsMaterial } from '../common/tls';
import { startMonitoringServer, type MonitoringServer } from '../common/monitoring-server';
import { packageVersion } from '../common/version';
import { keyServiceReadiness, keyServiceRegistry } from './monitoring';

export async function runOwnerService(cfg: OwnerServiceConfig, log: LogFn): Promise<RunningKeyService & { metricsUrl: string | null; stop(): Promise<void> }> {
  const tls = cfg.tls ? loadTlsMaterial(cfg.tls, 'tls') : undefined;
  if (!tls) checkPlaintextListener('the key service (host)', cfg.host, cfg.allowPlaintext, log);
  if (!tls && cfg.metrics) checkPlaintextListener('the key service\'s monitoring listener (metrics)', cfg.metrics.host, cfg.allowPlaintext, log);
  const provider = rpcProvider(cfg.chain.rpcUrl);
  try {
    const owner = loadOrCreateOwnerKeyPair(cfg.ownerDir);
    const registry = new RegistryClient(provider, cfg.chain.registry);
    const published = await registry.ownerKey(cfg.hospital);
    if (!published) throw new Error(`the registry lists no owner key for ${cfg.hospital}: publish ${Buffer.from(owner.publicKey).toString('hex')} first`);
    if (!Buffer.from(published).equals(Buffer.from(owner.publicKey))) throw new Error(`the registry lists another owner key for ${cfg.hospital} than ${cfg.ownerDir}/hospital-hpke.key`);
    const svc = await startKeyService({ hospital: cfg.hospital, owner, tagKey: loadOrCreateOwnerTagKey(cfg.ownerDir), registry, accessLog: new AccessLogClient(provider, cfg.chain.accessLog), provider, host: cfg.host, port: cfg.port, log, tls });
    log('info', `key service of ${cfg.hospital} at ${svc.url}`, { component: 'key-service', event: 'listening', url: svc.url });
    let monitoring: MonitoringServer | null = null;
    if (cfg.metrics) {
      try {
        monitoring = await startMonitoringServer({ host: cfg.metrics.host, port: cfg.metrics.port, registry: keyServiceRegistry({ hospital: cfg.hospital, version: packageVersion(), counters: svc.counters }), readiness: keyServiceReadiness({ listening: svc.listening, blockNumber: () => provider.getBlockNumber() }), log, ...(tls ? { tls } : {}) });
      } catch (err) {
        await svc.close();
        throw err;
      }
      log('info', `key service metrics at ${monitoring.url}/metrics`, { component: 'key-service', event: 'metrics-listening', url: monitoring.url });
    }
    return {
      ...svc,
      metricsUrl: monitoring?.url ?? null,
      stop: async () => {
        await monitoring?.close();
        await svc.close();
        provider.destroy();
      },
    };
  } catch (err) {
    provider.destroy();
    throw err;
  }
}
