/**
 * Deployment and registration: what `mcps up` and the tests use to put the contracts on a chain and
 * enrol the hospital, chain node and gateway, plus reading the anchor history back from events.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { loadArtifact, type ContractName } from './artifacts';
import { g1ToEip2537, g2ToEip2537 } from './eip2537';
import { bytes32ToId, idToBytes32 } from './ids';

export interface Deployment {
  readonly registry: string;
  readonly anchor: string;
  readonly accessLog: string;
  readonly deployBlock: number;
  readonly chainId: number;
}

async function deploy(name: ContractName, signer: ethers.Signer, args: unknown[]): Promise<{ address: string; block: number }> {
  const { abi, bytecode } = loadArtifact(name);
  const c = await new ethers.ContractFactory(abi, bytecode, signer).deploy(...args);
  const rcpt = await c.deploymentTransaction()!.wait(1);
  return { address: await c.getAddress(), block: rcpt!.blockNumber };
}

export async function deployContracts(admin: ethers.Signer): Promise<Deployment> {
  const registry = await deploy('Registry', admin, [await admin.getAddress()]);
  const anchor = await deploy('Anchor', admin, [registry.address]);
  const accessLog = await deploy('AccessLog', admin, [registry.address]);
  const net = await admin.provider!.getNetwork();
  return { registry: registry.address, anchor: anchor.address, accessLog: accessLog.address, deployBlock: registry.block, chainId: Number(net.chainId) };
}

export function writeDeployment(dir: string, d: Deployment & { rpcUrl: string }): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'deployment.json'), JSON.stringify(d, null, 2) + '\n');
}

export function readDeployment(dir: string): Deployment & { rpcUrl: string } {
  const p = join(dir, 'deployment.json');
  if (!existsSync(p)) throw new Error(`no deployment at ${p}: run mcps up first`);
  const d = JSON.parse(readFileSync(p, 'utf8')) as Partial<Deployment & { rpcUrl: string }>;
  for (const k of ['registry', 'anchor', 'accessLog'] as const) if (typeof d[k] !== 'string' || !ethers.isAddress(d[k])) throw new Error(`${p}: field "${k}" is not an address`);
  if (typeof d.rpcUrl !== 'string') throw new Error(`${p}: field "rpcUrl" missing`);
  if (!Number.isInteger(d.deployBlock) || !Number.isInteger(d.chainId)) throw new Error(`${p}: deployBlock and chainId must be integers`);
  return d as Deployment & { rpcUrl: string };
}

function registry(signer: ethers.Signer, address: string): ethers.Contract {
  return new ethers.Contract(address, loadArtifact('Registry').abi, signer);
}

async function mined(p: Promise<ethers.ContractTransactionResponse>): Promise<void> {
  const rcpt = await (await p).wait(1);
  if (!rcpt || rcpt.status !== 1) throw new Error('registration transaction failed');
}

export async function registerHospital(admin: ethers.Signer, registryAddress: string, hospitalId: string, hospitalAdmin: string): Promise<void> {
  await mined(registry(admin, registryAddress).getFunction('registerHospital').send(idToBytes32(hospitalId), hospitalAdmin));
}

export async function registerNode(admin: ethers.Signer, registryAddress: string, n: { id: string; operator: string; blsPublicKey: Uint8Array; pop: Uint8Array; x25519PublicKey: Uint8Array }): Promise<void> {
  await mined(registry(admin, registryAddress).getFunction('registerNode').send(idToBytes32(n.id), n.operator, g2ToEip2537(n.blsPublicKey), g1ToEip2537(n.pop), ethers.hexlify(n.x25519PublicKey)));
}

export async function registerGateway(hospitalAdmin: ethers.Signer, registryAddress: string, g: { id: string; hospital: string; blsPublicKey: Uint8Array; pop: Uint8Array }): Promise<void> {
  await mined(registry(hospitalAdmin, registryAddress).getFunction('registerGateway').send(idToBytes32(g.id), idToBytes32(g.hospital), g2ToEip2537(g.blsPublicKey), g1ToEip2537(g.pop)));
}

/** A data user: its BLS key (handshake, with proof of possession) and its X25519 encryption key (key release). */
export async function registerUser(hospitalAdmin: ethers.Signer, registryAddress: string, u: { id: string; hospital: string; blsPublicKey: Uint8Array; pop: Uint8Array; encryptionPublicKey: Uint8Array }): Promise<void> {
  if (u.encryptionPublicKey.length !== 32) throw new RangeError(`user ${u.id}: encryption key of ${u.encryptionPublicKey.length} bytes, expected 32 (X25519)`);
  await mined(registry(hospitalAdmin, registryAddress).getFunction('registerUser').send(idToBytes32(u.id), idToBytes32(u.hospital), g2ToEip2537(u.blsPublicKey), g1ToEip2537(u.pop), ethers.hexlify(u.encryptionPublicKey)));
}

/** Publishes the hospital's data-owner key (X25519), to which gateways wrap batch keys and users address key requests. */
export async function setOwnerKey(hospitalAdmin: ethers.Signer, registryAddress: string, hospital: string, ownerPublicKey: Uint8Array): Promise<void> {
  if (ownerPublicKey.length !== 32) throw new RangeError(`owner key of ${ownerPublicKey.length} bytes, expected 32 (X25519)`);
  await mined(registry(hospitalAdmin, registryAddress).getFunction('setOwnerKey').send(idToBytes32(hospital), ethers.hexlify(ownerPublicKey)));
}

export interface AnchoredEvent {
  gatewayId: string;
  seq: number;
  root: string;
  headerHash: string;
  prevHeaderHash: string;
  count: number;
  txHash: string;
  blockNumber: number;
}

const strip = (h: string): string => h.replace(/^0x/, '').toLowerCase();

export async function readAnchors(provider: ethers.Provider, anchor: string, fromBlock: number): Promise<AnchoredEvent[]> {
  const c = new ethers.Contract(anchor, loadArtifact('Anchor').abi, provider);
  const logs = await c.queryFilter(c.filters.Anchored!(), fromBlock, 'latest');
  return logs.map((l) => {
    const e = l as ethers.EventLog;
    const [gatewayId, seq, root, headerHash, prevHeaderHash, count] = e.args as unknown as [string, bigint, string, string, string, bigint];
    return { gatewayId: bytes32ToId(gatewayId), seq: Number(seq), root: strip(root), headerHash: strip(headerHash), prevHeaderHash: strip(prevHeaderHash), count: Number(count), txHash: e.transactionHash, blockNumber: e.blockNumber };
  });
}
