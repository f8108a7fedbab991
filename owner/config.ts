/**
 * The key service's configuration (`mcps owner serve --config FILE`): one JSON file, validated at
 * start with errors naming the field.
 *
 *   { "hospital": "hospital-a", "ownerDir": "/var/lib/mcps-owner", "host": "127.0.0.1", "port": 8650,
 *     "chain": { "rpcUrl": "http://…", "registry": "0x…", "accessLog": "0x…" },
 *     "metrics": { "host": "127.0.0.1", "port": 9466 } }            (optional: Prometheus metrics)
 *
 * ownerDir holds the hospital's owner key (hospital-hpke.key) and patient tag key (patient-tag.key),
 * 0600, created there on first use (owner/keys.ts); the owner key's public half must be the one the
 * registry lists for the hospital (`mcps admin` publishes it), or the service refuses to start.
 */
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { TLS_FILES_SCHEMA } from '../common/tls';

export interface OwnerServiceConfig {
  hospital: string;
  ownerDir: string;
  host: string;
  port: number;
  chain: { rpcUrl: string; registry: string; accessLog: string };
  /** The service's TLS files (mcps tls init): it then answers over HTTPS (docs/operations.md, "TLS"). */
  tls?: { cert: string; key: string; ca?: string };
  /** Plaintext on an address other than loopback only with this set (a warning each start). */
  allowPlaintext?: boolean;
  /** The monitoring listener (GET /metrics, /healthz, /readyz), HTTPS when tls is set; none without it. */
  metrics?: { host: string; port: number };
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['hospital', 'ownerDir', 'host', 'port', 'chain'],
  properties: {
    hospital: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$' },
    ownerDir: { type: 'string', minLength: 1 },
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    tls: TLS_FILES_SCHEMA,
    allowPlaintext: { type: 'boolean' },
    metrics: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 0, maximum: 65535 } },
    },
    chain: {
      type: 'object',
      additionalProperties: false,
      required: ['rpcUrl', 'registry', 'accessLog'],
      properties: {
        rpcUrl: { type: 'string', pattern: '^(https?|wss?)://' },
        registry: { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' },
        accessLog: { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: true }).compile<OwnerServiceConfig>(schema);

export function loadOwnerServiceConfig(path: string): OwnerServiceConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`owner service config ${path}: ${(err as Error).message}`);
  }
  if (!validate(raw)) throw new Error(`owner service config ${path}: ${(validate.errors ?? []).map((e) => `${e.instancePath || '(top)'} ${e.message}`).join('; ')}`);
  return raw;
}
