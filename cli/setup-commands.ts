/**
 * Setting a box up without writing JSON by hand (docs/onboarding.md):
 *   mcps chain-node init   a chain node's config from the consortium's deployment file
 *   mcps gateway init      a gateway's config: deployment, its chain node, the hospital's owner key
 *                          (read from the registry), listeners and TLS files
 *   mcps gateway install-tag-key FILE   the hospital's patient tag key onto the gateway (0600)
 *   mcps owner init        a hospital's data-owner keys (X25519 owner key, patient tag key)
 * Each writes its files with mode 0600 and refuses to replace one unless --force.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';

interface ListenOpt {
  host: string;
  port: number;
}

function listen(v: string, what: string): ListenOpt {
  const m = /^(.+):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`${what} "${v}": expected HOST:PORT, e.g. 127.0.0.1:1883`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

function writeConfig(path: string, cfg: object, force: boolean | undefined): string {
  const p = resolve(path);
  if (existsSync(p) && !force) throw new Error(`${p} exists: edit it, or give --force to replace it`);
  mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
  writeFileSync(p, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  return p;
}

function deployment(path: string): { registry: string; anchor: string; accessLog: string; rpcUrl?: string } {
  return (require('./admin/context') as typeof import('./admin/context')).readDeploymentFile(resolve(path));
}

function tlsFiles(dir: string | undefined): { tls: { cert: string; key: string; ca: string } } | Record<string, never> {
  if (!dir) return {};
  const d = resolve(dir);
  const f = { cert: join(d, 'server.pem'), key: join(d, 'server.key'), ca: join(d, 'ca.pem') };
  for (const p of Object.values(f)) if (!existsSync(p)) throw new Error(`--tls-dir ${d}: no ${p} (make the files with mcps tls init --dir ${d})`);
  return { tls: f };
}

async function report(fn: () => Promise<string> | string): Promise<void> {
  try {
    process.stdout.write(await fn());
  } catch (err) {
    process.exitCode = 1;
    process.stderr.write(`mcps: ${(err as Error).message}\n`);
  }
}

const rpcOf = (o: { rpc?: string }, d: { rpcUrl?: string }): string => {
  const url = o.rpc ?? process.env.MCPS_RPC_URL ?? d.rpcUrl;
  if (!url) throw new Error('--rpc URL is needed: the consortium chain\'s JSON-RPC endpoint (or MCPS_RPC_URL)');
  return url;
};

export function registerSetupCommands(gateway: Command, chainNode: Command, program: Command): void {
  chainNode
    .command('init')
    .description('write a chain node\'s config (0600) from the consortium\'s deployment file; then `mcps chain-node identity --config FILE` for its registration')
    .requiredOption('--config <file>', 'the config file to write')
    .requiredOption('--data <dir>', 'the node\'s data directory (keys, ciphertext store)')
    .requiredOption('--id <id>', 'the node\'s registry id')
    .option('--deployment <file>', 'the deployment file of mcps admin deploy (default: MCPS_DEPLOYMENT, else ./deployment.json)', process.env.MCPS_DEPLOYMENT ?? 'deployment.json')
    .option('--rpc <url>', 'the chain\'s JSON-RPC endpoint (default: MCPS_RPC_URL, else the deployment file\'s)')
    .option('--listen <host:port>', 'the API\'s address (HTTPS with --tls-dir)', '127.0.0.1:7545')
    .option('--metrics <host:port>', 'the monitoring listener', '127.0.0.1:9545')
    .option('--tls-dir <dir>', 'TLS files from mcps tls init (server.pem, server.key, ca.pem): the API and metrics speak HTTPS')
    .option('--force', 'replace an existing config file')
    .action((o: { config: string; data: string; id: string; deployment: string; rpc?: string; listen: string; metrics: string; tlsDir?: string; force?: boolean }) =>
      report(() => {
        const d = deployment(o.deployment);
        const api = listen(o.listen, '--listen');
        const cfg = { dataDir: resolve(o.data), nodeId: o.id, host: api.host, port: api.port, chain: { rpcUrl: rpcOf(o, d), registry: d.registry, anchor: d.anchor, accessLog: d.accessLog }, metrics: listen(o.metrics, '--metrics'), ...tlsFiles(o.tlsDir) };
        const path = writeConfig(o.config, cfg, o.force);
        const { loadChainNodeConfig } = require('../chain-node/config') as typeof import('../chain-node/config');
        loadChainNodeConfig(path);
        return `wrote ${path}: node ${o.id}, API ${o.tlsDir ? 'https' : 'http'}://${api.host}:${api.port}\n`;
      }),
    );

  gateway
    .command('init')
    .description('write a gateway\'s config (0600): the deployment, its chain node, the hospital\'s owner key (read from the registry), listeners and TLS files')
    .requiredOption('--config <file>', 'the config file to write')
    .requiredOption('--data <dir>', 'the gateway\'s data directory')
    .requiredOption('--id <id>', 'the gateway\'s registry id')
    .requiredOption('--hospital <id>', 'its hospital: the hospital\'s owner key is read from the registry (mcps admin hospital owner-key)')
    .requiredOption('--chain-node <id=url>', 'the chain node it forwards to, e.g. node-1=https://node-1.consortium.example:7545')
    .option('--chain-node-ca <file>', 'the CA that signed the chain node\'s certificate (the consortium\'s ca.pem)')
    .option('--deployment <file>', 'the deployment file of mcps admin deploy (default: MCPS_DEPLOYMENT, else ./deployment.json)', process.env.MCPS_DEPLOYMENT ?? 'deployment.json')
    .option('--rpc <url>', 'the chain\'s JSON-RPC endpoint (default: MCPS_RPC_URL, else the deployment file\'s)')
    .option('--mqtt <host:port>', 'the MQTT broker\'s address (default 127.0.0.1, port 8883 with TLS, 1883 without)')
    .option('--editor <host:port>', 'the Node-RED editor\'s address', '127.0.0.1:1880')
    .option('--metrics <host:port>', 'the monitoring listener', '127.0.0.1:9880')
    .option('--tls-dir <dir>', 'TLS files from mcps tls init (server.pem, server.key, ca.pem): every listener TLS')
    .option('--client-certificates', 'devices may log in with a client certificate from mcps tls client (needs --tls-dir)')
    .option('--force', 'replace an existing config file')
    .action((o: { config: string; data: string; id: string; hospital: string; chainNode: string; chainNodeCa?: string; deployment: string; rpc?: string; mqtt?: string; editor: string; metrics: string; tlsDir?: string; clientCertificates?: boolean; force?: boolean }) =>
      report(async () => {
        const d = deployment(o.deployment);
        const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,30})=(https?:\/\/.+)$/.exec(o.chainNode);
        if (!m) throw new Error(`--chain-node "${o.chainNode}": expected ID=URL, e.g. node-1=https://127.0.0.1:7545`);
        const rpcUrl = rpcOf(o, d);
        const { ethers } = require('ethers') as typeof import('ethers');
        const { RegistryClient } = require('../contracts/clients') as typeof import('../contracts/clients');
        const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
        let ownerKey: Uint8Array | null;
        try {
          ownerKey = await new RegistryClient(provider, d.registry).ownerKey(o.hospital);
        } finally {
          provider.destroy();
        }
        if (!ownerKey) throw new Error(`hospital ${o.hospital} has no owner key in the registry yet: its admin registers it first (mcps owner init, then mcps admin hospital owner-key ${o.hospital} --owner DIR)`);
        const mqtt = o.mqtt ? { ...listen(o.mqtt, '--mqtt'), ...(o.clientCertificates ? { clientCertificates: true } : {}) } : { host: '127.0.0.1', ...(o.clientCertificates ? { clientCertificates: true } : {}) };
        const cfg = {
          dataDir: resolve(o.data),
          gatewayId: o.id,
          editor: listen(o.editor, '--editor'),
          mqtt,
          chainNode: { url: m[2]!, nodeId: m[1]!, ...(o.chainNodeCa ? { ca: resolve(o.chainNodeCa) } : {}) },
          chain: { rpcUrl, registry: d.registry },
          ownerPublicKey: Buffer.from(ownerKey).toString('hex'),
          metrics: listen(o.metrics, '--metrics'),
          ...tlsFiles(o.tlsDir),
        };
        const path = writeConfig(o.config, cfg, o.force);
        const { loadGatewayConfig, mqttPort, listenerTls } = require('../gateway/config') as typeof import('../gateway/config');
        const c = loadGatewayConfig(path);
        return `wrote ${path}: gateway ${o.id} of ${o.hospital}, MQTT ${listenerTls(c, 'mqtt') ? 'mqtts' : 'mqtt'}://${c.mqtt.host}:${mqttPort(c)}, chain node ${m[1]} at ${m[2]}\n` +
          `next: mcps gateway identity --config ${o.config} (for mcps admin gateway add), mcps gateway install-tag-key FILE --config ${o.config}\n`;
      }),
    );

  gateway
    .command('install-tag-key')
    .description('install the hospital\'s patient tag key (the file the hospital\'s mcps owner init made) on this gateway, mode 0600; the gateway cannot seal batches without it')
    .argument('<file>', 'the hospital\'s patient-tag.key, as handed over (a copy for this box)')
    .requiredOption('--config <file>', 'the gateway\'s config')
    .option('--force', 'replace a different key already installed')
    .action((file: string, o: { config: string; force?: boolean }) =>
      report(() => {
        const { loadGatewayConfig } = require('../gateway/config') as typeof import('../gateway/config');
        const { patientTagKeyPath } = require('../gateway/main') as typeof import('../gateway/main');
        const { readKeyFile, writeKeyFile } = require('../common/key-file') as typeof import('../common/key-file');
        const { PATIENT_TAG_KEY_KIND } = require('../common/key-kinds') as typeof import('../common/key-kinds');
        const key = readKeyFile(resolve(file), PATIENT_TAG_KEY_KIND);
        if (key.length !== 32) throw new Error(`${file} holds ${key.length} bytes, expected 32`);
        const dest = patientTagKeyPath(loadGatewayConfig(o.config));
        if (existsSync(dest)) {
          if (Buffer.from(readKeyFile(dest, PATIENT_TAG_KEY_KIND)).equals(Buffer.from(key))) return `${dest}: this key is installed already\n`;
          if (!o.force) throw new Error(`${dest} holds another patient tag key: --force replaces it (batches sealed with the old one stay linkable only with the old one)`);
          require('node:fs').rmSync(dest);
        }
        writeKeyFile(dest, PATIENT_TAG_KEY_KIND, key);
        return `installed the patient tag key at ${dest} (0600)\n`;
      }),
    );

  const owner = program.commands.find((c) => c.name() === 'owner') ?? program.command('owner').description('the hospital as data owner: its keys, kept by the hospital (not on its gateways)');
  owner
    .command('init')
    .description('make (once) the hospital\'s owner key (X25519: gateways wrap batch keys to it) and patient tag key in --data DIR (0600); prints the owner public key')
    .requiredOption('--data <dir>', 'the hospital\'s own directory for its keys')
    .option('--json', 'one JSON object')
    .action((o: { data: string; json?: boolean }) =>
      report(() => {
        const k = require('../owner/keys') as typeof import('../owner/keys');
        const dir = resolve(o.data);
        const pair = k.loadOrCreateOwnerKeyPair(dir);
        k.loadOrCreateOwnerTagKey(dir);
        const pub = Buffer.from(pair.publicKey).toString('hex');
        return o.json
          ? JSON.stringify({ ownerPublicKey: pub, ownerKey: k.ownerKeyPath(dir), patientTagKey: k.ownerTagKeyPath(dir) }) + '\n'
          : `owner public key ${pub}\n  owner key        ${k.ownerKeyPath(dir)} (0600, keep it with the hospital)\n  patient tag key  ${k.ownerTagKeyPath(dir)} (0600; a copy goes to each gateway: mcps gateway install-tag-key)\n`;
      }),
    );
}

/** The owner public key of an owner directory (for mcps admin hospital owner-key). */
export function ownerPublicKeyOf(dir: string): Uint8Array {
  const k = require('../owner/keys') as typeof import('../owner/keys');
  if (!existsSync(k.ownerKeyPath(resolve(dir)))) throw new Error(`no owner key in ${dir}: make it with mcps owner init --data ${dir}`);
  return k.loadOrCreateOwnerKeyPair(resolve(dir)).publicKey;
}

