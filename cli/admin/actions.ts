/**
 * What `mcps admin` does, as functions that return plain results: the CLI prints them (human or
 * --json) and the local stack (cli/stack.ts) calls the same functions to deploy and register, so
 * the stack exercises exactly the code paths a consortium uses. Refusals are ContractRefusals
 * (contracts/refusals.ts) naming the contract's custom error and what to do.
 */
import { ethers } from 'ethers';
import { loadArtifact } from '../../contracts/artifacts';
import { deployContracts, setOwnerKey, registerGateway, registerHospital, registerNode, registerUser, revokeParty, rotateKey, type Deployment } from '../../contracts/deploy';
import { bytes32ToId, idToBytes32 } from '../../contracts/ids';
import { RegistryClient } from '../../contracts/clients';
import { explainChainError, type SentTx } from '../../contracts/refusals';
import { minedReceipt } from '../../contracts/mined-receipt';
import type { PartyIdentity, PartyRole } from '../../contracts/party-identity';

export interface AdminContext {
  readonly provider: ethers.Provider;
  readonly signer: ethers.Signer;
  readonly deployment: Deployment & { rpcUrl: string };
}

export interface TxResult {
  readonly tx: string;
  readonly block: number;
  readonly gasUsed: string;
}

const txResult = (s: SentTx): TxResult => ({ tx: s.txHash, block: s.blockNumber, gasUsed: s.gasUsed.toString() });

async function fund(signer: ethers.Signer, to: string, eth: string | undefined): Promise<TxResult | undefined> {
  if (!eth) return undefined;
  let value: bigint;
  try {
    value = ethers.parseEther(eth);
  } catch {
    throw new Error(`--fund ${eth}: not an amount of ether`);
  }
  try {
    const tx = await signer.sendTransaction({ to, value });
    const r = await minedReceipt(tx);
    if (r.status !== 1) throw new Error(`transfer ${tx.hash} failed`);
    return { tx: tx.hash, block: r.blockNumber, gasUsed: r.gasUsed.toString() };
  } catch (err) {
    throw explainChainError(err, await signer.getAddress());
  }
}

/** `trustless`: the Anchor contract checks the gateways' signatures itself (docs/contracts.md, "Trustless mode"). */
export async function deployAction(signer: ethers.Signer, rpcUrl: string, opts: { trustless?: boolean } = {}): Promise<Deployment & { rpcUrl: string; admin: string }> {
  const admin = await signer.getAddress();
  let d: Deployment;
  try {
    d = await deployContracts(signer, opts);
  } catch (err) {
    throw explainChainError(err, admin);
  }
  return { ...d, rpcUrl, admin };
}

export async function hospitalAdd(ctx: AdminContext, id: string, adminAddress: string, fundEth?: string): Promise<{ hospital: string; admin: string; registration: TxResult; funding?: TxResult }> {
  if (!ethers.isAddress(adminAddress)) throw new Error(`--admin ${adminAddress}: not an EVM address (the hospital admin prints theirs with \`mcps admin key show\`)`);
  const admin = ethers.getAddress(adminAddress);
  const registration = txResult(await registerHospital(ctx.signer, ctx.deployment.registry, id, admin));
  const funding = await fund(ctx.signer, admin, fundEth);
  return { hospital: id, admin, registration, ...(funding ? { funding } : {}) };
}

/** The hospital's data-owner public key (X25519), which its gateways wrap batch keys to; signed by the hospital's admin. */
export async function ownerKeyAction(ctx: AdminContext, hospital: string, ownerPublicKey: Uint8Array): Promise<{ hospital: string; ownerPublicKey: string; registration: TxResult }> {
  if (ownerPublicKey.length !== 32) throw new Error(`an owner public key is 32 bytes, got ${ownerPublicKey.length}`);
  const registration = txResult(await setOwnerKey(ctx.signer, ctx.deployment.registry, hospital, ownerPublicKey));
  return { hospital, ownerPublicKey: Buffer.from(ownerPublicKey).toString('hex'), registration };
}

export async function nodeAdd(ctx: AdminContext, identity: PartyIdentity, fundEth?: string): Promise<{ node: string; operator: string; registration: TxResult; funding?: TxResult }> {
  if (identity.role !== 'node' || !identity.operator || !identity.x25519PublicKey) throw new Error(`the identity of ${identity.id} is a ${identity.role}'s, not a chain node's`);
  const registration = txResult(await registerNode(ctx.signer, ctx.deployment.registry, { id: identity.id, operator: identity.operator, blsPublicKey: identity.blsPublicKey, pop: identity.proofOfPossession, x25519PublicKey: identity.x25519PublicKey }));
  const funding = await fund(ctx.signer, identity.operator, fundEth);
  return { node: identity.id, operator: identity.operator, registration, ...(funding ? { funding } : {}) };
}

export async function gatewayAdd(ctx: AdminContext, identity: PartyIdentity, hospital: string): Promise<{ gateway: string; hospital: string; registration: TxResult }> {
  if (identity.role !== 'gateway') throw new Error(`the identity of ${identity.id} is a ${identity.role}'s, not a gateway's`);
  const registration = txResult(await registerGateway(ctx.signer, ctx.deployment.registry, { id: identity.id, hospital, blsPublicKey: identity.blsPublicKey, pop: identity.proofOfPossession }));
  return { gateway: identity.id, hospital, registration };
}

export async function userAdd(ctx: AdminContext, identity: PartyIdentity, hospital: string): Promise<{ user: string; hospital: string; registration: TxResult }> {
  if (identity.role !== 'user' || !identity.encryptionPublicKey) throw new Error(`the identity of ${identity.id} is a ${identity.role}'s, not a data user's`);
  const registration = txResult(await registerUser(ctx.signer, ctx.deployment.registry, { id: identity.id, hospital, blsPublicKey: identity.blsPublicKey, pop: identity.proofOfPossession, encryptionPublicKey: identity.encryptionPublicKey }));
  return { user: identity.id, hospital, registration };
}

export async function rotateAction(ctx: AdminContext, id: string, identity: PartyIdentity): Promise<{ id: string; epoch: number; rotation: TxResult }> {
  if (identity.id !== id) throw new Error(`the identity file is ${identity.id}'s, not ${id}'s`);
  const rotation = txResult(await rotateKey(ctx.signer, ctx.deployment.registry, { id, blsPublicKey: identity.blsPublicKey, pop: identity.proofOfPossession, ...(identity.x25519PublicKey ?? identity.encryptionPublicKey ? { x25519PublicKey: identity.x25519PublicKey ?? identity.encryptionPublicKey } : {}) }));
  const e = await new RegistryClient(ctx.provider, ctx.deployment.registry).getEntry(id);
  return { id, epoch: e?.epoch ?? 0, rotation };
}

export async function revokeAction(ctx: AdminContext, id: string): Promise<{ id: string; revocation: TxResult }> {
  return { id, revocation: txResult(await revokeParty(ctx.signer, ctx.deployment.registry, id)) };
}

export interface PartyRow {
  readonly id: string;
  readonly role: 'hospital' | PartyRole;
  readonly hospital: string | null;
  readonly active: boolean;
  readonly epoch: number | null;
  /** Hospitals: their admin; nodes: the operator; gateways and users: the admin who registered them. */
  readonly account: string;
}

function registryContract(provider: ethers.Provider, address: string): ethers.Contract {
  return new ethers.Contract(address, loadArtifact('Registry').abi, provider);
}

/** Every hospital and party the registry has, from its events since deployment, in their current state. */
export async function listParties(provider: ethers.Provider, d: Deployment, filter: { role?: string; hospital?: string } = {}): Promise<PartyRow[]> {
  const reg = registryContract(provider, d.registry);
  const client = new RegistryClient(provider, d.registry);
  const rows: PartyRow[] = [];
  try {
    for (const l of await reg.queryFilter(reg.filters.HospitalRegistered!(), d.deployBlock, 'latest')) {
      const [h, admin] = (l as ethers.EventLog).args as unknown as [string, string];
      rows.push({ id: bytes32ToId(h), role: 'hospital', hospital: null, active: true, epoch: null, account: admin });
    }
    for (const l of await reg.queryFilter(reg.filters.PartyRegistered!(), d.deployBlock, 'latest')) {
      const id = bytes32ToId((l as ethers.EventLog).args[0] as string);
      const e = await client.getEntry(id);
      if (e) rows.push({ id, role: e.role, hospital: e.hospital || null, active: e.active, epoch: e.epoch, account: e.operator });
    }
  } catch (err) {
    throw explainChainError(err);
  }
  return rows.filter((r) => (!filter.role || r.role === filter.role) && (!filter.hospital || r.hospital === filter.hospital || (r.role === 'hospital' && r.id === filter.hospital)));
}

export interface PartyDetails {
  readonly id: string;
  readonly hospital?: { admin: string; gateways: string[]; users: string[] };
  readonly party?: PartyRow & { blsPublicKey: string; x25519PublicKey: string | null };
  readonly history: Array<{ event: string; block: number; tx: string; epoch?: number }>;
}

/** One id: the hospital of that name and/or the party of that name, with its registry history. */
export async function showParty(provider: ethers.Provider, d: Deployment, id: string): Promise<PartyDetails> {
  const reg = registryContract(provider, d.registry);
  const b = idToBytes32(id);
  try {
    const admin = (await reg.getFunction('hospitalAdmin').staticCall(b)) as string;
    const e = await new RegistryClient(provider, d.registry).getEntry(id);
    const history: PartyDetails['history'] = [];
    const ev = async (name: string, label: string, epochArg?: number): Promise<void> => {
      for (const l of await reg.queryFilter(reg.filters[name]!(b), d.deployBlock, 'latest')) {
        const args = (l as ethers.EventLog).args;
        history.push({ event: label, block: l.blockNumber, tx: l.transactionHash, ...(epochArg !== undefined ? { epoch: Number(args[epochArg]) } : {}) });
      }
    };
    let hospital: PartyDetails['hospital'];
    if (admin !== ethers.ZeroAddress) {
      await ev('HospitalRegistered', 'hospital registered');
      const members = (await listParties(provider, d, { hospital: id })).filter((r) => r.role !== 'hospital');
      hospital = { admin, gateways: members.filter((m) => m.role === 'gateway').map((m) => m.id), users: members.filter((m) => m.role === 'user').map((m) => m.id) };
    }
    let party: PartyDetails['party'];
    if (e) {
      await ev('PartyRegistered', `${e.role} registered`);
      await ev('KeyRotated', 'key rotated', 1);
      await ev('PartyRevoked', 'revoked', 1);
      party = { id, role: e.role, hospital: e.hospital || null, active: e.active, epoch: e.epoch, account: e.operator, blsPublicKey: Buffer.from(e.blsPublicKey).toString('hex'), x25519PublicKey: e.x25519PublicKey ? Buffer.from(e.x25519PublicKey).toString('hex') : null };
    }
    if (!hospital && !party) throw new Error(`no hospital and no party "${id}" in the registry at ${d.registry} (\`mcps admin list\` lists them)`);
    history.sort((x, y) => x.block - y.block);
    return { id, ...(hospital ? { hospital } : {}), ...(party ? { party } : {}), history };
  } catch (err) {
    throw err instanceof Error && /^no hospital and no party/.test(err.message) ? err : explainChainError(err);
  }
}
