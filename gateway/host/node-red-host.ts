/**
 * Embeds Node-RED 4.1 in the gateway process: our nodes loaded from this package exactly as a stock
 * Node-RED would load them (package.json "node-red" section), the default flow from flows/, the
 * editor and admin API behind a login, bound to loopback unless configured otherwise.
 */
import express from 'express';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { serverTlsOptions, type TlsMaterial } from '../../common/tls';
import { LISTENER_TLS_SETTING, type ListenerTls } from '../ingest/hl7/mllp-listener';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { adminAuthFor, type EditorCredentials } from './editor-credentials';
import { RUNTIME_SETTING, type GatewayRuntime } from '../runtime';
import type { Level, LogFn } from '../../common/log';
import { mountWardView } from '../ward-view/ward-view';
import { coreNodesDir, coreNodesExcludes, DEFAULT_CORE_NODES, flowNodeTypes, listCoreNodeSets, unknownCoreNodes, type CoreNodesSetting } from './core-nodes';

/** A log message as Node-RED hands it to a logging handler (@node-red/util log.js). */
interface NodeRedLogMessage {
  level: number;
  msg: unknown;
  type?: string;
  id?: string;
  name?: string;
}

const NODE_RED_LEVELS: Record<number, Level> = { 10: 'error', 20: 'error', 30: 'warn', 40: 'info', 50: 'debug', 60: 'debug' };

/**
 * Node-RED's log (its own and every node's node.warn/node.error) as our JSON lines: component
 * "node-red", with the node's type, id and name as fields.
 */
export function nodeRedLogging(log: LogFn, level: string): Record<string, unknown> {
  return {
    mcps: {
      level,
      metrics: false,
      audit: false,
      handler: () => (m: NodeRedLogMessage) => {
        const l = NODE_RED_LEVELS[m.level];
        if (!l) return;
        const text = m.msg instanceof Error ? m.msg.message : typeof m.msg === 'string' ? m.msg : JSON.stringify(m.msg);
        const fields: Record<string, unknown> = { component: 'node-red' };
        if (m.type) fields.nodeType = m.type;
        if (m.id) fields.nodeId = m.id;
        if (m.name) fields.nodeName = m.name;
        log(l, text, fields);
      },
    },
  };
}

/** Root of this package (holds package.json with the "node-red" section). dist/gateway → ../.. */
export const PACKAGE_ROOT = resolve(__dirname, '..', '..', '..');
export const DEFAULT_FLOW = join(PACKAGE_ROOT, 'flows', 'gateway.json');

export interface NodeRedHostOptions {
  userDir: string;
  host: string;
  port: number;
  editor: EditorCredentials;
  credentialSecret: string;
  /** HTTPS for the editor and admin API. */
  tls?: TlsMaterial;
  /** What the flow's own listeners (HL7 over MLLP) use: the box's TLS files, and whether plaintext is allowed off loopback. */
  listenerTls?: ListenerTls;
  runtime: GatewayRuntime;
  /** Flow copied into userDir the first time (later edits in the editor are kept). */
  initialFlow?: string;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug';
  /** Where Node-RED's log goes (as JSON lines); Node-RED's console logger when absent. */
  log?: LogFn;
  /** Which of Node-RED's core nodes to load (config editor.coreNodes; default DEFAULT_CORE_NODES); those the flow uses always are. */
  coreNodes?: CoreNodesSetting;
}

export interface NodeRedHost {
  readonly url: string;
  readonly port: number;
  /** Whether the flows run now (between Node-RED's flows:started and flows:stopped). */
  flowsRunning(): boolean;
  stop(): Promise<void>;
}

interface RedModule {
  init(server: Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  httpAdmin: express.Express;
  httpNode: express.Express;
  events: NodeJS.EventEmitter;
  auth: { needsPermission(permission: string): express.RequestHandler };
}

/**
 * Drops from require's cache the package.json files loaded since `before` (returns how many).
 * Node-RED's registry looks for node modules by `require`-ing the package.json of every package in
 * the node_modules trees it scans (@node-red/registry localfilesystem.js getPackageDetails), and
 * require keeps each one for the life of the process: about 600 manifests, 3.5 MB of heap, for
 * the few node modules it found (it keeps those itself). A later scan reads them again.
 */
export function forgetPackageManifests(before: ReadonlySet<string>): number {
  const drop = new Set<NodeJS.Module>();
  for (const [k, m] of Object.entries(require.cache)) {
    if (m && !before.has(k) && k.endsWith(`${sep}package.json`)) {
      drop.add(m);
      delete require.cache[k];
    }
  }
  if (drop.size === 0) return 0;
  // The module that required them lists them as its children too.
  for (const m of Object.values(require.cache)) {
    // (A JSON module read through import has no children array.)
    if (Array.isArray(m?.children) && m.children.some((c) => drop.has(c))) m.children = m.children.filter((c) => !drop.has(c));
  }
  return drop.size;
}

export async function startNodeRed(opts: NodeRedHostOptions): Promise<NodeRedHost> {
  mkdirSync(opts.userDir, { recursive: true, mode: 0o700 });
  const flowPath = join(opts.userDir, 'flows.json');
  if (!existsSync(flowPath)) copyFileSync(opts.initialFlow ?? DEFAULT_FLOW, flowPath);
  const coreDir = coreNodesDir();
  const coreSets = listCoreNodeSets(coreDir);
  const coreNodes = opts.coreNodes ?? DEFAULT_CORE_NODES;
  if (coreNodes !== 'all') {
    const unknown = unknownCoreNodes(coreNodes, coreSets);
    if (unknown.length > 0) throw new Error(`editor.coreNodes: no Node-RED core node named ${unknown.map((u) => `"${u}"`).join(', ')} (known: ${coreSets.map((c) => c.set).join(', ')}; or "all")`);
  }

  const cachedBefore = new Set(Object.keys(require.cache));
  // node-red is CommonJS with no bundled types for its embedding API.
  const RED = require('node-red') as RedModule;
  const app = express();
  // node-red's init() takes an http.Server; an https.Server offers the same API to it.
  const server = (opts.tls ? createHttpsServer(serverTlsOptions(opts.tls), app) : createServer(app)) as Server;
  const settings: Record<string, unknown> = {
    userDir: opts.userDir,
    flowFile: 'flows.json',
    credentialSecret: opts.credentialSecret,
    nodesDir: [PACKAGE_ROOT],
    coreNodesDir: coreDir,
    // Core nodes left out of the runtime and the palette (gateway/host/core-nodes.ts).
    nodesExcludes: coreNodesExcludes(coreNodes, coreSets, flowNodeTypes(flowPath)),
    httpAdminRoot: '/',
    httpNodeRoot: '/api',
    uiHost: opts.host,
    adminAuth: adminAuthFor(opts.editor),
    functionExternalModules: false,
    externalModules: { palette: { allowInstall: false } },
    editorTheme: { tours: false },
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
    logging: opts.log ? nodeRedLogging(opts.log, opts.logLevel ?? 'warn') : { console: { level: opts.logLevel ?? 'warn', metrics: false, audit: false } },
    [RUNTIME_SETTING]: opts.runtime,
    [LISTENER_TLS_SETTING]: opts.listenerTls ?? { allowPlaintext: false },
  };
  RED.init(server, settings);
  app.use('/api', RED.httpNode);
  app.use('/', RED.httpAdmin);
  // The live ward view at /ward, its data behind the editor's login (gateway/ward-view/).
  const ward = mountWardView({ runtime: opts.runtime, admin: RED.httpAdmin, needsPermission: (p) => RED.auth.needsPermission(p), flowsRunning: () => running });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  // RED.start() resolves before the flows run (it does not wait for them): wait for them, so that
  // the caller opens the MQTT broker only when the input nodes are there to take readings.
  const flowsStarted = new Promise<void>((resolveStarted) => {
    const t = setTimeout(resolveStarted, 60_000);
    RED.events.once('flows:started', () => {
      clearTimeout(t);
      resolveStarted();
    });
  });
  let running = false;
  RED.events.on('flows:started', () => (running = true));
  RED.events.on('flows:stopped', () => (running = false));
  await RED.start();
  await flowsStarted;
  running = true;
  forgetPackageManifests(cachedBefore);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${opts.host}:${port}/`,
    port,
    flowsRunning: () => running,
    stop: async () => {
      running = false;
      await ward.stop();
      await RED.stop();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };
}
