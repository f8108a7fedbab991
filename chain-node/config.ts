/**
 * Chain node configuration: one JSON file, validated at start with errors that name the field.
 */
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { TLS_FILES_SCHEMA } from '../common/tls';

export interface ChainNodeConfig {
  /** Keys and the ciphertext store live here. */
  dataDir: string;
  /** This node's registry id (1..31 characters). */
  nodeId: string;
  host: string;
  port: number;
  /** accessLog: the AccessLog contract; without it the data API for users refuses every query. */
  chain: { rpcUrl: string; registry: string; anchor: string; accessLog?: string };
  /** Data users' answers: ciphertext bytes per page (default 8 MiB). */
  userPageBytes?: number;
  /** On SIGTERM/SIGINT: how long requests in flight may finish before stopping (default 30 s). */
  drainTimeoutS?: number;
  /** The monitoring listener (/metrics, /healthz, /readyz); a config file without it gets 127.0.0.1:9545. `tls`: HTTPS (default: on when the config has `tls`). */
  metrics?: { host: string; port: number; tls?: boolean };
  /** The node's TLS files: with them the API (and the monitoring listener) speak HTTPS (docs/operations.md, "TLS"). */
  tls?: { cert: string; key: string; ca?: string };
  /** `tls`: HTTPS for the API (default: on when the config has `tls`). */
  apiTls?: boolean;
  /** A listener on an address other than loopback may be plaintext only with this set (a warning each start). */
  allowPlaintext?: boolean;
}

export const DEFAULT_NODE_METRICS = { host: '127.0.0.1', port: 9545 } as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataDir', 'nodeId', 'host', 'port', 'chain'],
  properties: {
    dataDir: { type: 'string', minLength: 1 },
    nodeId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$' },
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    drainTimeoutS: { type: 'number', minimum: 0 },
    userPageBytes: { type: 'integer', minimum: 1 },
    metrics: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 0, maximum: 65535 }, tls: { type: 'boolean' } },
    },
    tls: TLS_FILES_SCHEMA,
    apiTls: { type: 'boolean' },
    allowPlaintext: { type: 'boolean' },
    chain: {
      type: 'object',
      additionalProperties: false,
      required: ['rpcUrl', 'registry', 'anchor'],
      properties: {
        rpcUrl: { type: 'string', pattern: '^(https?|wss?)://' },
        registry: { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' },
        anchor: { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' },
        accessLog: { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: true }).compile<ChainNodeConfig>(schema);

export function loadChainNodeConfig(path: string): ChainNodeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`chain node config ${path}: ${(err as Error).message}`);
  }
  if (!validate(raw)) throw new Error(`chain node config ${path}: ${(validate.errors ?? []).map((e) => `${e.instancePath || '(top)'} ${e.message}`).join('; ')}`);
  if ((raw.apiTls === true || raw.metrics?.tls === true) && !raw.tls) throw new Error(`chain node config ${path}: TLS is switched on but the config has no "tls" (certificate and key files: mcps tls init)`);
  // A node run from a config file (a service) has its monitoring listener unless it says where.
  return raw.metrics ? raw : { ...raw, metrics: { ...DEFAULT_NODE_METRICS } };
}
