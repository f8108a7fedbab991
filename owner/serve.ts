/**
 * Runs the hospital's key service from its configuration: keys from ownerDir, the chain's
 * Registry and AccessLog, the HTTP listener. Refuses to start when the registry lists another owner
 * key for the hospital (users would seal their requests to a key this service cannot open).
 */
import { ethers } from 'ethers';
import type { LogFn } from '../common/log';
import { AccessLogClient, RegistryClient } from '../contracts/clients';
import type { OwnerServiceConfig } from './config';
import { loadOrCreateOwnerKeyPair, loadOrCreateOwnerTagKey } from './keys';
import { startKeyService, type RunningKeyService } from './key-service';
import { checkPlaintextListener, loadTlsMaterial } from '../common/tls';

export async function runOwnerService(cfg: OwnerServiceConfig, log: LogFn): Promise<RunningKeyService & { stop(): Promise<void> }> {
  const tls = cfg.tls ? loadTlsMaterial(cfg.tls, 'tls') : undefined;
  if (!tls) checkPlaintextListener('the key service (host)', cfg.host, cfg.allowPlaintext, log);
  const provider = new ethers.JsonRpcProvider(cfg.chain.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 250 });
  try {
    const owner = loadOrCreateOwnerKeyPair(cfg.ownerDir);
    const registry = new RegistryClient(provider, cfg.chain.registry);
    const published = await registry.ownerKey(cfg.hospital);
    if (!published) throw new Error(`the registry lists no owner key for ${cfg.hospital}: publish ${Buffer.from(owner.publicKey).toString('hex')} first`);
    if (!Buffer.from(published).equals(Buffer.from(owner.publicKey))) throw new Error(`the registry lists another owner key for ${cfg.hospital} than ${cfg.ownerDir}/hospital-hpke.key`);
    const svc = await startKeyService({ hospital: cfg.hospital, owner, tagKey: loadOrCreateOwnerTagKey(cfg.ownerDir), registry, accessLog: new AccessLogClient(provider, cfg.chain.accessLog), provider, host: cfg.host, port: cfg.port, log, tls });
    log('info', `key service of ${cfg.hospital} at ${svc.url}`, { component: 'key-service', event: 'listening', url: svc.url });
    return {
      ...svc,
      stop: async () => {
        await svc.close();
        provider.destroy();
      },
    };
  } catch (err) {
    provider.destroy();
    throw err;
  }
}
