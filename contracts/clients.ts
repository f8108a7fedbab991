/**
 * Typed access to the deployed contracts for the rest of the code: registry reads for the
 * handshake and ingest, anchoring and head/root reads for the chain node and verifiers.
 */
import { minedReceipt } from './mined-receipt';
import { ethers } from 'ethers';
import { loadArtifact } from './artifacts';
import { decodeHeader, headerBytesHash, type BatchHeader } from '../protocol/batch';
import { foldProof, foldRoot, linkGroup, rebuildFold, type FoldGroup, type FoldProof } from '../protocol/fold';
import { ProtocolError } from '../protocol/errors';
import { aggregateG1ToEip2537, g2ToEip2537 } from './eip2537';
import { bytes32ToId, idToBytes32 } from './ids';

export interface RegistryEntry {
  readonly id: string;
  readonly role: 'gateway' | 'node' | 'user';
  readonly hospital: string;
  readonly operator: string;
  readonly blsPublicKey: Uint8Array;
  /** Nodes: the static X25519 handshake key. */
  readonly x25519PublicKey: Uint8Array | null;
  /** Data users: the X25519 key released slice keys are wrapped to (HPKE). */
  readonly encryptionPublicKey: Uint8Array | null;
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
      encryptionPublicKey: role === 'user' ? ethers.getBytes(r[5]) : null,
      blsPublicKey: ethers.getBytes(r[6]),
    };
  }

  /** The hospital's data-owner key (X25519), or null if its admin has not published one. */
  async ownerKey(hospital: string): Promise<Uint8Array | null> {
    const k = (await this.contract.getFunction('hospitalOwnerKey').staticCall(idToBytes32(hospital))) as string;
    return k === ethers.ZeroHash ? null : ethers.getBytes(k);
  }

  /** The gateways ever registered for a hospital (active or not), from the PartyRegistered events. */
  async gatewaysOf(hospital: string, fromBlock = 0): Promise<string[]> {
    const logs = await this.contract.queryFilter(this.contract.filters.PartyRegistered!(null, null, idToBytes32(hospital)), fromBlock, 'latest');
    const ids: string[] = [];
    for (const l of logs) {
      const e = l as ethers.EventLog;
      if (Number(e.args[1]) === 1) ids.push(bytes32ToId(e.args[0] as string));
    }
    return ids;
  }

  /**
   * Every BLS key a party has had, oldest first (registration, then each rotation), so a verifier can
   * check a signature made before a rotation.
   */
  async keyHistory(id: string, fromBlock = 0): Promise<Array<{ epoch: number; blsPublicKey: Uint8Array }>> {
    const b = idToBytes32(id);
    const reg = await this.contract.queryFilter(this.contract.filters.PartyRegistered!(b), fromBlock, 'latest');
    const rot = await this.contract.queryFilter(this.contract.filters.KeyRotated!(b), fromBlock, 'latest');
    const out: Array<{ epoch: number; blsPublicKey: Uint8Array }> = [];
    for (const l of reg) out.push({ epoch: 1, blsPublicKey: ethers.getBytes((l as ethers.EventLog).args[4] as string) });
    for (const l of rot) {
      const e = l as ethers.EventLog;
      out.push({ epoch: Number(e.args[1]), blsPublicKey: ethers.getBytes(e.args[2] as string) });
    }
    return out.sort((x, y) => x.epoch - y.epoch);
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
  /** The encoded header and the gateway's signature over its hash: required by a trustless Anchor. */
  readonly header?: Uint8Array;
  readonly signature?: Uint8Array;
}

/** A mined anchor transaction. */
export interface AnchorTx {
  readonly txHash: string;
  readonly blockNumber: number;
  readonly gasUsed?: bigint;
}

/**
 * One gateway's group of consecutive batches in an anchor transaction, as the chain holds it: the
 * calldata's group (first seq, count, the previous hash its first batch names, its head) and its
 * place in the transaction's fold. Folded mode holds no hash between prevHash and headHash: the
 * batches' headers link them (protocol/fold.ts linkGroup). Trustless mode holds every header.
 */
export interface AnchoredGroup extends FoldGroup {
  /** the group's first leaf in the transaction's fold, and the fold's size */
  readonly offset: number;
  readonly size: number;
  /** hex, no 0x: the fold root the contract logged */
  readonly foldRoot: string;
  readonly txHash: string;
  readonly blockNumber: number;
  /** Trustless mode: the group's signed headers, decoded, and their hashes (the calldata carries them). */
  readonly headers?: readonly BatchHeader[];
  readonly leaves?: readonly Uint8Array[];
}

/** A header source for rebuilding folded groups: the caller's copy of (gateway, seq)'s header. */
export type HeaderSource = (gatewayId: string, seq: number) => BatchHeader | null | undefined;

/** What the chain (with the caller's headers) says of one batch. */
export interface FoundAnchor {
  readonly txHash: string;
  readonly blockNumber: number;
  readonly group: AnchoredGroup;
  /** The batch's header hash: on chain (trustless mode, or the group's head) or rebuilt from the caller's headers; null if that failed (see `why`). */
  readonly headerHash: Uint8Array | null;
  readonly why?: string;
  /** The batch's place in the transaction's fold; null where the caller lacks a header of the transaction. */
  readonly fold: FoldProof | null;
}

/** An anchor transaction's groups, in calldata (fold) order. */
interface FoldedTx {
  readonly txHash: string;
  readonly blockNumber: number;
  readonly groups: readonly AnchoredGroup[];
}

/** Folded's `span`: firstSeq ‖ count ‖ leaf offset ‖ fold size (contracts/Anchor.sol). */
export function decodeSpan(span: bigint): { firstSeq: number; count: number; offset: number; size: number } {
  const m32 = (1n << 32n) - 1n;
  return { firstSeq: Number(span >> 192n), count: Number((span >> 160n) & m32), offset: Number((span >> 128n) & m32), size: Number((span >> 96n) & m32) };
}

const eqBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export class AnchorClient {
  readonly contract: ethers.Contract;
  /** Full header hashes of heads this client anchored or looked up: the contract keeps a 24-byte prefix. */
  readonly #heads = new Map<string, { seq: number; headerHash: Uint8Array }>();
  readonly #txs = new Map<string, FoldedTx>();
  #trustless: Promise<boolean> | undefined;

  constructor(runner: ethers.ContractRunner, address: string, readonly fromBlock = 0) {
    this.contract = new ethers.Contract(address, loadArtifact('Anchor').abi, runner);
  }

  get #provider(): ethers.Provider {
    const p = this.contract.runner?.provider;
    if (!p) throw new Error('AnchorClient needs a runner with a provider');
    return p;
  }

  /** Whether the contract was deployed in trustless mode (it checks the gateways' signatures). */
  trustless(): Promise<boolean> {
    this.#trustless ??= (this.contract.getFunction('trustless').staticCall() as Promise<boolean>).catch((err: unknown) => {
      this.#trustless = undefined;
      throw err;
    });
    return this.#trustless;
  }

  /** The gateway's registered BLS key in EIP-2537 encoding (what anchorSigned takes). */
  async #gatewayKey(gatewayId: string): Promise<Uint8Array> {
    const registry = (await this.contract.getFunction('registry').staticCall()) as string;
    const e = await new RegistryClient(this.contract.runner!, registry).getEntry(gatewayId);
    if (!e || e.role !== 'gateway') throw new AnchorRevert('GatewayNotActive', [idToBytes32(gatewayId)]);
    return g2ToEip2537(e.blsPublicKey);
  }

  /** The gateway's head: last sequence number and the full header hash (from the anchoring transaction's calldata when not known here). */
  async head(gatewayId: string): Promise<{ seq: number; headerHash: Uint8Array }> {
    const [s, prefix] = (await this.contract.getFunction('head').staticCall(idToBytes32(gatewayId))) as [bigint, string];
    const seq = Number(s);
    if (seq === 0) return { seq: 0, headerHash: new Uint8Array(32) };
    const p = ethers.getBytes(prefix);
    const known = this.#heads.get(gatewayId);
    if (known && known.seq === seq && eqBytes(known.headerHash.subarray(0, 24), p)) return known;
    const found = await this.findGroup(gatewayId, seq);
    if (!found || found.firstSeq + found.count - 1 !== seq || !eqBytes(found.headHash.subarray(0, 24), p)) throw new Error(`anchor head of ${gatewayId} (seq ${seq}) not found in the Folded events`);
    this.#remember(gatewayId, seq, found.headHash);
    return { seq, headerHash: found.headHash };
  }

  /** The group of the transaction that anchored (gateway, seq), or null if that batch is not anchored. */
  async findGroup(gatewayId: string, seq: number): Promise<AnchoredGroup | null> {
    const logs = await this.contract.queryFilter(this.contract.filters.Folded!(idToBytes32(gatewayId)), this.fromBlock, 'latest');
    for (const l of logs) {
      const e = l as ethers.EventLog;
      const span = decodeSpan(e.args[1] as bigint);
      if (seq < span.firstSeq || seq >= span.firstSeq + span.count) continue;
      const tx = await this.#foldedTx(e.transactionHash, e.blockNumber);
      const g = tx.groups.find((x) => x.offset === span.offset);
      if (!g || g.gatewayId !== gatewayId || g.firstSeq !== span.firstSeq || g.count !== span.count || g.foldRoot !== strip0x(e.args[2] as string)) throw new Error(`transaction ${e.transactionHash}: its calldata does not give the group it logged`);
      return g;
    }
    return null;
  }

  /**
   * The anchor of (gateway, seq), if that batch is anchored: its transaction and group, and its
   * header hash and fold proof where they can be shown. Folded mode holds only each group's head:
   * the hashes before it are rebuilt from `headers` (the caller's copies, e.g. the node's store),
   * linked to the head; the proof needs every header of the transaction.
   */
  async findAnchored(gatewayId: string, seq: number, headers: HeaderSource = () => null): Promise<FoundAnchor | null> {
    const g = await this.findGroup(gatewayId, seq);
    if (!g) return null;
    const k = seq - g.firstSeq;
    let headerHash: Uint8Array | null = null;
    let why: string | undefined;
    if (g.leaves) headerHash = g.leaves[k]!;
    else if (k === g.count - 1) headerHash = g.headHash;
    else {
      // Shown by the group's later headers, each naming the one before, up to the anchored head.
      try {
        headerHash = linkGroup(g, (s) => headers(gatewayId, s), seq)[0]!;
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        why = err.message;
      }
    }
    let fold: FoldProof | null = null;
    const tx = await this.#foldedTx(g.txHash, g.blockNumber);
    try {
      const leaves = tx.groups.every((x) => x.leaves) ? tx.groups.flatMap((x) => x.leaves!) : rebuildFold(tx.groups, g.foldRoot, headers);
      fold = foldProof(leaves, g.offset + k);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
    }
    if (headerHash) this.#remember(gatewayId, seq, headerHash);
    return { txHash: g.txHash, blockNumber: g.blockNumber, group: g, headerHash, fold, ...(why ? { why } : {}) };
  }

  /** Every anchored group from `fromBlock` on, in chain order, from the Folded events and their transactions' calldata. */
  async allGroups(fromBlock = this.fromBlock): Promise<AnchoredGroup[]> {
    const logs = await this.contract.queryFilter(this.contract.filters.Folded!(), fromBlock, 'latest');
    // Each anchoring transaction once, read all at once (one JSON-RPC batch), in log order.
    const txs = new Map<string, number>();
    for (const l of logs) if (!txs.has(l.transactionHash)) txs.set(l.transactionHash, l.blockNumber);
    const folded = await Promise.all([...txs].map(([hash, block]) => this.#foldedTx(hash, block)));
    return folded.flatMap((f) => f.groups);
  }

  /** One batch alone in a transaction. */
  async anchor(a: AnchorRequest): Promise<AnchorTx & { fold: FoldProof }> {
    const r = await this.anchorFolded([a]);
    return { txHash: r.txHash, blockNumber: r.blockNumber, gasUsed: r.gasUsed, fold: r.folds[0]! };
  }

  /**
   * Several batches (of one or several gateways) in one transaction, all anchored or none: each
   * gateway's requests become one group (in the order given, which must continue its chain), the
   * groups in order of each gateway's first request. `folds[i]` is request i's proof.
   */
  async anchorFolded(items: readonly AnchorRequest[]): Promise<AnchorTx & { folds: FoldProof[] }> {
    if (items.length === 0) throw new RangeError('anchorFolded: no batches');
    const byGateway = new Map<string, number[]>();
    items.forEach((a, i) => byGateway.set(a.gatewayId, [...(byGateway.get(a.gatewayId) ?? []), i]));
    const groups: Array<[string, number, number, string, string]> = [];
    const order: number[] = [];
    for (const [gw, idx] of byGateway) {
      let start = 0;
      for (let k = 1; k <= idx.length; k++) {
        const cur = idx[k];
        const prev = items[idx[k - 1]!]!;
        if (cur !== undefined && items[cur]!.seq === prev.seq + 1 && eqBytes(items[cur]!.prevHash, prev.headerHash)) continue;
        const first = items[idx[start]!]!;
        groups.push([idToBytes32(gw), first.seq, k - start, ethers.hexlify(first.prevHash), ethers.hexlify(prev.headerHash)]);
        order.push(...idx.slice(start, k));
        start = k;
      }
    }
    const leaves = order.map((i) => items[i]!.headerHash);
    let tx: { txHash: string; blockNumber: number; gasUsed: bigint };
    if (await this.trustless()) {
      // Trustless: the signed headers, one key per group (a group is a run of one gateway's headers), one aggregate signature.
      const headers = order.map((i) => {
        const a = items[i]!;
        if (!a.header || !a.signature) throw new RangeError(`batch ${a.seq} of ${a.gatewayId}: a trustless Anchor needs the signed header`);
        return ethers.hexlify(a.header);
      });
      const keys: string[] = [];
      for (const [k, i] of order.entries()) if (k === 0 || items[order[k - 1]!]!.gatewayId !== items[i]!.gatewayId) keys.push(ethers.hexlify(await this.#gatewayKey(items[i]!.gatewayId)));
      const signature = aggregateG1ToEip2537(order.map((i) => items[i]!.signature!));
      tx = await this.#send('anchorSigned', [headers, keys, signature]);
    } else tx = await this.#send('anchorFolded', [groups, ethers.hexlify(foldRoot(leaves))]);
    const folds: FoldProof[] = new Array<FoldProof>(items.length);
    order.forEach((i, leaf) => {
      folds[i] = foldProof(leaves, leaf);
    });
    for (const a of items) this.#remember(a.gatewayId, a.seq, a.headerHash);
    return { ...tx, folds };
  }

  #remember(gatewayId: string, seq: number, headerHash: Uint8Array): void {
    const k = this.#heads.get(gatewayId);
    if (!k || k.seq <= seq) this.#heads.set(gatewayId, { seq, headerHash });
  }

  /** An anchor transaction's groups, from its calldata. */
  async #foldedTx(txHash: string, blockNumber: number): Promise<FoldedTx> {
    const hit = this.#txs.get(txHash);
    if (hit) return hit;
    const tx = await this.#provider.getTransaction(txHash);
    if (!tx) throw new Error(`anchor transaction ${txHash} not found`);
    const parsed = this.contract.interface.parseTransaction({ data: tx.data });
    if (!parsed) throw new Error(`transaction ${txHash} is not an Anchor call`);
    const groups: AnchoredGroup[] = [];
    if (parsed.name === 'anchorFolded') {
      const raw = parsed.args[0] as Array<[string, bigint, bigint, string, string]>;
      const root = strip0x(parsed.args[1] as string);
      const size = raw.reduce((n, g) => n + Number(g[2]), 0);
      let offset = 0;
      for (const [id, firstSeq, count, prev, headHash] of raw) {
        groups.push({ gatewayId: bytes32ToId(id), firstSeq: Number(firstSeq), count: Number(count), prevHash: ethers.getBytes(prev), headHash: ethers.getBytes(headHash), offset, size, foldRoot: root, txHash, blockNumber });
        offset += Number(count);
      }
    } else if (parsed.name === 'anchorSigned') {
      const raw = (parsed.args[0] as string[]).map((h) => ethers.getBytes(h));
      const leaves = raw.map(headerBytesHash);
      const headers = raw.map(decodeHeader);
      const root = Buffer.from(foldRoot(leaves)).toString('hex');
      for (let start = 0; start < headers.length; ) {
        let end = start + 1;
        while (end < headers.length && headers[end]!.gatewayId === headers[start]!.gatewayId) end++;
        const h = headers[start]!;
        groups.push({ gatewayId: h.gatewayId, firstSeq: h.seq, count: end - start, prevHash: h.prevHash, headHash: leaves[end - 1]!, offset: start, size: headers.length, foldRoot: root, txHash, blockNumber, headers: headers.slice(start, end), leaves: leaves.slice(start, end) });
        start = end;
      }
    } else throw new Error(`transaction ${txHash}: ${parsed.name} does not anchor`);
    const r: FoldedTx = { txHash, blockNumber, groups };
    if (this.#txs.size > 256) this.#txs.clear();
    this.#txs.set(txHash, r);
    return r;
  }

  /**
   * Simulates first, so a refusal (gap, rewrite, revoked gateway) costs no gas and comes back
   * decoded; then sends and waits for one confirmation.
   */
  async #send(name: 'anchorFolded' | 'anchorSigned', args: unknown[]): Promise<{ txHash: string; blockNumber: number; gasUsed: bigint }> {
    const fn = this.contract.getFunction(name);
    let tx: ethers.ContractTransactionResponse;
    try {
      await fn.staticCall(...args);
      tx = (await fn.send(...args)) as ethers.ContractTransactionResponse;
    } catch (err) {
      throw this.#decode(err);
    }
    const rcpt = await minedReceipt(tx);
    if (rcpt.status !== 1) {
      // Mined but reverted (the head moved between simulation and inclusion): say why if we can.
      const failed = new Error(`${name} transaction ${tx.hash} failed`);
      throw this.#decode(await fn.staticCall(...args).then(() => failed, (e: unknown) => e));
    }
    return { txHash: tx.hash, blockNumber: rcpt.blockNumber, gasUsed: rcpt.gasUsed };
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

const strip0x = (h: string): string => h.replace(/^0x/, '').toLowerCase();

export interface AccessGrant {
  readonly grantId: number;
  readonly hospital: string;
  readonly user: string;
  /** hex, 0x-prefixed: the owner's keyed hash of the patient pseudonym */
  readonly patientScope: string;
  /** hex, 0x-prefixed: hash of the patient's day tags over the grant's days */
  readonly tagsHash: string;
  readonly fromTime: number;
  readonly toTime: number;
  readonly expiry: number;
  readonly revoked: boolean;
  readonly validNow: boolean;
}

export interface NewGrant {
  readonly hospital: string;
  readonly user: string;
  readonly patientScope: Uint8Array;
  readonly tagsHash: Uint8Array;
  readonly fromTime: number;
  readonly toTime: number;
  readonly expiry: number;
}

/** One access to record: grant, and the range (ms) served under it. */
export interface AccessRecord {
  readonly grantId: number;
  readonly fromTime: number;
  readonly toTime: number;
}

/** An access as the chain logged it (recorded, or refused inside a batch). */
export interface AccessEvent extends AccessRecord {
  readonly node: string;
  readonly recorded: boolean;
  readonly txHash: string;
  readonly blockNumber: number;
  readonly logIndex: number;
}

export interface GrantEvent {
  readonly grantId: number;
  readonly hospital: string;
  readonly user: string;
  readonly patientScope: string;
  readonly tagsHash: string;
  readonly fromTime: number;
  readonly toTime: number;
  readonly expiry: number;
  readonly txHash: string;
  readonly blockNumber: number;
  /** Set when a GrantRevoked event follows. */
  revokedIn?: { txHash: string; blockNumber: number };
}

/** Packs an access into the one word recordAccesses takes: grantId ‖ fromTime ‖ toTime. */
export function packAccess(a: AccessRecord): bigint {
  for (const [k, v] of [['grantId', a.grantId], ['fromTime', a.fromTime], ['toTime', a.toTime]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`access ${k} ${v} must be a non-negative integer`);
  }
  return (BigInt(a.grantId) << 128n) | (BigInt(a.fromTime) << 64n) | BigInt(a.toTime);
}

export class AccessLogClient {
  readonly contract: ethers.Contract;

  constructor(runner: ethers.ContractRunner, address: string) {
    this.contract = new ethers.Contract(address, loadArtifact('AccessLog').abi, runner);
  }

  async grant(g: NewGrant): Promise<{ grantId: number; txHash: string; blockNumber: number }> {
    const fn = this.contract.getFunction('grant');
    const args = [idToBytes32(g.hospital), idToBytes32(g.user), ethers.hexlify(g.patientScope), ethers.hexlify(g.tagsHash), g.fromTime, g.toTime, g.expiry];
    const id = (await fn.staticCall(...args)) as bigint;
    const rcpt = await minedReceipt(await fn.send(...args));
    if (rcpt.status !== 1) throw new Error(`grant transaction ${rcpt.hash} failed`);
    return { grantId: Number(id), txHash: rcpt.hash, blockNumber: rcpt.blockNumber };
  }

  async revoke(grantId: number): Promise<{ txHash: string; blockNumber: number }> {
    const fn = this.contract.getFunction('revokeGrant');
    await fn.staticCall(grantId);
    const rcpt = await minedReceipt(await fn.send(grantId));
    if (rcpt.status !== 1) throw new Error(`revokeGrant transaction ${rcpt.hash} failed`);
    return { txHash: rcpt.hash, blockNumber: rcpt.blockNumber };
  }

  async recordAccess(a: AccessRecord): Promise<string> {
    const tx = (await this.contract.getFunction('recordAccess').send(a.grantId, a.fromTime, a.toTime)) as ethers.ContractTransactionResponse;
    const rcpt = await minedReceipt(tx);
    if (rcpt.status !== 1) throw new Error(`recordAccess transaction ${tx.hash} failed`);
    return tx.hash;
  }

  /**
   * Records many accesses in one transaction and says, for each, whether the chain recorded it (its
   * grant was still valid when the transaction ran) — read from the transaction's own logs.
   */
  async recordAccesses(list: readonly AccessRecord[]): Promise<{ txHash: string; blockNumber: number; gasUsed: bigint; recorded: boolean[] }> {
    const fn = this.contract.getFunction('recordAccesses');
    const words = list.map(packAccess);
    await fn.staticCall(words);
    const tx = (await fn.send(words)) as ethers.ContractTransactionResponse;
    const rcpt = await minedReceipt(tx);
    if (rcpt.status !== 1) throw new Error(`recordAccesses transaction ${tx.hash} failed`);
    // The transaction's Accessed log lists the recorded words, AccessRefused the others.
    const ok = new Map<bigint, number>();
    let logged = 0;
    for (const log of rcpt.logs) {
      const p = this.contract.interface.parseLog(log);
      if (p?.name !== 'Accessed' && p?.name !== 'AccessRefused') continue;
      for (const w of p.args[1] as bigint[]) {
        logged++;
        if (p.name === 'Accessed') ok.set(w, (ok.get(w) ?? 0) + 1);
      }
    }
    if (logged !== list.length) throw new Error(`recordAccesses ${tx.hash}: ${logged} accesses logged for ${list.length} sent`);
    const recorded = words.map((w) => {
      const n = ok.get(w) ?? 0;
      if (n > 0) ok.set(w, n - 1);
      return n > 0;
    });
    return { txHash: tx.hash, blockNumber: rcpt.blockNumber, gasUsed: rcpt.gasUsed, recorded };
  }

  async getGrant(grantId: number): Promise<AccessGrant> {
    const [g, validNow] = (await this.contract.getFunction('getGrant').staticCall(grantId)) as [[bigint, bigint, bigint, boolean, string, string, string, string], boolean];
    return { grantId, fromTime: Number(g[0]), toTime: Number(g[1]), expiry: Number(g[2]), revoked: g[3], hospital: bytes32ToId(g[4]), user: bytes32ToId(g[5]), patientScope: g[6], tagsHash: g[7], validNow };
  }

  async grantCount(): Promise<number> {
    return Number(await this.contract.getFunction('grantCount').staticCall());
  }

  /** Every grant ever made (with its revocation, if any), from the events. */
  async grantEvents(fromBlock = 0): Promise<GrantEvent[]> {
    const granted = await this.contract.queryFilter(this.contract.filters.Granted!(), fromBlock, 'latest');
    const revoked = await this.contract.queryFilter(this.contract.filters.GrantRevoked!(), fromBlock, 'latest');
    const out = new Map<number, GrantEvent>();
    for (const l of granted) {
      const e = l as ethers.EventLog;
      const a = e.args as unknown as [bigint, string, string, string, string, bigint, bigint, bigint];
      out.set(Number(a[0]), { grantId: Number(a[0]), hospital: bytes32ToId(a[1]), user: bytes32ToId(a[2]), patientScope: a[3], tagsHash: a[4], fromTime: Number(a[5]), toTime: Number(a[6]), expiry: Number(a[7]), txHash: e.transactionHash, blockNumber: e.blockNumber });
    }
    for (const l of revoked) {
      const e = l as ethers.EventLog;
      const g = out.get(Number(e.args[0]));
      if (g) g.revokedIn = { txHash: e.transactionHash, blockNumber: e.blockNumber };
    }
    return [...out.values()].sort((a, b) => a.grantId - b.grantId);
  }

  /** Every access logged (recorded or refused), in chain order. */
  async accessEvents(fromBlock = 0): Promise<AccessEvent[]> {
    const logs = await this.contract.queryFilter([[this.contract.interface.getEvent('Accessed')!.topicHash, this.contract.interface.getEvent('AccessRefused')!.topicHash]] as unknown as ethers.TopicFilter, fromBlock, 'latest');
    const mask = (1n << 64n) - 1n;
    return logs
      .sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index)
      .flatMap((l) => {
        const p = this.contract.interface.parseLog(l)!;
        const node = p.args[0] as string;
        return (p.args[1] as bigint[]).map((w) => ({ grantId: Number(w >> 128n), node, fromTime: Number((w >> 64n) & mask), toTime: Number(w & mask), recorded: p.name === 'Accessed', txHash: l.transactionHash, blockNumber: l.blockNumber, logIndex: l.index }));
      });
  }
}
