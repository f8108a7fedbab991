/**
 * Where `mcps data` finds the chain, the contracts, a chain node, the owner's key service and the
 * keys: `--data DIR` for the local stack (run/deployment.json, run/share.json (the chain
 * node's and the key service's URLs), users/<id>/ for a user's keys, owner/ and run/hospital-admin.key for the
 * hospital), or `--config FILE` for a real consortium:
 *
 *   { "rpcUrl": "https://…", "deployment": "deployment.json",
 *     "hospital": "hospital-a",
 *     "node": { "id": "node-1", "url": "https://node-1.example:8545" },
 *     "ownerService": "https://keys.hospital-a.example",
 *     "userKeys": "/home/dr/.mcps/keys",                       (a data user: user-bls.key, user-hpke.key)
 *     "ca": "consortium-ca.pem",                               (optional: the CA of https:// services)
 *     "ownerDir": "/var/lib/mcps-owner", "adminKey": "hospital-admin.key" }   (the hospital)
 *
 * Relative paths are relative to the config file. Every missing piece is named with what to do.
 *
 * The CA trusted for https:// URLs (chain node, key service, JSON-RPC) besides the system's:
 * `--ca FILE`, else the config's "ca", else with --data DIR the local stack's <data>/tls/ca.pem
 * when `mcps up --tls` made one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ethers } from 'ethers';
import { readDeploymentFile } from '../cli/admin/context';
import { caAgent } from '../common/https-post';
import { loadCa } from '../common/tls';
import type { Deployment } from '../contracts/deploy';
import { rpcProvider } from '../contracts/rpc-provider';

export interface ShareContext {
  readonly rpcUrl: string;
  readonly deployment: Deployment;
  readonly hospital: string;
  readonly node: { readonly id: string; readonly url: string } | null;
  readonly ownerService: string | null;
  /** The directory of a user's keys (user-bls.key, user-hpke.key). */
  userKeys(user: string): string;
  readonly ownerDir: string | null;
  readonly adminKey: string | null;
  /** The CA to trust for https:// services, or null for the system's only. */
  readonly ca: Buffer | null;
}

export interface ContextOptions {
  data?: string;
  config?: string;
  ca?: string;
}

/** The local stack's hospital (cli/stack.ts HOSPITAL_ID), named here without loading the stack. */
const LOCAL_HOSPITAL = 'hospital-a';

function readJson(path: string, what: string): Record<string, unknown> {
  if (!existsSync(path)) throw new Error(`${what} ${path} not found`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${what} ${path}: not JSON (${(err as Error).message})`);
  }
}

export function shareContext(o: ContextOptions): ShareContext {
  if (o.config) {
    const path = resolve(o.config);
    const c = readJson(path, 'config');
    const rel = (p: unknown, k: string): string => {
      if (typeof p !== 'string' || p.length === 0) throw new Error(`config ${path}: "${k}" must be a path`);
      return resolve(dirname(path), p);
    };
    const d = readDeploymentFile(rel(c.deployment, 'deployment'));
    const rpcUrl = typeof c.rpcUrl === 'string' ? c.rpcUrl : d.rpcUrl;
    if (!rpcUrl) throw new Error(`config ${path}: "rpcUrl" is needed`);
    if (typeof c.hospital !== 'string') throw new Error(`config ${path}: "hospital" is needed (the hospital whose data is shared)`);
    const node = c.node as { id?: unknown; url?: unknown } | undefined;
    return {
      rpcUrl,
      deployment: d,
      hospital: c.hospital,
      node: node && typeof node.id === 'string' && typeof node.url === 'string' ? { id: node.id, url: node.url } : null,
      ownerService: typeof c.ownerService === 'string' ? c.ownerService : null,
      userKeys: () => rel(c.userKeys, 'userKeys'),
      ownerDir: c.ownerDir !== undefined ? rel(c.ownerDir, 'ownerDir') : null,
      adminKey: c.adminKey !== undefined ? rel(c.adminKey, 'adminKey') : null,
      ca: o.ca ? loadCa(resolve(o.ca), '--ca') : c.ca !== undefined ? loadCa(rel(c.ca, 'ca'), `config ${path}: "ca"`) : null,
    };
  }
  if (!o.data) throw new Error('give --data DIR (the local stack\'s data directory) or --config FILE (a consortium\'s, see docs/sharing.md)');
  const data = resolve(o.data);
  const run = join(data, 'run');
  const d = readDeploymentFile(join(run, 'deployment.json'));
  // Written by `mcps up` once the chain node and the key service listen.
  const share = existsSync(join(run, 'share.json')) ? readJson(join(run, 'share.json'), 'the stack\'s sharing endpoints') : null;
  const node = share?.node as { id?: unknown; url?: unknown } | undefined;
  return {
    rpcUrl: d.rpcUrl ?? (() => {
      throw new Error(`${run}/deployment.json names no rpcUrl: is the stack running (npm start)?`);
    })(),
    deployment: d,
    hospital: typeof share?.hospital === 'string' ? share.hospital : LOCAL_HOSPITAL,
    node: node && typeof node.id === 'string' && typeof node.url === 'string' ? { id: node.id, url: node.url } : null,
    ownerService: typeof share?.ownerService === 'string' ? share.ownerService : null,
    userKeys: (user) => join(data, 'users', user),
    ownerDir: join(data, 'owner'),
    adminKey: join(run, 'hospital-admin.key'),
    ca: o.ca ? loadCa(resolve(o.ca), '--ca') : existsSync(join(data, 'tls', 'ca.pem')) ? loadCa(join(data, 'tls', 'ca.pem'), 'the stack\'s CA') : null,
  };
}

/** A JSON-RPC provider; an https:// endpoint is also trusted when signed by `ca`. */
export function provider(url: string, ca: Buffer | null = null): ethers.JsonRpcProvider {
  const req = new ethers.FetchRequest(url);
  if (ca && url.startsWith('https:')) req.getUrlFunc = ethers.FetchRequest.createGetUrlFunc({ agent: caAgent(ca) });
  return rpcProvider(req);
}
