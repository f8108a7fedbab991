/**
 * `mcps up`: the whole local stack from one command.
 *
 *   1. anvil (a real EVM node from @foundry-rs/anvil) on 127.0.0.1, a fresh chain each run;
 *   2. the contracts (compiled at build time with solc from npm) deployed with ethers; the hospital,
 *      the chain node and the gateway registered, each key with its proof of possession checked;
 *   3. the chain node process; 4. the gateway process (Node-RED + MQTT broker);
 *   5. simulated devices: a pulse oximeter over a real pseudo-terminal, two MQTT devices;
 *   6. a live status line. Ctrl-C (or --duration) stops the devices, drains the gateway, verifies
 *      everything end to end, stops every child and prints a JSON summary as the last line.
 *
 * The anvil accounts are development keys known to everyone: fine for a local chain, never for a
 * consortium's network (docs/operations.md says how to point the stack at a real endpoint).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ethers } from 'ethers';
import { startAnvil } from '../contracts/anvil';
import { deployContracts, registerGateway, registerHospital, registerNode, writeDeployment } from '../contracts/deploy';
import { loadChainNodeIdentity } from '../chain-node/identity';
import { BatchStore } from '../chain-node/batch-store';
import { openPtyPair } from '../device-sim/pty';
import { startSimulator } from '../device-sim/simulator';
import { makeLogger } from '../common/log';
import { loadOrCreateKey } from '../common/key-file';
import { DeviceCredentials, hashPassword } from '../gateway/device-credentials';
import { generateOwnerKeyPair, type OwnerKeyPair } from '../gateway/envelope';
import { gatewayKeyPath, loadOrCreateBlsIdentity } from '../gateway/identity';
import { devicesPath } from '../gateway/main';
import type { GatewayConfig } from '../gateway/config';
import type { ChainNodeConfig } from '../chain-node/config';
import type { GatewayMetrics } from '../gateway/metrics';
import { newMetrics } from '../gateway/metrics';
import { forkChild, type Child } from './children';
import { formatStatus, StatusLine } from './status-line';
import { collectAndVerify } from './verify';

export interface UpOptions {
  duration?: number;
  data: string;
  editorPort: number;
  mqttPort: number;
  nodePort: number;
  status: boolean;
}

export const GATEWAY_ID = 'gw-ward1';
export const NODE_ID = 'node-1';
export const HOSPITAL_ID = 'hospital-a';

export function ownerKeyPath(dataDir: string): string {
  return join(dataDir, 'owner', 'hospital-hpke.key');
}

export async function loadOrCreateOwnerKey(dataDir: string): Promise<OwnerKeyPair> {
  // The hospital's data-owner key. In a deployment it lives with the hospital, not on the gateway;
  // the local stack keeps it in the data directory so `mcps verify` can decrypt.
  const fresh = await generateOwnerKeyPair();
  const { key } = loadOrCreateKey(ownerKeyPath(dataDir), 'mcps/owner-x25519', () => fresh.privateKey);
  const { x25519 } = await import('@noble/curves/ed25519.js');
  return { privateKey: key, publicKey: x25519.getPublicKey(key) };
}

export async function runUp(opts: UpOptions): Promise<number> {
  const log = makeLogger('up');
  const data = resolve(opts.data);
  const status = new StatusLine(process.stdout, opts.status);
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log('warn', `stop: ${String(err)}`));
    cleanups.length = 0;
  };
  let interrupted = false;
  let stopRequested: () => void = () => undefined;
  const stopSignal = new Promise<void>((r) => (stopRequested = r));
  const onSigint = (): void => {
    if (interrupted) {
      log('warn', 'second interrupt: killing everything now');
      process.exit(130);
    }
    interrupted = true;
    status.clear();
    log('info', 'stopping: devices off, draining the gateway, then verifying (Ctrl-C again to force)');
    stopRequested();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  try {
    // A fresh chain each run, so the per-run state (batch chain head, node store, send log) restarts too.
    // Keys, the editor login and the Node-RED user directory are kept.
    for (const d of ['gateway/state', 'chain-node/batches', 'sim', 'run']) rmSync(join(data, d), { recursive: true, force: true });
    mkdirSync(join(data, 'run'), { recursive: true, mode: 0o700 });
    const gatewayDir = join(data, 'gateway');
    const nodeDir = join(data, 'chain-node');

    // 1. chain
    const anvil = await startAnvil({});
    cleanups.push(() => anvil.stop());
    log('info', `anvil chain at ${anvil.url}`);
    const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 200 });
    cleanups.push(async () => provider.destroy());
    const admin = await provider.getSigner(0);
    const hospitalAdmin = await provider.getSigner(1);

    // 2. contracts and registrations
    const deployment = await deployContracts(admin);
    writeDeployment(join(data, 'run'), { ...deployment, rpcUrl: anvil.url });
    const gwIdentity = loadOrCreateBlsIdentity(gatewayKeyPath(gatewayDir), 'mcps/gateway-bls');
    const nodeIdentity = loadChainNodeIdentity(nodeDir);
    const fund = await admin.sendTransaction({ to: nodeIdentity.operatorAddress, value: ethers.parseEther('100') });
    await fund.wait();
    await registerHospital(admin, deployment.registry, HOSPITAL_ID, await hospitalAdmin.getAddress());
    await registerNode(admin, deployment.registry, { id: NODE_ID, operator: nodeIdentity.operatorAddress, blsPublicKey: nodeIdentity.bls.publicKey, pop: nodeIdentity.bls.proofOfPossession, x25519PublicKey: nodeIdentity.x25519PublicKey });
    await registerGateway(hospitalAdmin, deployment.registry, { id: GATEWAY_ID, hospital: HOSPITAL_ID, blsPublicKey: gwIdentity.publicKey, pop: gwIdentity.proofOfPossession });
    log('info', `contracts: registry ${deployment.registry}, anchor ${deployment.anchor}; gateway ${GATEWAY_ID} and node ${NODE_ID} registered`);

    // 3. chain node
    const latest: { gw: GatewayMetrics } = { gw: newMetrics() };
    const childLog = (role: string) => (line: string) => {
      status.clear();
      process.stderr.write(`[${role}] ${line}\n`);
    };
    const nodeCfg: ChainNodeConfig = { dataDir: nodeDir, nodeId: NODE_ID, host: '127.0.0.1', port: opts.nodePort, chain: { rpcUrl: anvil.url, registry: deployment.registry, anchor: deployment.anchor } };
    const nodeCfgPath = join(data, 'run', 'chain-node.json');
    writeFileSync(nodeCfgPath, JSON.stringify(nodeCfg, null, 2), { mode: 0o600 });
    const node: Child = forkChild('chain-node', nodeCfgPath, () => undefined, childLog('chain-node'));
    cleanups.push(() => node.stop());
    const nodeReady = await node.waitFor('ready', 60_000);
    const nodeUrl = nodeReady.role === 'chain-node' ? nodeReady.url : '';

    // 4. devices' credentials, the oximeter's pty, and the gateway
    const owner = await loadOrCreateOwnerKey(data);
    const simDevices = [
      { deviceId: 'temp-bed1', patient: 'p-0001', kind: 'body_temp' as const, password: randomBytes(18).toString('base64url'), seed: 11 },
      { deviceId: 'resp-bed2', patient: 'p-0002', kind: 'resp_rate' as const, password: randomBytes(18).toString('base64url'), seed: 12 },
    ];
    const creds = new DeviceCredentials(simDevices.map((d) => ({ id: d.deviceId, patient: d.patient, passwordHash: hashPassword(d.password) })));
    mkdirSync(gatewayDir, { recursive: true, mode: 0o700 });
    creds.save(devicesPath(gatewayDir));
    const pty = await openPtyPair();
    cleanups.push(() => pty.close());
    const gwCfg: GatewayConfig = {
      dataDir: gatewayDir,
      gatewayId: GATEWAY_ID,
      editor: { host: '127.0.0.1', port: opts.editorPort },
      mqtt: { host: '127.0.0.1', port: opts.mqttPort },
      chainNode: { url: nodeUrl, nodeId: NODE_ID },
      chain: { rpcUrl: anvil.url, registry: deployment.registry },
      ownerPublicKey: Buffer.from(owner.publicKey).toString('hex'),
      serialPorts: { MCPS_OXIMETER_PORT: pty.path },
    };
    const gwCfgPath = join(data, 'run', 'gateway.json');
    writeFileSync(gwCfgPath, JSON.stringify(gwCfg, null, 2), { mode: 0o600 });
    const gateway: Child = forkChild('gateway', gwCfgPath, (m) => {
      if (m.type === 'status' && m.role === 'gateway') latest.gw = m.metrics;
    }, childLog('gateway'));
    cleanups.push(() => gateway.stop());
    const gwReady = await gateway.waitFor('ready', 120_000);
    if (gwReady.role === 'gateway') {
      log('info', `Node-RED editor: ${gwReady.editorUrl} — login user and password in ${gwReady.editorCredentialsPath}`);
      log('info', `MQTT broker: mqtt://127.0.0.1:${gwReady.mqttPort} (device logins in ${devicesPath(gatewayDir)}); data directory: ${data}`);
    }
    const mqttPort = gwReady.role === 'gateway' ? gwReady.mqttPort : opts.mqttPort;

    // 5. simulated devices
    const sendLogPath = join(data, 'sim', 'send-log.jsonl');
    const sim = await startSimulator({
      serial: [{ pty, deviceId: 'oxi-bed1', patient: 'p-0001', seed: 7 }],
      mqtt: simDevices.map((d) => ({ url: `mqtt://127.0.0.1:${mqttPort}`, deviceId: d.deviceId, password: d.password, patient: d.patient, kind: d.kind, ratePerS: 2, seed: d.seed })),
      sendLogPath,
    });
    cleanups.push(async () => {
      await sim.stop();
    });

    // 6. status until Ctrl-C or --duration
    const ticker = setInterval(() => status.update(formatStatus(latest.gw, sim.stats().acked)), 250);
    cleanups.push(async () => clearInterval(ticker));
    const timer = opts.duration ? setTimeout(() => stopRequested(), opts.duration * 1000) : null;
    await stopSignal;
    if (timer) clearTimeout(timer);

    // Stop devices, let the last serial bytes arrive, then drain the gateway.
    const simStats = await sim.stop();
    const deadline = Date.now() + 10_000;
    while (latest.gw.readingsIn + latest.gw.readingsRejected < simStats.acked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    gateway.send({ type: 'drain' });
    const drained = await gateway.waitFor('drained', 120_000);
    latest.gw = drained.metrics;
    clearInterval(ticker);
    status.update(formatStatus(latest.gw, simStats.acked));
    status.clear();

    const report = await collectAndVerify({ rpcUrl: anvil.url, anchorAddress: deployment.anchor, deployBlock: deployment.deployBlock, store: new BatchStore(join(nodeDir, 'batches')), sendLogPath, owner });
    for (const p of report.problems.slice(0, 20)) log('warn', p);
    const summary = {
      sent: report.sent,
      received: latest.gw.readingsIn,
      anchored: report.anchored,
      batches: report.batches,
      missing: report.missing,
      duplicates: report.duplicates,
      proof_failures: report.proofFailures,
      rejected: latest.gw.readingsRejected,
      last_tx: latest.gw.lastTx,
    };
    await stopAll();
    process.stdout.write(JSON.stringify(summary) + '\n');
    return summary.missing === 0 && summary.duplicates === 0 && summary.proof_failures === 0 ? 0 : 1;
  } catch (err) {
    status.clear();
    log('error', (err as Error).message);
    await stopAll();
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
