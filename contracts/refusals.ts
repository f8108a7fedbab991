/**
 * Refusals from our contracts, decoded by their custom error name, with what the operator should do
 * about each. Every admin command (and the local stack's registrations) goes through `sendChecked`:
 * the call is simulated first, so a refusal costs no gas and comes back as a `ContractRefusal`
 * naming the error, its arguments (ids as the text operators typed) and a hint, instead of an
 * "execution reverted" with hex data.
 */
import { ethers } from 'ethers';
import { loadArtifact, type ContractName } from './artifacts';
import { minedReceipt } from './mined-receipt';

const ROLE_NAMES: Record<string, string> = {
  [ethers.ZeroHash]: 'DEFAULT_ADMIN_ROLE',
  [ethers.id('CONSORTIUM_ADMIN')]: 'CONSORTIUM_ADMIN',
};

/** bytes32 arguments are party ids where they read as one; addresses and numbers stay as they are. */
function show(v: unknown): string {
  if (typeof v === 'string' && /^0x[0-9a-fA-F]{64}$/.test(v)) {
    if (ROLE_NAMES[v]) return ROLE_NAMES[v]!;
    try {
      const s = ethers.decodeBytes32String(v);
      if (/^[\x20-\x7e]+$/.test(s)) return s;
    } catch {
      // not a short string: show the hex
    }
  }
  return String(v);
}

/** What to do about each refusal, by custom error name. `a` holds the arguments as shown. */
const HINTS: Record<string, (a: string[]) => string> = {
  AccessControlUnauthorizedAccount: (a) => `account ${a[0]} does not hold ${a[1]}: use the key file of a consortium admin (the deployer, or an account a consortium admin granted the role)`,
  AccessControlBadConfirmation: () => 'a role can only be renounced by the account itself',
  AlreadyRegistered: (a) => `"${a[0]}" is already registered: choose another id, or look at it with \`mcps admin show ${a[0]}\` (a new key for it is \`mcps admin rotate\`)`,
  UnknownHospital: (a) => `hospital "${a[0]}" is not registered: a consortium admin adds it first with \`mcps admin hospital add ${a[0]} --admin ADDRESS\``,
  NotHospitalAdmin: (a) => `account ${a[1]} is not the admin of hospital "${a[0]}": use that hospital admin's key file (\`mcps admin show ${a[0]}\` names the admin's address)`,
  UnknownParty: (a) => `no party "${a[0]}" in the registry: check the id with \`mcps admin list\``,
  KeyAlreadyUsed: () => 'this BLS key was registered before, and keys are never reused (not even after a revocation or rotation): make a new key on the box (`mcps gateway identity --new-key`, `mcps chain-node identity --new-key`, `mcps user identity --new-key`) and use its identity file',
  NotActive: (a) => `"${a[0]}" is revoked and stays revoked: register the party again under a new id with a new key`,
  OperatorInUse: (a) => `operator account ${a[0]} already anchors for another chain node: every node needs its own operator key (each node's data directory makes one)`,
  MissingKey: () => 'a chain node or data user needs its X25519 key too: use the identity file its box (or user) printed, unchanged',
  EmptyId: () => 'the id is empty: ids are 1..31 characters of [A-Za-z0-9._-]',
  BadKeyEncoding: () => 'the BLS public key or proof in the identity file is not a valid curve point: make the identity file again on the box and copy it unchanged',
  IdentityKey: () => 'the public key or proof is the identity point, which proves nothing: make the identity file again on the box',
  BadProofOfPossession: () => 'the proof of possession does not match the public key (an altered identity file, or key and proof from two different boxes): make the identity file again on the box and copy it unchanged',
  PrecompileFailed: (a) => `the chain has no working EIP-2537 BLS12-381 precompile at ${a[0]}: the registry needs the Prague hardfork (enable it in the chain's genesis)`,
  BadSequence: (a) => `the batch sequence number must be ${a[0]} (got ${a[1]}): the gateway resends from its outbox in order`,
  WrongPrevHash: () => "the batch does not continue the gateway's chain of batches on chain: a gap or a rewrite; do not resubmit, investigate the gateway's state",
  GatewayNotActive: (a) => `gateway "${a[0]}" is not registered or revoked: register it (\`mcps admin gateway add\`)`,
  NotANode: (a) => `account ${a[0]} is not the operator of an active chain node: register the node (\`mcps admin node add\`) or use its operator key`,
  EmptyRoot: () => 'a batch with an empty Merkle root cannot be anchored',
  LengthMismatch: () => 'the batch arrays differ in length',
  UnknownUser: (a) => `user "${a[0]}" is not registered (or revoked): register them with \`mcps admin user add\``,
  BadRange: () => 'the time range is empty or reversed, or the expiry is in the past',
  UnknownGrant: (a) => `no grant ${a[0]}`,
  GrantNotValid: (a) => `grant ${a[0]} is revoked, expired, or its user is no longer active`,
};

/** A contract refused a call: its custom error, the arguments as shown, and what to do. */
export class ContractRefusal extends Error {
  readonly hint: string;
  readonly shownArgs: string[];

  constructor(readonly contract: string, readonly errorName: string, readonly args: readonly unknown[]) {
    const shown = args.map(show);
    const hint = HINTS[errorName]?.(shown) ?? 'see docs/contracts.md for this refusal';
    super(`${contract} refused: ${errorName}(${shown.join(', ')}): ${hint}`);
    this.name = 'ContractRefusal';
    this.hint = hint;
    this.shownArgs = shown;
  }

  /** Same shape as an ethers CALL_EXCEPTION's `revert`, for code that reads that. */
  get revert(): { name: string; args: readonly unknown[] } {
    return { name: this.errorName, args: this.args };
  }

  toJSON(): { error: string; contract: string; args: string[]; hint: string } {
    return { error: this.errorName, contract: this.contract, args: this.shownArgs, hint: this.hint };
  }
}

const interfaces = new Map<ContractName, ethers.Interface>();
function iface(name: ContractName): ethers.Interface {
  let i = interfaces.get(name);
  if (!i) interfaces.set(name, (i = new ethers.Interface(loadArtifact(name).abi)));
  return i;
}

/** The revert data in an ethers error, wherever this provider put it. */
function revertData(err: unknown): string | undefined {
  const e = err as { data?: unknown; info?: { error?: { data?: unknown } }; error?: { data?: unknown } };
  for (const d of [e.data, e.info?.error?.data, e.error?.data]) {
    if (typeof d === 'string' && d.startsWith('0x') && d.length >= 10) return d;
    if (d && typeof d === 'object' && typeof (d as { data?: unknown }).data === 'string') return (d as { data: string }).data;
  }
  return undefined;
}

/** A ContractRefusal when `err` is a revert with one of our contracts' custom errors, else null. */
export function decodeRefusal(err: unknown, contract: ContractName): ContractRefusal | null {
  if (err instanceof ContractRefusal) return err;
  const data = revertData(err);
  if (data) {
    // The contract called first, then the others (a library's error appears in the caller's ABI).
    for (const name of [contract, ...(['Registry', 'Anchor', 'AccessLog'] as const).filter((n) => n !== contract)]) {
      try {
        const parsed = iface(name).parseError(data);
        if (parsed) return new ContractRefusal(contract, parsed.name, [...parsed.args]);
      } catch {
        // not this contract's error
      }
    }
  }
  const re = (err as { revert?: { name?: string; args?: unknown[] } }).revert;
  if (re?.name) return new ContractRefusal(contract, re.name, re.args ?? []);
  return null;
}

/** Errors that are not refusals, said plainly: no funds, no node at the URL, a wrong chain. */
export function explainChainError(err: unknown, who?: string): Error {
  const e = err as { code?: string; shortMessage?: string; message?: string };
  if (e.code === 'INSUFFICIENT_FUNDS') return new Error(`account ${who ?? ''} has no funds for gas on this chain: have it funded (a consortium admin can send some with --fund on \`mcps admin hospital add\` / \`node add\`)`.replace('account  ', 'the account '));
  if (e.code === 'ECONNREFUSED' || /ECONNREFUSED|fetch failed|getaddrinfo/.test(String(e.message))) return new Error(`cannot reach the chain's JSON-RPC endpoint: ${e.shortMessage ?? e.message}`);
  if (e.code === 'CALL_EXCEPTION' && /missing revert data/.test(String(e.shortMessage))) return new Error('the call reverted without a reason: is the deployment file for this chain (no contract at that address)?');
  // ethers' full message carries the whole signed transaction: its short message says enough.
  if (e.shortMessage) return new Error(e.shortMessage);
  return err instanceof Error ? err : new Error(String(err));
}

export interface SentTx {
  readonly txHash: string;
  readonly blockNumber: number;
  readonly gasUsed: bigint;
  readonly receipt: ethers.TransactionReceipt;
}

/**
 * Simulates `fn(...args)` (a refusal comes back decoded and costs nothing), then sends it and waits
 * for one confirmation. A transaction that reverts once mined (the state moved in between) is
 * decoded the same way.
 */
export async function sendChecked(contract: ethers.Contract, contractName: ContractName, fn: string, args: unknown[], who?: string): Promise<SentTx> {
  const f = contract.getFunction(fn);
  let tx: ethers.ContractTransactionResponse;
  try {
    await f.staticCall(...args);
    tx = (await f.send(...args)) as ethers.ContractTransactionResponse;
  } catch (err) {
    throw decodeRefusal(err, contractName) ?? explainChainError(err, who);
  }
  const rcpt = await minedReceipt(tx);
  if (rcpt.status !== 1) {
    // Mined but reverted (the state moved between simulation and inclusion): say why if we can.
    const failed = new Error(`${fn} transaction ${tx.hash} failed`);
    const again = await f.staticCall(...args).then(() => failed, (e: unknown) => e);
    throw decodeRefusal(again, contractName) ?? explainChainError(again, who);
  }
  return { txHash: tx.hash, blockNumber: rcpt.blockNumber, gasUsed: rcpt.gasUsed, receipt: rcpt };
}
