/**
 * Gateway configuration: one JSON file, validated at start with errors that name the field.
 * `mcps up` writes one for the local stack; a hospital writes its own (see docs/operations.md).
 */
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { TLS_FILES_SCHEMA } from '../common/tls';

export interface GatewayConfig {
  /** Where keys, Node-RED's user directory, chain state and dead letters live. */
  dataDir: string;
  /** This gateway's registry id (1..31 characters). */
  gatewayId: string;
  /**
   * `tls`: HTTPS for the editor and admin API (default: on when the config has `tls`).
   * `coreNodes`: which of Node-RED's own core nodes are loaded (and shown in the editor's palette):
   * `"all"`, or a list of set names or node types ("function", "http request", "json"); by default
   * the everyday ones (gateway/host/core-nodes.ts DEFAULT_CORE_NODES), and always every core node
   * the flow file uses at start (docs/operations.md, "Node-RED core nodes").
   */
  editor: { host: string; port: number; tls?: boolean; coreNodes?: 'all' | string[] };
  /**
   * The embedded broker. `tls`: MQTT over TLS (default: on when the config has `tls`); the port
   * defaults to 8883 with TLS, 1883 without. `clientCertificates`: devices may log in with a client
   * certificate signed by `tls.ca` whose common name is their id (mcps tls client ID).
   */
  mqtt: { host: string; port?: number; tls?: boolean; clientCertificates?: boolean };
  /** `ca`: the CA file that signed an https:// chain node's certificate (default: tls.ca, then the system's CAs). */
  chainNode: { url: string; nodeId: string; ca?: string };
  /**
   * The box's TLS files (mcps tls init, or the hospital's own): certificate chain, key (0600), and
   * the CA that devices' client certificates are checked against. With it every listener is TLS
   * unless that listener says `"tls": false`.
   */
  tls?: { cert: string; key: string; ca?: string };
  /** A listener on an address other than loopback may be plaintext only with this set (a warning each start). */
  allowPlaintext?: boolean;
  chain: { rpcUrl: string; registry: string };
  /** The data owner's (hospital's) X25519 public key, hex: the epoch keys of batches are wrapped to it. */
  ownerPublicKey: string;
  /**
   * The hospital's patient tag key file (0600; default <dataDir>/keys/patient-tag.key): a secret the
   * hospital gives each of its gateways, so batch slices carry tags only the hospital and granted
   * users can link to a patient (docs/sharing.md).
   */
  patientTagKeyFile?: string;
  /** Serial port paths by name, substituted into the flow as environment variables (e.g. MCPS_OXIMETER_PORT). */
  serialPorts?: Record<string, string>;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /**
   * The state database's disk budget (default 1024 MB; alarm at 80%, new readings refused at 100%)
   * and whether commits are synced (default true; false only for measuring what syncing costs).
   */
  storage?: { budgetMB?: number; fsync?: boolean };
  /** Batch windows: unsealed journal entries older than this are sealed by the sweep (default 300 s). */
  orphanAfterS?: number;
  /** Record what arrives (serial bytes, MQTT messages, with times) to this JSONL file for `mcps sim replay`; stops at maxMB (default 512). */
  record?: { path: string; maxMB?: number };
  /** On SIGTERM/SIGINT: how long to drain (seal and forward what is held) before stopping (default 30 s). */
  drainTimeoutS?: number;
  /**
   * The monitoring listener: /metrics (Prometheus), /healthz, /readyz. A config file without it gets
   * 127.0.0.1:9880 (DEFAULT_METRICS); port 0 picks a free port. readyOutboxMaxAgeS: how long the
   * outbox may hold a batch before the gateway counts as not ready (default 900).
   */
  metrics?: { host: string; port: number; readyOutboxMaxAgeS?: number; tls?: boolean };
  /**
   * The process's V8 heap cap in MB (default 128; at least 64): `mcps gateway` starts itself with
   * --max-old-space-size set to it (cli/heap-cap.ts). docs/raspberry-pi.md says what a box needs.
   * sealWorker (default false): seal batches on a worker thread (its own V8 isolate, about 15 MB
   * more resident memory) rather than on the main thread in slices that let the broker run between.
   */
  memory?: { heapMB?: number; sealWorker?: boolean };
}

export const DEFAULT_METRICS = { host: '127.0.0.1', port: 9880 } as const;

const hostPort = {
  type: 'object',
  additionalProperties: false,
  required: ['host', 'port'],
  properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 0, maximum: 65535 } },
} as const;

const tlsSwitch = { type: 'boolean' } as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataDir', 'gatewayId', 'editor', 'mqtt', 'chainNode', 'chain', 'ownerPublicKey'],
  properties: {
    dataDir: { type: 'string', minLength: 1 },
    gatewayId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$' },
    editor: {
      ...hostPort,
      properties: {
        ...hostPort.properties,
        tls: tlsSwitch,
        coreNodes: { anyOf: [{ const: 'all' }, { type: 'array', items: { type: 'string', minLength: 1 } }] },
      },
    },
    mqtt: { ...hostPort, required: ['host'], properties: { ...hostPort.properties, tls: tlsSwitch, clientCertificates: { type: 'boolean' } } },
    chainNode: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'nodeId'],
      properties: { url: { type: 'string', pattern: '^https?://' }, nodeId: { type: 'string', minLength: 1, maxLength: 31 }, ca: { type: 'string', minLength: 1 } },
    },
    tls: TLS_FILES_SCHEMA,
    allowPlaintext: { type: 'boolean' },
    chain: {
      type: 'object',
      additionalProperties: false,
      required: ['rpcUrl', 'registry'],
      properties: { rpcUrl: { type: 'string', pattern: '^(https?|wss?)://' }, registry: { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' } },
    },
    ownerPublicKey: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    patientTagKeyFile: { type: 'string', minLength: 1 },
    serialPorts: { type: 'object', additionalProperties: { type: 'string' } },
    logLevel: { enum: ['error', 'warn', 'info', 'debug'] },
    storage: {
      type: 'object',
      additionalProperties: false,
      properties: { budgetMB: { type: 'number', exclusiveMinimum: 0 }, fsync: { type: 'boolean' } },
    },
    orphanAfterS: { type: 'number', minimum: 1 },
    drainTimeoutS: { type: 'number', minimum: 0 },
    metrics: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 0, maximum: 65535 }, readyOutboxMaxAgeS: { type: 'number', exclusiveMinimum: 0 }, tls: { type: 'boolean' } },
    },
    memory: {
      type: 'object',
      additionalProperties: false,
      properties: { heapMB: { type: 'integer', minimum: 64, maximum: 16384 }, sealWorker: { type: 'boolean' } },
    },
    record: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      properties: { path: { type: 'string', minLength: 1 }, maxMB: { type: 'number', exclusiveMinimum: 0 } },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: true }).compile<GatewayConfig>(schema);

export function parseGatewayConfig(x: unknown, where = 'gateway config'): GatewayConfig {
  if (!validate(x)) {
    const msgs = (validate.errors ?? []).map((e) => `${e.instancePath || '(top)'} ${e.message}`);
    throw new Error(`${where}: ${msgs.join('; ')}`);
  }
  for (const l of ['editor', 'mqtt', 'metrics'] as const) {
    if (x[l]?.tls === true && !x.tls) throw new Error(`${where}: /${l}/tls is true but the config has no "tls" (certificate and key files: mcps tls init)`);
  }
  if (x.mqtt.clientCertificates && !(listenerTls(x, 'mqtt') && x.tls?.ca)) throw new Error(`${where}: /mqtt/clientCertificates needs MQTT over TLS and tls.ca (the CA that signs the devices' certificates)`);
  return x;
}

/** Whether a listener runs TLS: its own `tls` switch, else on when the config has `tls`. */
export function listenerTls(cfg: Pick<GatewayConfig, 'tls' | 'editor' | 'mqtt' | 'metrics'>, listener: 'editor' | 'mqtt' | 'metrics'): boolean {
  return cfg[listener]?.tls ?? cfg.tls !== undefined;
}

/** The broker's port: as configured, else 8883 with TLS and 1883 without. */
export function mqttPort(cfg: Pick<GatewayConfig, 'tls' | 'editor' | 'mqtt'>): number {
  return cfg.mqtt.port ?? (listenerTls(cfg, 'mqtt') ? 8883 : 1883);
}

export function loadGatewayConfig(path: string): GatewayConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`gateway config ${path}: ${(err as Error).message}`);
  }
  const cfg = parseGatewayConfig(raw, `gateway config ${path}`);
  // A gateway run from a config file (a service) has its monitoring listener unless it says where.
  return cfg.metrics ? cfg : { ...cfg, metrics: { ...DEFAULT_METRICS } };
}
