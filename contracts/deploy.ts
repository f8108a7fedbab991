/**
 * Deployment and registration: what `mcps up` and the tests use to put the contracts on a chain and
 * enrol the hospital, chain node and gateway, plus reading the anchor history back from events.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { loadArtifact, type ContractName } from './artifacts';
import { g1ToEip2537, g2ToEip2537 } from './eip2537';
import { AnchorClient, type AnchoredGroup, type HeaderSource } from './clients';
import { ProtocolError } from '../protocol/errors';
import { foldRoot, linkGroup } from '../protocol/fold';
import { idToBytes32 } from './ids';
import { sendChecked, type SentTx } from './refusals';
import { minedReceipt } from './mined-receipt';

export interface Deployment {
  readonly registry: string;
  readonly anchor: string;
  readonly accessLog: string;
  readonly deployBlock: number;
  readonly chainId: number;
  /** The Anchor contract checks the gateways' signatures itself (docs/contracts.md, "Trustless mode"). */
  readonly trustless?: boolean;
}

async function deploy(name: ContractName, signer: ethers.Signer, args: unknown[]): Promise<{ address: string; block: number }> {
  const { abi, bytecode } = loadArtifact(name);
  const c = await new ethers.ContractFactory(abi, bytecode, signer).deploy(...args);
  const rcpt = await minedReceipt(c.deploymentTransaction()!);
  if (rcpt.status !== 1) throw new Error(`deploying ${name}: transaction ${rcpt.hash} failed`);
  return { address: await c.getAddress(), block: rcpt.blockNumber };
}

export async function deployContracts(admin: ethers.Signer, opts: { trustless?: boolean } = {}): Promise<Deployment> {
  const registry = await deploy('Registry', admin, [await admin.getAddress()]);
  const anchor = await deploy('Anchor', admin, [registry.address, opts.trustless === true]);
  const accessLog = await deploy('AccessLog', admin, [registry.address]);
  const net = await admin.provider!.getNetwork();
  return { registry: registry.address, anchor: anchor.address, accessLog: accessLog.address, deployBlock: registry.block, chainId: Number(net.chainId), ...(opts.trustless ? { trustless: true } : {}) };
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

/**
 * Registrations, key rotations and revocations. `mcps admin`, the local stack and the tests all go
 * through these: simulated first, so a refusal comes back as a ContractRefusal naming the
 * contract's custom error and what to do about it (contracts/refusals.ts).
 */
async function registryCall(signer: ethers.Signer, registryAddress: string, fn: string, args: unknown[]): Promise<SentTx> {
  return sendChecked(registry(signer, registryAddress), 'Registry', fn, args, await signer.getAddress());
}

export async function registerHospital(admin: ethers.Signer, registryAddress: string, hospitalId: string, hospitalAdmin: string): Promise<SentTx> {
  return registryCall(admin, registryAddress, 'registerHospital', [idToBytes32(hospitalId), hospitalAdmin]);
}

export async function registerNode(admin: ethers.Signer, registryAddress: string, n: { id: string; operator: string; blsPublicKey: Uint8Array; pop: Uint8Array; x25519PublicKey: Uint8Array }): Promise<SentTx> {
  return registryCall(admin, registryAddress, 'registerNode', [idToBytes32(n.id), n.operator, g2ToEip2537(n.blsPublicKey), g1ToEip2537(n.pop), ethers.hexlify(n.x25519PublicKey)]);
}

export async function registerGateway(hospitalAdmin: ethers.Signer, registryAddress: string, g: { id: string; hospital: string; blsPublicKey: Uint8Array; pop: Uint8Array }): Promise<SentTx> {
  return registryCall(hospitalAdmin, registryAddress, 'registerGateway', [idToBytes32(g.id), idToBytes32(g.hospital), g2ToEip2537(g.blsPublicKey), g1ToEip2537(g.pop)]);
}

/** A data user: its BLS key (handshake, with proof of possession) and its X25519 encryption key (key release). */
export async function registerUser(hospitalAdmin: ethers.Signer, registryAddress: string, u: { id: string; hospital: string; blsPublicKey: Uint8Array; pop: Uint8Array; encryptionPublicKey: Uint8Array }): Promise<SentTx> {
  if (u.encryptionPublicKey.length !== 32) throw new RangeError(`user ${u.id}: encryption key of ${u.encryptionPublicKey.length} bytes, expected 32 (X25519)`);
  return registryCall(hospitalAdmin, registryAddress, 'registerUser', [idToBytes32(u.id), idToBytes32(u.hospital), g2ToEip2537(u.blsPublicKey), g1ToEip2537(u.pop), ethers.hexlify(u.encryptionPublicKey)]);
}

/** Publishes the hospital's data-owner key (X25519), to which gateways wrap batch keys and users address key requests. */
export async function setOwnerKey(hospitalAdmin: ethers.Signer, registryAddress: string, hospital: string, ownerPublicKey: Uint8Array): Promise<SentTx> {
  if (ownerPublicKey.length !== 32) throw new RangeError(`owner key of ${ownerPublicKey.length} bytes, expected 32 (X25519)`);
  return registryCall(hospitalAdmin, registryAddress, 'setOwnerKey', [idToBytes32(hospital), ethers.hexlify(ownerPublicKey)]);
}

/** A new key epoch for a party (its hospital's admin; nodes: a consortium admin). Nodes and users also get a new X25519 key (handshake; encryption). */
export async function rotateKey(manager: ethers.Signer, registryAddress: string, r: { id: string; blsPublicKey: Uint8Array; pop: Uint8Array; x25519PublicKey?: Uint8Array }): Promise<SentTx> {
  return registryCall(manager, registryAddress, 'rotateKey', [idToBytes32(r.id), g2ToEip2537(r.blsPublicKey), g1ToEip2537(r.pop), r.x25519PublicKey ? ethers.hexlify(r.x25519PublicKey) : ethers.ZeroHash]);
}

export async function revokeParty(manager: ethers.Signer, registryAddress: string, id: string): Promise<SentTx> {
  return registryCall(manager, registryAddress, 'revoke', [idToBytes32(id)]);
}

export interface AnchoredEvent {
  gatewayId: string;
  seq: number;
  /** hex, no 0x: the batch root where the chain holds it (trustless mode: from the signed header); null in folded mode, where the header hash commits to it */
  root: string | null;
  /** hex: on chain (trustless mode, a group's head) or rebuilt from the headers at hand and linked to the anchored head; null where that failed (`problem`) */
  headerHash: string | null;
  /** the header hash anchored before this one for the gateway (zeros for seq 1); null where unknown */
  prevHeaderHash: string | null;
  count: number | null;
  txHash: string;
  blockNumber: number;
  /** the batch's place in its transaction's fold: root (hex), leaf index, size */
  fold: { root: string; index: number; size: number };
  /** why the batch's header hash could not be shown (a header not at hand, a broken link, a fold root that is not the headers') */
  problem?: string;
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every anchored group since `fromBlock`, in chain order, from the Folded events and their transactions (contracts/clients.ts). */
export function readAnchors(provider: ethers.Provider, anchor: string, fromBlock: number): Promise<AnchoredGroup[]> {
  return new AnchorClient(provider, anchor, fromBlock).allGroups(fromBlock);
}

/**
 * Every anchored batch of `groups`, one entry per sequence number. Folded mode holds only each
 * group's ends: the hashes between are rebuilt from `headers` (e.g. the node's store) and must link
 * to the anchored head; every transaction whose groups all link must fold to the root it logged.
 */
export function resolveAnchors(groups: readonly AnchoredGroup[], headers: HeaderSource = () => null): AnchoredEvent[] {
  const out: AnchoredEvent[] = [];
  for (let i = 0; i < groups.length; ) {
    let j = i;
    while (j < groups.length && groups[j]!.txHash === groups[i]!.txHash) j++;
    const tx = groups.slice(i, j);
    const linked = tx.map((g): { leaves: readonly Uint8Array[] } | { problem: string } => {
      if (g.leaves) return { leaves: g.leaves };
      try {
        return { leaves: linkGroup(g, (s) => headers(g.gatewayId, s)) };
      } catch (err) {
        if (err instanceof ProtocolError) return { problem: err.message };
        throw err;
      }
    });
    let rootProblem: string | undefined;
    if (linked.every((l) => 'leaves' in l)) {
      const got = hexOf(foldRoot(linked.flatMap((l) => ('leaves' in l ? l.leaves : []))));
      if (got !== tx[0]!.foldRoot) rootProblem = `transaction ${tx[0]!.txHash}: its header hashes fold to ${got.slice(0, 16)}…, the node logged ${tx[0]!.foldRoot.slice(0, 16)}…`;
    }
    tx.forEach((g, gi) => {
      const l = linked[gi]!;
      for (let k = 0; k < g.count; k++) {
        const leaves = 'leaves' in l ? l.leaves : null;
        const h = g.headers?.[k];
        const problem = 'problem' in l ? l.problem : rootProblem;
        out.push({
          gatewayId: g.gatewayId,
          seq: g.firstSeq + k,
          root: h ? hexOf(h.root) : null,
          headerHash: leaves ? hexOf(leaves[k]!) : k === g.count - 1 ? hexOf(g.headHash) : null,
          prevHeaderHash: k === 0 ? hexOf(g.prevHash) : leaves ? hexOf(leaves[k - 1]!) : null,
          count: h ? h.count : null,
          txHash: g.txHash,
          blockNumber: g.blockNumber,
          fold: { root: g.foldRoot, index: g.offset + k, size: g.size },
          ...(problem ? { problem } : {}),
        });
      }
    });
    i = j;
  }
  return out;
}
