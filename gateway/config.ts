/**
 * Gateway configuration: one JSON file, validated at start with errors that name the field.
 * `mcps up` writes one for the local stack; a hospital writes its own (see docs/operations.md).
 */
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';

export interface GatewayConfig {
  /** Where keys, Node-RED's user directory, chain state and dead letters live. */
  dataDir: string;
  /** This gateway's registry id (1..31 characters). */
  gatewayId: string;
  editor: { host: string; port: number };
  mqtt: { host: string; port: number };
  chainNode: { url: string; nodeId: string };
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
  metrics?: { host: string; port: number; readyOutboxMaxAgeS?: number };
}

export const DEFAULT_METRICS = { host: '127.0.0.1', port: 9880 } as const;

const hostPort = {
  type: 'object',
  additionalProperties: false,
  required: ['host', 'port'],
  properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 0, maximum: 65535 } },
} as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataDir', 'gatewayId', 'editor', 'mqtt', 'chainNode', 'chain', 'ownerPublicKey'],
  properties: {
    dataDir: { type: 'string', minLength: 1 },
    gatewayId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$' },
    editor: hostPort,
    mqtt: hostPort,
    chainNode: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'nodeId'],
      properties: { url: { type: 'string', pattern: '^https?://' }, nodeId: { type: 'string', minLength: 1, maxLength: 31 } },
    },
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
      properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 0, maximum: 65535 }, readyOutboxMaxAgeS: { type: 'number', exclusiveMinimum: 0 } },
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
  return x;
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
