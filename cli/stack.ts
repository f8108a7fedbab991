/**
 * The local stack as a library: start everything `mcps up` runs, hand back the parts, stop them in
 * reverse order. `mcps up` adds the status line, signals and the summary; the integration test uses
 * the parts directly to check the chain while it still runs.
 *
 * The anvil accounts are development keys known to everyone: fine for a local chain, never for a
 * consortium's network (docs/operations.md says how to point processes at a real endpoint).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ethers } from 'ethers';
import { startAnvil } from '../contracts/anvil';
import { writeDeployment, type Deployment } from '../contracts/deploy';
import { deployAction, gatewayAdd, hospitalAdd, nodeAdd, ownerKeyAction, userAdd } from './admin/actions';
import { chainNodeIdentity, gatewayIdentity, userIdentity } from './identity-commands';
import { runOwnerService } from '../owner/serve';
import type { OwnerServiceConfig } from '../owner/config';
import type { ShareSummary } from './share-demo';
import { identityToJson } from '../contracts/party-identity';
import { createEvmKeyFile, loadEvmSigner } from '../common/evm-key';
import { BatchStore } from '../chain-node/batch-store';
import type { ChainNodeConfig } from '../chain-node/config';
import { openPtyPair, type PtyPair } from '../device-sim/pty';
import { expandScenario, type Scenario } from '../device-sim/scenario';
import type { ClinicalScenario } from '../device-sim/physiology';
import type { FaultSpec } from '../device-sim/faults';
import type { DeviceModelName, ModelParams } from '../device-sim/device-models';
import type { SerialFormat } from '../gateway/ingest/serial-settings';

/** The environment variables (…_PORT, …_ID, …_PATIENT) through which the default flow's serial ports are set, per format. */
export const SERIAL_ENV_PREFIX: Record<SerialFormat, string> = { 'nonin-df7': 'MCPS_OXIMETER', 'masimo-ascii': 'MCPS_MASIMO', 'contec-cms50d': 'MCPS_CONTEC' };
import { startSimulator, type SimStats } from '../device-sim/simulator';
import { startReplay } from '../device-sim/replayer';
import { recordingDevices, type Recording } from '../device-sim/recording';
import { readKeyFile, writeKeyFile } from '../common/key-file';
import { PATIENT_TAG_KEY_KIND } from '../common/key-kinds';
import { loadOrCreateOwnerKeyPair, loadOrCreateOwnerTagKey } from '../owner/keys';
import type { ReadingKind } from '../protocol/reading';
import type { GatewayConfig } from '../gateway/config';
import { addDevices } from '../gateway/ingest/device-registry';
import type { OwnerKeyPair } from '../gateway/sealing/envelope';
import { devicesPath, patientTagKeyPath } from '../gateway/main';
import { newMetrics, type GatewayMetrics } from '../gateway/metrics';
import { forkChild, type Child } from './children';
import type { ChildMessage } from './ipc';
import { freePort } from '../common/free-port';
import { lockDataDir } from '../common/dir-lock';
import { collectAndVerify } from './verify';
import type { VerifyReport } from './verification';

export const GATEWAY_ID = 'gw-ward1';
export const NODE_ID = 'node-1';
export const HOSPITAL_ID = 'hospital-a';
/** The local stack's data user (keys in <data>/users/user-1/, registered by the hospital). */
export const USER_ID = 'user-1';
/** anvil's development mnemonic: its accounts are public knowledge, for a local chain only. */
const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';

export interface StackOptions {
  data: string;
  /** Deploy the Anchor contract in trustless mode (it verifies the gateways' signatures on chain). */
  trustless?: boolean;
  editorPort: number;
  mqttPort: number;
  nodePort: number;
  /** Monitoring listeners (/metrics, /healthz, /readyz) of the gateway and the chain node; 0 or absent: a free port. */
  gatewayMetricsPort?: number;
  nodeMetricsPort?: number;
  /** Receives each child's log line: JSON (common/log.ts), or prefixed with its role when not. */
  onChildLog?: (line: string) => void;
  log?: (msg: string) => void;
  /** Simulated MQTT readings per second per device. */
  mqttRatePerS?: number;
  /** Run the simulated pulse oximeter on a pseudo-terminal (default true). */
  serial?: boolean;
  /** How many simulated MQTT devices (default 2). */
  mqttDevices?: number;
  /** Stream mode for the MQTT devices: each sends this many readings as fast as they are acknowledged. */
  stream?: { readingsPerDevice: number; maxInflight: number; maxRatePerS?: number };
  /** Devices from a scenario file instead of the built-in set (device-sim/scenario.ts). */
  scenario?: Scenario;
  /** Extra gateway settings (storage budget, sweep age, recording). */
  gateway?: Pick<GatewayConfig, 'storage' | 'orphanAfterS' | 'record'>;
  /** Simulated MQTT devices connecting at once at start (default 1: one after the other). */
  connectConcurrency?: number;
  /** Called with the gateway's pid each time it has started, before the devices connect (benchmarks measure the process). */
  onGatewayStarted?: (pid: number) => void;
  /** Play a recording (or CSV series) instead of simulating devices (device-sim/replayer.ts). */
  replay?: { recording: Recording; speed: number | 'max' };
  /**
   * TLS on every listener (mcps up --tls): a CA at <data>/tls/ca.pem and a certificate naming
   * localhost and 127.0.0.1 (made once, kept); the simulated devices trust that CA.
   */
  tls?: boolean;
}

export type StackRole = 'gateway' | 'chain-node';

export interface Stack {
  readonly data: string;
  readonly rpcUrl: string;
  readonly deployment: Deployment;
  readonly editorUrl: string;
  readonly editorCredentialsPath: string;
  readonly mqttPort: number;
  /** mqtt://127.0.0.1:PORT, or mqtts:// with TLS. */
  readonly mqttUrl: string;
  /** With TLS: the CA certificate every client must trust (<data>/tls/ca.pem). */
  readonly caPath: string | null;
  readonly nodeUrl: string;
  /** Base URLs of the monitoring listeners (append /metrics, /healthz, /readyz). */
  readonly gatewayMetricsUrl: string | null;
  readonly nodeMetricsUrl: string | null;
  readonly owner: OwnerKeyPair;
  /** The hospital's patient tag key (the owner's copy). */
  readonly patientTagKey: Uint8Array;
  readonly store: BatchStore;
  readonly sendLogPath: string;
  /** Latest gateway counters (from its status messages). */
  gatewayMetrics(): GatewayMetrics;
  simStats(): SimStats;
  /** The simulated MQTT devices' connections (connected now, reconnects), and a lever to cut them all at once. */
  simConnections(): { connected: number; devices: number; reconnects: number };
  cutSimConnections(): number;
  /** Stops the devices, waits for their last readings to arrive, seals and forwards everything. */
  drain(timeoutMs?: number): Promise<{ sim: SimStats; gateway: GatewayMetrics; drained: boolean }>;
  verify(): Promise<VerifyReport>;
  /** Resolves when every stream-mode device has all its readings acknowledged. */
  simFinished(): Promise<void>;
  /** The crash drill's levers: kill a process without warning, start it again, freeze the chain. */
  kill(role: StackRole): Promise<void>;
  restart(role: StackRole): Promise<void>;
  pauseChain(): void;
  resumeChain(): void;
  /** The hospital's key service (owner/key-service.ts), running in this process. */
  readonly ownerServiceUrl: string;
  /** The sharing exercise (cli/share-demo.ts): refused without a grant, then grant, fetch, verify. */
  share(): Promise<ShareSummary>;
  /** The running gateway process (benchmarks read its memory use). */
  gatewayPid(): number | undefined;
  stop(): Promise<void>;
}

/** The local stack's data owner (the hospital's key service and its keys) lives in <data>/owner. */
export function ownerDir(dataDir: string): string {
  return join(dataDir, 'owner');
}

/**
 * The hospital's data-owner key. In a deployment it lives with the hospital, not on the gateway; the
 * local stack keeps it in the data directory so `mcps verify` can decrypt.
 */
export async function loadOrCreateOwnerKey(dataDir: string): Promise<OwnerKeyPair> {
  return loadOrCreateOwnerKeyPair(ownerDir(dataDir));
}

/** The hospital's patient tag key (owner side). */
export function loadOrCreatePatientTagKey(dataDir: string): Uint8Array {
  return loadOrCreateOwnerTagKey(ownerDir(dataDir));
}

/**
 * Installs the hospital's patient tag key on the local gateway (what a hospital does once per box);
 * replaces a different one left from an older data directory.
 */
export function installGatewayTagKey(gatewayDir: string, tagKey: Uint8Array): void {
  const path = patientTagKeyPath({ dataDir: gatewayDir });
  try {
    if (Buffer.from(readKeyFile(path, PATIENT_TAG_KEY_KIND)).equals(Buffer.from(tagKey))) return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  rmSync(path, { force: true });
  writeKeyFile(path, PATIENT_TAG_KEY_KIND, tagKey);
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? (() => undefined);
  const data = resolve(opts.data);
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    while (cleanups.length > 0) {
      const c = cleanups.pop()!;
      await c().catch((err: unknown) => log(`stop: ${String(err)}`));
    }
  };
  try {
    // One process per data directory: a second `mcps up --data D` stops here, naming the first one's
    // pid, before it touches anything of the running stack.
    const lock = lockDataDir(data);
    cleanups.push(async () => lock.release());
    // A fresh chain each run, so the per-run state (batch chain head, node store, send log) restarts
    // with it. Keys, the editor login and the Node-RED user directory are kept.
    for (const d of ['gateway/state', 'chain-node/batches', 'sim', 'run']) rmSync(join(data, d), { recursive: true, force: true });
    mkdirSync(join(data, 'run'), { recursive: true, mode: 0o700 });
    // Ports are fixed for the whole run, so a restarted process comes back where its peers expect it.
    const nodePort = opts.nodePort || (await freePort());
    const mqttPort = opts.mqttPort || (await freePort());
    const editorPort = opts.editorPort || (await freePort());
    const gatewayMetricsPort = opts.gatewayMetricsPort || (await freePort());
    const nodeMetricsPort = opts.nodeMetricsPort || (await freePort());
    const gatewayDir = join(data, 'gateway');
    const nodeDir = join(data, 'chain-node');
    // TLS on every listener: the local CA and the box's certificate, made once in <data>/tls.
    const tlsFiles = opts.tls ? await (require('./tls/certificates') as typeof import('./tls/certificates')).ensureLocalTls(join(data, 'tls')) : null;
    const ca = tlsFiles ? readFileSync(tlsFiles.ca) : undefined;
    if (tlsFiles) log(`TLS on every listener: CA ${tlsFiles.ca}, certificate ${tlsFiles.cert} (localhost, 127.0.0.1)`);

    // 1. chain
    const anvil = await startAnvil({});
    cleanups.push(() => {
      anvil.process.kill('SIGCONT');
      return anvil.stop();
    });
    log(`anvil chain at ${anvil.url}`);
    const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 200 });
    cleanups.push(async () => provider.destroy());

    // 2. contracts and registrations, through the same code as `mcps admin` (cli/admin/actions.ts):
    // anvil's first two development accounts act as consortium admin and hospital admin, their
    // (public, development-only) keys in run/ so `mcps admin --data DIR` works against this stack.
    const adminKey = (i: number, name: string): ethers.Signer => {
      const path = join(data, 'run', `${name}-admin.key`);
      createEvmKeyFile(path, ethers.getBytes(ethers.HDNodeWallet.fromPhrase(ANVIL_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey));
      return loadEvmSigner(path, provider);
    };
    const admin = adminKey(0, 'consortium');
    const hospitalAdmin = adminKey(1, 'hospital');
    const deployed = await deployAction(admin, anvil.url, { trustless: opts.trustless === true });
    const { admin: _deployer, ...deployment } = deployed;
    writeDeployment(join(data, 'run'), deployment);
    const gwIdentity = gatewayIdentity({ data: gatewayDir, id: GATEWAY_ID });
    const nodeIdentity = chainNodeIdentity({ data: nodeDir, id: NODE_ID });
    for (const i of [gwIdentity, nodeIdentity]) writeFileSync(join(data, 'run', `${i.id}.identity.json`), JSON.stringify(identityToJson(i), null, 2) + '\n');
    const consortium = { provider, signer: admin, deployment };
    await hospitalAdd(consortium, HOSPITAL_ID, await hospitalAdmin.getAddress());
    await nodeAdd(consortium, nodeIdentity, '100');
    await gatewayAdd({ ...consortium, signer: hospitalAdmin }, gwIdentity, HOSPITAL_ID);
    log(`contracts: registry ${deployment.registry}, anchor ${deployment.anchor}; gateway ${GATEWAY_ID} and node ${NODE_ID} registered`);

    // JSON log lines name their process already; anything else (a crash trace) gets the role.
    const childLog = (role: string) => (line: string) => opts.onChildLog?.(line.startsWith('{') ? line : `[${role}] ${line}`);

    // 3. chain node
    const nodeCfg: ChainNodeConfig = { dataDir: nodeDir, nodeId: NODE_ID, host: '127.0.0.1', port: nodePort, chain: { rpcUrl: anvil.url, registry: deployment.registry, anchor: deployment.anchor, accessLog: deployment.accessLog }, metrics: { host: '127.0.0.1', port: nodeMetricsPort }, ...(tlsFiles ? { tls: tlsFiles } : {}) };
    const nodeCfgPath = join(data, 'run', 'chain-node.json');
    writeFileSync(nodeCfgPath, JSON.stringify(nodeCfg, null, 2), { mode: 0o600 });
    let node: Child;
    let nodeMetricsUrl: string | null = null;
    const startNode = async (): Promise<string> => {
      node = forkChild('chain-node', nodeCfgPath, () => undefined, childLog('chain-node'));
      const ready = await node.waitFor('ready', 60_000);
      if (ready.role !== 'chain-node') return '';
      nodeMetricsUrl = ready.metricsUrl;
      return ready.url;
    };
    cleanups.push(() => node.stop());
    const nodeUrl = await startNode();

    // 4. device logins, the oximeter's pseudo-terminal, the gateway
    const owner = await loadOrCreateOwnerKey(data);
    const patientTagKey = loadOrCreatePatientTagKey(data);
    await ownerKeyAction({ ...consortium, signer: hospitalAdmin }, HOSPITAL_ID, owner.publicKey);
    // The data user user-1 (its own keys, registered by the hospital like any user: mcps admin user
    // add) and the hospital's key service beside the chain node (mcps owner serve --config run/owner.json).
    const userId = userIdentity({ data: join(data, 'users', USER_ID), id: USER_ID });
    writeFileSync(join(data, 'run', `${USER_ID}.identity.json`), JSON.stringify(identityToJson(userId), null, 2) + '\n');
    await userAdd({ ...consortium, signer: hospitalAdmin }, userId, HOSPITAL_ID);
    const ownerCfg: OwnerServiceConfig = { hospital: HOSPITAL_ID, ownerDir: ownerDir(data), host: '127.0.0.1', port: await freePort(), chain: { rpcUrl: anvil.url, registry: deployment.registry, accessLog: deployment.accessLog } };
    writeFileSync(join(data, 'run', 'owner.json'), JSON.stringify(ownerCfg, null, 2), { mode: 0o600 });
    const keyService = await runOwnerService(ownerCfg, (_level, msg) => log(`key service: ${msg}`));
    cleanups.push(() => keyService.stop());
    log(`data user ${USER_ID} registered (keys in ${join(data, 'users', USER_ID)}); key service of ${HOSPITAL_ID} at ${keyService.url}`);
    const runStartedAt = Date.now();
    // Where `mcps data --data DIR` finds the node and the key service (data-user/context.ts).
    writeFileSync(join(data, 'run', 'share.json'), JSON.stringify({ hospital: HOSPITAL_ID, node: { id: NODE_ID, url: nodeUrl }, ownerService: keyService.url }, null, 2) + '\n');
    const simDevices: Array<{ deviceId: string; patient: string; kind: ReadingKind; password: string; seed: number; ratePerS?: number; scenario?: ClinicalScenario; faults?: FaultSpec[]; model?: DeviceModelName; modelParams?: ModelParams }> = [];
    const scenarioDevices = opts.scenario ? expandScenario(opts.scenario) : null;
    const replayDevices = opts.replay ? recordingDevices(opts.replay.recording) : null;
    if (replayDevices) {
      for (const d of replayDevices.mqtt) simDevices.push({ deviceId: d.deviceId, patient: d.patient, kind: d.kind, password: randomBytes(18).toString('base64url'), seed: 0 });
    } else if (scenarioDevices) {
      for (const d of scenarioDevices.filter((x) => x.transport === 'mqtt')) {
        simDevices.push({ deviceId: d.deviceId, patient: d.patient, kind: d.kind ?? 'heart_rate', password: randomBytes(18).toString('base64url'), seed: d.seed, ratePerS: d.ratePerS, scenario: d.scenario, faults: d.faults, ...(d.model ? { model: d.model, modelParams: d.params } : {}) });
      }
    } else {
      simDevices.push(
        { deviceId: 'temp-bed1', patient: 'p-0001', kind: 'body_temp', password: randomBytes(18).toString('base64url'), seed: 11 },
        { deviceId: 'resp-bed2', patient: 'p-0002', kind: 'resp_rate', password: randomBytes(18).toString('base64url'), seed: 12 },
      );
      const extraKinds: ReadingKind[] = ['heart_rate', 'spo2', 'body_temp', 'resp_rate', 'nibp_systolic', 'glucose'];
      for (let i = simDevices.length; i < (opts.mqttDevices ?? 2); i++) {
        const bed = String(i + 1).padStart(4, '0');
        simDevices.push({ deviceId: `dev-${bed}`, patient: `p-${bed}`, kind: extraKinds[i % extraKinds.length]!, password: randomBytes(18).toString('base64url'), seed: 100 + i });
      }
      simDevices.length = opts.mqttDevices ?? 2;
    }
    // HL7 monitors (ORU^R01 over MLLP): the scenario's, or one built-in bedside monitor.
    const hl7Monitors: Array<{ deviceId: string; patient: string; seed: number; ratePerS: number; scenario?: ClinicalScenario; password: string }> = (
      replayDevices ? replayDevices.hl7.map((d) => ({ ...d, seed: 0, ratePerS: 0 })) : scenarioDevices ? scenarioDevices.filter((x) => x.transport === 'hl7').map((d) => ({ deviceId: d.deviceId, patient: d.patient, seed: d.seed, ratePerS: d.ratePerS, scenario: d.scenario })) : opts.serial ?? true ? [{ deviceId: 'mon-bed4', patient: 'p-0004', seed: 11, ratePerS: 0.5 }] : []
    ).map((m) => ({ ...m, password: randomBytes(18).toString('base64url') }));
    // Serial oximeters: the scenario's (one per format at most), or the built-in set.
    const serialSpecs = replayDevices
      ? replayDevices.serial.map((d) => ({ deviceId: d.deviceId, patient: d.patient, seed: 0, format: d.format }))
      : scenarioDevices
      ? scenarioDevices.filter((x) => x.transport === 'serial').map((d) => ({ deviceId: d.deviceId, patient: d.patient, seed: d.seed, format: d.format! }))
      : opts.serial ?? true
        ? [
            { deviceId: 'oxi-bed1', patient: 'p-0001', seed: 7, format: 'nonin-df7' as const },
            { deviceId: 'oxi-bed2', patient: 'p-0002', seed: 8, format: 'masimo-ascii' as const },
            { deviceId: 'oxi-bed3', patient: 'p-0003', seed: 9, format: 'contec-cms50d' as const },
          ]
        : [];
    mkdirSync(gatewayDir, { recursive: true, mode: 0o700 });
    installGatewayTagKey(gatewayDir, patientTagKey);
    // Registered through the code of `mcps devices add` (fresh each run). HL7 monitors have no
    // password: MLLP has no login; their id and patient are checked.
    rmSync(devicesPath(gatewayDir), { force: true });
    await addDevices(devicesPath(gatewayDir), [
      ...simDevices.map((d) => ({ id: d.deviceId, patient: d.patient, password: d.password })),
      ...hl7Monitors.map((m) => ({ id: m.deviceId, patient: m.patient, hl7: true })),
    ]);
    // Serial oximeters on pseudo-terminals, one per format, on the ports the default flow reads.
    const ptys: Array<{ spec: (typeof serialSpecs)[number]; pty: PtyPair }> = [];
    for (const spec of serialSpecs) {
      const pty = await openPtyPair();
      cleanups.push(() => pty.close());
      ptys.push({ spec, pty });
    }
    const serialPorts: Record<string, string> = {};
    // The HL7 listener's port, taken by the default flow's HL7 node as ${MCPS_HL7_PORT}.
    const hl7Port = hl7Monitors.length > 0 || replayDevices ? await freePort() : null;
    if (hl7Port !== null) serialPorts.MCPS_HL7_PORT = String(hl7Port);
    for (const { spec, pty } of ptys) {
      const v = SERIAL_ENV_PREFIX[spec.format];
      Object.assign(serialPorts, { [`${v}_PORT`]: pty.path, [`${v}_ID`]: spec.deviceId, [`${v}_PATIENT`]: spec.patient });
    }
    const gwCfg: GatewayConfig = {
      dataDir: gatewayDir,
      gatewayId: GATEWAY_ID,
      editor: { host: '127.0.0.1', port: editorPort },
      mqtt: { host: '127.0.0.1', port: mqttPort },
      chainNode: { url: nodeUrl, nodeId: NODE_ID },
      chain: { rpcUrl: anvil.url, registry: deployment.registry },
      ownerPublicKey: Buffer.from(owner.publicKey).toString('hex'),
      serialPorts,
      metrics: { host: '127.0.0.1', port: gatewayMetricsPort },
      ...(tlsFiles ? { tls: tlsFiles } : {}),
      ...opts.gateway,
    };
    const gwCfgPath = join(data, 'run', 'gateway.json');
    writeFileSync(gwCfgPath, JSON.stringify(gwCfg, null, 2), { mode: 0o600 });
    let metrics = newMetrics();
    let gateway: Child;
    const startGateway = async (): Promise<Extract<ChildMessage, { type: 'ready'; role: 'gateway' }>> => {
      gateway = forkChild('gateway', gwCfgPath, (m) => {
        if (m.type === 'status' && m.role === 'gateway') metrics = m.metrics;
      }, childLog('gateway'));
      const ready = await gateway.waitFor('ready', 120_000);
      if (ready.role !== 'gateway') throw new Error('gateway reported the wrong role');
      if (gateway.proc.pid !== undefined) opts.onGatewayStarted?.(gateway.proc.pid);
      return ready;
    };
    cleanups.push(() => gateway.stop());
    const gwReady = await startGateway();

    // 5. simulated devices, once the gateway has the oximeter's port open (bytes written before
    // that could be flushed when the port opens)
    const portDeadline = Date.now() + 30_000;
    while (metrics.serialPortsOpen < ptys.length) {
      if (Date.now() > portDeadline) throw new Error(`the gateway did not open the oximeters' ports within 30 s (${metrics.serialPortsOpen} of ${ptys.length} open)`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const sendLogPath = join(data, 'sim', 'send-log.jsonl');
    const mqttUrl = `${tlsFiles ? 'mqtts' : 'mqtt'}://127.0.0.1:${gwReady.mqttPort}`;
    const sim = opts.replay
      ? await startReplay({
          recording: opts.replay.recording,
          speed: opts.replay.speed,
          serialPorts: new Map(ptys.map(({ spec, pty }) => [spec.format, pty])),
          mqttUrl,
          ...(ca ? { ca } : {}),
          mqttDevices: simDevices.map((d) => ({ deviceId: d.deviceId, password: d.password, patient: d.patient })),
          ...(hl7Port !== null ? { hl7: { host: '127.0.0.1', port: hl7Port } } : {}),
          sendLogPath,
        })
      : await startSimulator({
      serial: ptys.map(({ spec, pty }) => ({ pty, deviceId: spec.deviceId, patient: spec.patient, seed: spec.seed, format: spec.format })),
      mqtt: simDevices.map((d) => ({
        url: mqttUrl,
        ...(ca ? { ca } : {}),
        deviceId: d.deviceId,
        password: d.password,
        patient: d.patient,
        kind: d.kind,
        ratePerS: d.ratePerS ?? opts.mqttRatePerS ?? 2,
        seed: d.seed,
        scenario: d.scenario,
        faults: d.faults,
        ...(d.model ? { model: d.model, modelParams: d.modelParams } : {}),
        ...(opts.stream ? { stream: { total: opts.stream.readingsPerDevice, maxInflight: opts.stream.maxInflight, maxRatePerS: opts.stream.maxRatePerS } } : {}),
      })),
      connectConcurrency: opts.connectConcurrency,
      hl7: hl7Monitors.map((m) => ({ host: '127.0.0.1', port: hl7Port!, ...(ca ? { ca } : {}), deviceId: m.deviceId, patient: m.patient, seed: m.seed, ratePerS: m.ratePerS, ...(m.scenario ? { scenario: m.scenario } : {}) })),
      sendLogPath,
    });
    let simStopped: SimStats | null = null;
    let restarted = false;
    cleanups.push(async () => {
      if (!simStopped) simStopped = await sim.stop();
    });
    const store = new BatchStore(join(nodeDir, 'batches'));

    return {
      data,
      rpcUrl: anvil.url,
      deployment,
      editorUrl: gwReady.editorUrl,
      editorCredentialsPath: gwReady.editorCredentialsPath,
      mqttPort: gwReady.mqttPort,
      mqttUrl,
      caPath: tlsFiles?.ca ?? null,
      nodeUrl,
      get gatewayMetricsUrl() {
        return gwReady.metricsUrl;
      },
      get nodeMetricsUrl() {
        return nodeMetricsUrl;
      },
      owner,
      patientTagKey,
      store,
      sendLogPath,
      gatewayMetrics: () => metrics,
      simStats: () => simStopped ?? sim.stats(),
      simConnections: () => sim.mqttConnections?.() ?? { connected: 0, devices: 0, reconnects: 0 },
      cutSimConnections: () => sim.cutMqttConnections?.() ?? 0,
      drain: async (timeoutMs = 900_000) => {
        if (!simStopped) simStopped = await sim.stop();
        const sent = simStopped.acked;
        // Serial bytes already written may still be in the tty; wait until the gateway has them all.
        // (Only meaningful while the gateway's counters cover the whole run, i.e. it was never restarted.)
        const deadline = Date.now() + (restarted ? 0 : 10_000);
        while (metrics.readingsIn + metrics.readingsRejected < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        gateway.send({ type: 'drain', timeoutMs });
        // The gateway answers by its deadline; a gateway that does not is not waited for much longer.
        const answer = await gateway.waitFor('drained', timeoutMs + 30_000).catch((err: Error) => {
          log(`drain: ${err.message}`);
          return null;
        });
        if (answer) metrics = answer.metrics;
        return { sim: simStopped, gateway: metrics, drained: answer !== null && metrics.journalUnsealed === 0 && metrics.outboxPending === 0 };
      },
      verify: () => collectAndVerify({ rpcUrl: anvil.url, anchorAddress: deployment.anchor, deployBlock: deployment.deployBlock, store, sendLogPath, owner, patientTagKey }),
      simFinished: () => sim.finished(),
      kill: async (role) => {
        const c = role === 'gateway' ? gateway : node;
        const exited = new Promise<void>((r) => (c.proc.exitCode !== null || c.proc.signalCode !== null ? r() : c.proc.once('exit', () => r())));
        c.proc.kill('SIGKILL');
        await exited;
      },
      restart: async (role) => {
        restarted = true;
        if (role === 'gateway') await startGateway();
        else await startNode();
      },
      ownerServiceUrl: keyService.url,
      share: async () => {
        const { shareDemo } = require('./share-demo') as typeof import('./share-demo');
        return shareDemo({ data, rpcUrl: anvil.url, deployment, hospital: HOSPITAL_ID, node: { id: NODE_ID, url: nodeUrl }, ownerServiceUrl: keyService.url, userId: USER_ID, patientTagKey, sendLogPath, from: runStartedAt, ...(ca ? { ca } : {}) });
      },
      gatewayPid: () => gateway.proc.pid,
      pauseChain: () => anvil.process.kill('SIGSTOP'),
      resumeChain: () => anvil.process.kill('SIGCONT'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
