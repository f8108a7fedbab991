/**
 * Typed access to the deployed contracts for the rest of the code: registry reads for the
 * handshake and ingest, anchoring and head/root reads for the chain node and verifiers.
 */
import { ethers } from 'ethers';
import { loadArtifact } from './artifacts';
import { bytes32ToId, idToBytes32 } from './ids';

export interface RegistryEntry {
  readonly id: string;
  readonly role: 'gateway' | 'node' | 'user';
  readonly hospital: string;
  readonly operator: string;
  readonly blsPublicKey: Uint8Array;
  readonly x25519PublicKey: Uint8Array | null;
  readonly epoch: number;
  readonly active: boolean;
}

const ROLES = { 1: 'gateway', 2: 'node', 3: 'user' } as const;

export class RegistryClient {
  readonly contract: ethers.Contract;

  constructor(runner: ethers.ContractRunner, address: string) {
    this.contract = new ethers.Contract(address, loadArtifact('Registry').abi, runner);
  }

  async getEntry(id: string): Promise<RegistryEntry | undefined> {
    const r = (await this.contract.getFunction('getEntry').staticCall(idToBytes32(id))) as [bigint, boolean, bigint, string, string, string, string];
    const role = ROLES[Number(r[0]) as 1 | 2 | 3];
    if (!role) return undefined;
    return {
      id,
      role,
      active: r[1],
      epoch: Number(r[2]),
      operator: r[3],
      hospital: r[4] === ethers.ZeroHash ? '' : bytes32ToId(r[4]),
      x25519PublicKey: role === 'node' ? ethers.getBytes(r[5]) : null,
      blsPublicKey: ethers.getBytes(r[6]),
    };
  }
}

/** A revert decoded to the contract's custom error, e.g. "BadSequence(expected 3, got 5)". */
export class AnchorRevert extends Error {
  constructor(readonly errorName: string, readonly args: readonly unknown[]) {
    super(`anchor refused: ${errorName}(${args.map(String).join(', ')})`);
    this.name = 'AnchorRevert';
  }
}

export interface AnchorRequest {
  readonly gatewayId: string;
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly headerHash: Uint8Array;
  readonly root: Uint8Array;
  readonly count: number;
}

export class AnchorClient {
  readonly contract: ethers.Contract;

  constructor(runner: ethers.ContractRunner, address: string) {
    this.contract = new ethers.Contract(address, loadArtifact('Anchor').abi, runner);
  }

  async head(gatewayId: string): Promise<{ seq: number; headerHash: Uint8Array }> {
    const [seq, hh] = (await this.contract.getFunction('head').staticCall(idToBytes32(gatewayId))) as [bigint, string];
    return { seq: Number(seq), headerHash: ethers.getBytes(hh) };
  }

  async rootOf(gatewayId: string, seq: number): Promise<Uint8Array | null> {
    const r = (await this.contract.getFunction('rootOf').staticCall(idToBytes32(gatewayId), seq)) as string;
    return r === ethers.ZeroHash ? null : ethers.getBytes(r);
  }

  /** The Anchored event of (gateway, seq), if that batch is anchored: its header hash and transaction. */
  async findAnchored(gatewayId: string, seq: number): Promise<{ headerHash: Uint8Array; txHash: string; blockNumber: number } | null> {
    const logs = await this.contract.queryFilter(this.contract.filters.Anchored!(idToBytes32(gatewayId), seq), 0, 'latest');
    const e = logs[0] as ethers.EventLog | undefined;
    if (!e) return null;
    const hh = e.args[3] as string;
    return { headerHash: ethers.getBytes(hh), txHash: e.transactionHash, blockNumber: e.blockNumber };
  }

  async anchor(a: AnchorRequest): Promise<{ txHash: string; blockNumber: number }> {
    return this.#send('anchor', [idToBytes32(a.gatewayId), a.seq, ethers.hexlify(a.prevHash), ethers.hexlify(a.headerHash), ethers.hexlify(a.root), a.count]);
  }

  /** Several batches (of one or several gateways) in one transaction: all anchored, or none. */
  async anchorMany(items: readonly AnchorRequest[]): Promise<{ txHash: string; blockNumber: number }> {
    return this.#send('anchorMany', [
      items.map((a) => idToBytes32(a.gatewayId)),
      items.map((a) => a.seq),
      items.map((a) => ethers.hexlify(a.prevHash)),
      items.map((a) => ethers.hexlify(a.headerHash)),
      items.map((a) => ethers.hexlify(a.root)),
      items.map((a) => a.count),
    ]);
  }

  /**
   * Simulates first, so a refusal (gap, rewrite, revoked gateway) costs no gas and comes back
   * decoded; then sends and waits for one confirmation.
   */
  async #send(name: 'anchor' | 'anchorMany', args: unknown[]): Promise<{ txHash: string; blockNumber: number }> {
    const fn = this.contract.getFunction(name);
    let tx: ethers.ContractTransactionResponse;
    try {
      await fn.staticCall(...args);
      tx = (await fn.send(...args)) as ethers.ContractTransactionResponse;
    } catch (err) {
      throw this.#decode(err);
    }
    let rcpt: ethers.TransactionReceipt | null;
    try {
      rcpt = await tx.wait(1);
    } catch (err) {
      // Mined but reverted (the head moved between simulation and inclusion): say why if we can.
      throw this.#decode(await fn.staticCall(...args).then(() => err, (e: unknown) => e));
    }
    if (!rcpt || rcpt.status !== 1) throw new Error(`${name} transaction ${tx.hash} failed`);
    return { txHash: tx.hash, blockNumber: rcpt.blockNumber };
  }

  #decode(err: unknown): Error {
    const data = (err as { data?: string; info?: { error?: { data?: string } } }).data ?? (err as { info?: { error?: { data?: string } } }).info?.error?.data;
    if (typeof data === 'string') {
      const parsed = this.contract.interface.parseError(data);
      if (parsed) return new AnchorRevert(parsed.name, [...parsed.args]);
    }
    const re = (err as { revert?: { name: string; args: unknown[] } }).revert;
    if (re) return new AnchorRevert(re.name, re.args);
    return err instanceof Error ? err : new Error(String(err));
  }
}

export interface AccessGrant {
  readonly grantId: number;
  readonly hospital: string;
  readonly user: string;
  readonly patientScope: string;
  readonly fromTime: number;
  readonly toTime: number;
  readonly expiry: number;
  readonly revoked: boolean;
  readonly validNow: boolean;
}

/** The hash a grant names instead of the patient pseudonym itself. */
export function patientScope(pseudonym: string): string {
  return ethers.keccak256(ethers.toUtf8Bytes(`mcps/patient/v1\n${pseudonym}`));
}

export class AccessLogClient {
  readonly contract: ethers.Contract;

  constructor(runner: ethers.ContractRunner, address: string) {
    this.contract = new ethers.Contract(address, loadArtifact('AccessLog').abi, runner);
  }

  async grant(g: { hospital: string; user: string; patient: string; fromTime: number; toTime: number; expiry: number }): Promise<number> {
    const fn = this.contract.getFunction('grant');
    const args = [idToBytes32(g.hospital), idToBytes32(g.user), patientScope(g.patient), g.fromTime, g.toTime, g.expiry];
    const id = (await fn.staticCall(...args)) as bigint;
    await (await fn.send(...args)).wait(1);
    return Number(id);
  }

  async revoke(grantId: number): Promise<void> {
    await (await this.contract.getFunction('revokeGrant').send(grantId)).wait(1);
  }

  async recordAccess(grantId: number, gatewayId: string, seq: number): Promise<string> {
    const tx = (await this.contract.getFunction('recordAccess').send(grantId, idToBytes32(gatewayId), seq)) as ethers.ContractTransactionResponse;
    await tx.wait(1);
    return tx.hash;
  }

  async getGrant(grantId: number): Promise<AccessGrant> {
    const [g, validNow] = (await this.contract.getFunction('getGrant').staticCall(grantId)) as [[string, string, string, bigint, bigint, bigint, boolean], boolean];
    return { grantId, hospital: bytes32ToId(g[0]), user: bytes32ToId(g[1]), patientScope: g[2], fromTime: Number(g[3]), toTime: Number(g[4]), expiry: Number(g[5]), revoked: g[6], validNow };
  }
}
