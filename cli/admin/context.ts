/**
 * Where `mcps admin` finds its chain, contracts and key: --rpc / --deployment / --key (or their
 * environment variables), or --data DIR for the local stack, whose run/ holds the deployment and the
 * development admin keys `mcps up` writes. Every missing piece is named with how to supply it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ethers } from 'ethers';
import type { Deployment } from '../../contracts/deploy';
import { loadEvmSigner } from '../../common/evm-key';
import type { AdminContext } from './actions';

export interface AdminGlobals {
  rpc?: string;
  key?: string;
  deployment?: string;
  data?: string;
  json?: boolean;
}

/** Whose key signs: the consortium's (deploy, hospitals, nodes) or a hospital's (gateways, users). */
export type AdminScope = 'consortium' | 'hospital';

export function deploymentPath(g: AdminGlobals): string {
  if (g.deployment) return resolve(g.deployment);
  if (g.data) return join(resolve(g.data), 'run', 'deployment.json');
  return resolve('deployment.json');
}

export function keyPath(g: AdminGlobals, scope: AdminScope): string {
  if (g.key) return resolve(g.key);
  if (g.data) return join(resolve(g.data), 'run', `${scope}-admin.key`);
  throw new Error(`--key FILE is needed: the ${scope} admin's key file (made by \`mcps admin key new\` or \`mcps admin key import\`; or set MCPS_ADMIN_KEY)`);
}

export function readDeploymentFile(path: string): Deployment & { rpcUrl?: string } {
  if (!existsSync(path)) throw new Error(`no deployment file at ${path}: give --deployment FILE (written by \`mcps admin deploy\`), or --data DIR for the local stack`);
  let d: Partial<Deployment & { rpcUrl: string }>;
  try {
    d = JSON.parse(readFileSync(path, 'utf8')) as typeof d;
  } catch (err) {
    throw new Error(`deployment file ${path}: not JSON (${(err as Error).message})`);
  }
  for (const k of ['registry', 'anchor', 'accessLog'] as const) if (typeof d[k] !== 'string' || !ethers.isAddress(d[k])) throw new Error(`deployment file ${path}: "${k}" is not an address`);
  if (!Number.isInteger(d.deployBlock) || !Number.isInteger(d.chainId)) throw new Error(`deployment file ${path}: "deployBlock" and "chainId" must be integers`);
  return d as Deployment & { rpcUrl?: string };
}

export function rpcUrl(g: AdminGlobals, d?: { rpcUrl?: string }): string {
  const url = g.rpc ?? d?.rpcUrl;
  if (!url) throw new Error('--rpc URL is needed: the JSON-RPC endpoint of the consortium chain (or set MCPS_RPC_URL)');
  if (!/^(https?|wss?):\/\//.test(url)) throw new Error(`--rpc ${url}: expected an http(s):// or ws(s):// URL`);
  return url;
}

export function provider(url: string): ethers.JsonRpcProvider {
  return new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 250 });
}

/** Checks that the endpoint is the chain the deployment was made on. */
export async function checkChain(p: ethers.Provider, d: Deployment, url: string): Promise<void> {
  let chainId: bigint;
  try {
    chainId = (await p.getNetwork()).chainId;
  } catch (err) {
    throw new Error(`cannot reach the chain's JSON-RPC endpoint ${url}: ${(err as Error).message}`);
  }
  if (Number(chainId) !== d.chainId) throw new Error(`${url} is chain ${chainId}, the deployment was made on chain ${d.chainId}: wrong --rpc or --deployment`);
}

/** Provider, deployment and (when `scope` is given) the admin's signer, checked against each other. */
export async function adminContext(g: AdminGlobals, scope: AdminScope): Promise<AdminContext & { close(): void; rpcUrl: string }> {
  const d = readDeploymentFile(deploymentPath(g));
  const url = rpcUrl(g, d);
  const p = provider(url);
  try {
    await checkChain(p, d, url);
    const signer = loadEvmSigner(keyPath(g, scope), p);
    return { provider: p, signer, deployment: { ...d, rpcUrl: url }, rpcUrl: url, close: () => p.destroy() };
  } catch (err) {
    p.destroy();
    throw err;
  }
}

/** Read-only access (list, show): no key needed. */
export async function readContext(g: AdminGlobals): Promise<{ provider: ethers.JsonRpcProvider; deployment: Deployment; close(): void }> {
  const d = readDeploymentFile(deploymentPath(g));
  const url = rpcUrl(g, d);
  const p = provider(url);
  try {
    await checkChain(p, d, url);
  } catch (err) {
    p.destroy();
    throw err;
  }
  return { provider: p, deployment: d, close: () => p.destroy() };
}
