/**
 * Starts one gateway: keys, device credentials, the MQTT broker, the sealer and outbox, and the
 * embedded Node-RED with our nodes and the default flow. `mcps gateway --config FILE` runs it as a
 * process; `mcps up` forks that process and talks to it over IPC.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadOrCreateKey } from '../common/key-file';
import { startBroker, type GatewayBroker } from './broker';
import { ethers } from 'ethers';
import { ChainRegistry } from '../contracts/chain-registry';
import { RegistryClient } from '../contracts/clients';
import { ChainNodeClient } from './chain-client';
import type { GatewayConfig } from './config';
import { DeadLetterFile } from './dead-letter';
import { DeviceCredentials } from './device-credentials';
import { loadOrCreateEditorCredentials } from './editor-credentials';
import { gatewayKeyPath, loadOrCreateBlsIdentity } from './identity';
import { startNodeRed, type NodeRedHost } from './node-red-host';
import { Outbox } from './outbox';
import { GatewayRuntime, type LogFn } from './runtime';
import { Sealer } from './sealer';
import { OutboxStore } from './outbox-store';

export interface RunningGateway {
  readonly runtime: GatewayRuntime;
  readonly editorUrl: string;
  readonly editorCredentialsPath: string;
  readonly mqttPort: number;
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export function devicesPath(dataDir: string): string {
  return join(dataDir, 'devices.json');
}

export async function runGateway(cfg: GatewayConfig, log: LogFn): Promise<RunningGateway> {
  for (const [name, path] of Object.entries(cfg.serialPorts ?? {})) process.env[name] = path;
  const identity = loadOrCreateBlsIdentity(gatewayKeyPath(cfg.dataDir), 'mcps/gateway-bls');
  if (identity.created) log('info', `created gateway key ${gatewayKeyPath(cfg.dataDir)} (0600)`);
  const devices = DeviceCredentials.load(devicesPath(cfg.dataDir));
  const store = new OutboxStore(join(cfg.dataDir, 'state', 'gateway.db'));
  const provider = new ethers.JsonRpcProvider(cfg.chain.rpcUrl, undefined, { staticNetwork: true });
  const registry = new ChainRegistry(new RegistryClient(provider, cfg.chain.registry), 30_000);
  const client = new ChainNodeClient({ url: cfg.chainNode.url, nodeId: cfg.chainNode.nodeId, selfId: cfg.gatewayId, blsSecretKey: identity.secretKey, registry });
  let lastErrorLogged = '';
  const outbox = new Outbox({
    client,
    onError: (item, err, attempt) => {
      runtime.metrics.submitFailures++;
      runtime.metrics.lastError = err.message;
      // Repeated identical failures are logged once, not once per retry.
      if (err.message !== lastErrorLogged || attempt === 1) log('warn', `batch ${item.seq}: ${err.message} (attempt ${attempt}, will retry)`);
      lastErrorLogged = err.message;
      runtime.emit('failure', item, err.message, attempt);
    },
  });
  const sealer = new Sealer({
    gatewayId: cfg.gatewayId,
    blsSecretKey: identity.secretKey,
    ownerPublicKey: Uint8Array.from(Buffer.from(cfg.ownerPublicKey, 'hex')),
    state: store,
    onSealed: (item) => outbox.enqueue(item),
  });
  outbox.on('receipt', (item) => store.remove(item.seq));
  // Batches sealed before a restart and not yet receipted go out first, in order.
  const carried = store.pending();
  for (const item of carried) outbox.enqueue(item);
  if (carried.length > 0) log('info', `outbox: ${carried.length} sealed batches from before the restart (from ${carried[0]!.seq})`);
  let broker: GatewayBroker | null = null;
  broker = await startBroker({ host: cfg.mqtt.host, port: cfg.mqtt.port, credentials: devices, log: (l, m) => log(l, m) });
  const runtime: GatewayRuntime = new GatewayRuntime({
    gatewayId: cfg.gatewayId,
    broker,
    devices,
    deadLetters: new DeadLetterFile(join(cfg.dataDir, 'dead-letters.jsonl')),
    sealer,
    outbox,
    log,
  });
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
      runtime,
      logLevel: cfg.logLevel === 'debug' ? 'debug' : cfg.logLevel === 'info' ? 'info' : 'warn',
    });
  } catch (err) {
    await broker.close();
    store.close();
    throw err;
  }
  return {
    runtime,
    editorUrl: red.url,
    editorCredentialsPath,
    mqttPort: broker.port,
    drain: () => runtime.drain(),
    stop: async () => {
      await red.stop();
      outbox.stop();
      await broker?.close();
      provider.destroy();
      store.close();
    },
  };
}
