/**
 * `mcps admin`: the consortium's and hospitals' administration of the on-chain registry against any
 * EVM JSON-RPC endpoint, signed with a key file. Human output by default, one JSON object with
 * --json; a refusal names the contract's custom error and what to do (exit code 1).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command, Option } from 'commander';
import type { PartyDetails, PartyRow, TxResult } from './actions';
import type { AdminGlobals, AdminScope } from './context';

// Loaded when a command runs, not when `mcps` starts (ethers and the contracts are not small).
const A = (): typeof import('./actions') => require('./actions') as typeof import('./actions');
const C = (): typeof import('./context') => require('./context') as typeof import('./context');
const K = (): typeof import('../../common/evm-key') => require('../../common/evm-key') as typeof import('../../common/evm-key');
const readIdentityFile: typeof import('../../contracts/party-identity').readIdentityFile = (...a) => (require('../../contracts/party-identity') as typeof import('../../contracts/party-identity')).readIdentityFile(...a);

/** Runs an action and prints its result (human or JSON) or its refusal; sets the exit code. */
async function output<T>(g: AdminGlobals, fn: () => Promise<T>, human: (r: T) => string): Promise<void> {
  try {
    const r = await fn();
    process.stdout.write(g.json ? JSON.stringify({ ok: true, ...(r as object) }) + '\n' : human(r));
  } catch (err) {
    process.exitCode = 1;
    const { ContractRefusal } = require('../../contracts/refusals') as typeof import('../../contracts/refusals');
    if (g.json) {
      const body = err instanceof ContractRefusal ? err.toJSON() : { error: 'Error', message: (err as Error).message };
      process.stdout.write(JSON.stringify({ ok: false, ...body }) + '\n');
    } else if (err instanceof ContractRefusal) {
      process.stderr.write(`mcps admin: ${err.contract} refused: ${err.errorName}(${err.shownArgs.join(', ')})\n  what to do: ${err.hint}\n`);
    } else {
      process.stderr.write(`mcps admin: ${(err as Error).message}\n`);
    }
  }
}

const tx = (t: TxResult): string => `tx ${t.tx}, block ${t.block}, gas ${Number(t.gasUsed).toLocaleString('en-US')}`;

function table(rows: PartyRow[]): string {
  if (rows.length === 0) return 'no parties registered\n';
  const cols: Array<[string, (r: PartyRow) => string]> = [
    ['ID', (r) => r.id],
    ['ROLE', (r) => r.role],
    ['HOSPITAL', (r) => r.hospital ?? '-'],
    ['STATUS', (r) => (r.active ? 'active' : 'revoked')],
    ['EPOCH', (r) => (r.epoch === null ? '-' : String(r.epoch))],
    ['ACCOUNT', (r) => `${r.account} (${r.role === 'hospital' ? 'admin' : r.role === 'node' ? 'operator' : 'registered by'})`],
  ];
  const w = cols.map(([h, f]) => Math.max(h.length, ...rows.map((r) => f(r).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(w[i]!))).join('  ') + '\n';
  return line(cols.map(([h]) => h)) + rows.map((r) => line(cols.map(([, f]) => f(r)))).join('');
}

function details(d: PartyDetails): string {
  let s = '';
  if (d.hospital) s += `${d.id}: hospital, admin ${d.hospital.admin}\n  gateways: ${d.hospital.gateways.join(', ') || '-'}\n  users:    ${d.hospital.users.join(', ') || '-'}\n`;
  if (d.party) {
    const p = d.party;
    s += `${d.id}: ${p.role}${p.hospital ? ` of ${p.hospital}` : ''}, ${p.active ? 'active' : 'REVOKED'}, key epoch ${p.epoch}\n`;
    s += `  ${p.role === 'node' ? 'operator     ' : 'registered by'} ${p.account}\n  BLS key       ${p.blsPublicKey}\n`;
    if (p.x25519PublicKey) s += `  X25519 key    ${p.x25519PublicKey}\n`;
  }
  for (const h of d.history) s += `  block ${String(h.block).padStart(8)}  ${h.event}${h.epoch !== undefined ? ` (epoch ${h.epoch})` : ''}  ${h.tx}\n`;
  return s;
}

export function registerAdminCommands(program: Command): void {
  const admin = program
    .command('admin')
    .description('consortium and hospital administration of the on-chain registry: deploy, hospital/node/gateway/user add, rotate, revoke, list, show, key')
    .addOption(new Option('--rpc <url>', 'JSON-RPC endpoint of the consortium chain (default: the deployment file\'s)').env('MCPS_RPC_URL'))
    .addOption(new Option('--key <file>', 'the admin\'s key file (an EVM account; mcps admin key new|import)').env('MCPS_ADMIN_KEY'))
    .addOption(new Option('--deployment <file>', 'the contracts\' deployment file written by mcps admin deploy (default: ./deployment.json)').env('MCPS_DEPLOYMENT'))
    .addOption(new Option('--data <dir>', 'the local stack\'s data directory: its deployment and development admin keys (run/)'))
    .option('--json', 'print one JSON object instead of text ({"ok": false, "error": NAME, "hint": ...} on a refusal)')
    .configureHelp({ showGlobalOptions: true })
    // These options are taken anywhere on the line (`mcps admin list --json`), unlike the program's.
    .enablePositionalOptions(false)
    .addHelpText('after', `
Who signs: deploy, hospital add, node add (and a node's rotate/revoke) need a consortium admin's
key; gateway add, user add (and their rotate/revoke) the key of the hospital's admin. With --data
the local stack's run/consortium-admin.key or run/hospital-admin.key is used accordingly.
Every refusal names the contract's error and what to do, e.g.
  mcps admin: Registry refused: NotHospitalAdmin(hospital-a, 0x70…)
    what to do: account 0x70… is not the admin of hospital "hospital-a": use that hospital admin's key file …
Exit code 0 on success, 1 on a refusal or any other error.`);
  const g = (cmd: Command): AdminGlobals => cmd.optsWithGlobals<AdminGlobals>();
  const ctx = (cmd: Command, scope: AdminScope) => C().adminContext(g(cmd), scope);

  admin
    .command('deploy')
    .description('deploy the Registry, Anchor and AccessLog contracts; the key\'s account becomes the first consortium admin; writes the deployment file')
    .option('--force', 'overwrite an existing deployment file')
    .option('--trustless', "trustless anchoring: the Anchor contract verifies every gateway's BLS signature over its batch headers on chain (EIP-2537), so a chain node cannot anchor a header its gateway did not sign; more gas per batch (docs/contracts.md)")
    .action(async (o: { force?: boolean; trustless?: boolean }, cmd: Command) => {
      const gl = g(cmd);
      await output(gl, async () => {
        const path = C().deploymentPath(gl);
        if (existsSync(path) && !o.force) throw new Error(`${path} exists: a deployment is recorded there already (--force to replace it, or --deployment FILE elsewhere)`);
        const url = C().rpcUrl(gl);
        const p = C().provider(url);
        try {
          const signer = K().loadEvmSigner(C().keyPath(gl, 'consortium'), p);
          const d = await A().deployAction(signer, url, { trustless: o.trustless === true });
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, JSON.stringify(d, null, 2) + '\n');
          return { ...d, deploymentFile: path };
        } finally {
          p.destroy();
        }
      }, (d) => `deployed on chain ${d.chainId} (block ${d.deployBlock}); consortium admin ${d.admin}\n  Registry   ${d.registry}\n  Anchor     ${d.anchor}${d.trustless ? ' (trustless: verifies gateway signatures on chain)' : ''}\n  AccessLog  ${d.accessLog}\nwritten to ${d.deploymentFile}\n`);
    });

  const hospital = admin.command('hospital').description('hospitals (consortium admin)');
  hospital
    .command('add')
    .description('register a hospital and the account of its admin (who then registers its gateways and users)')
    .argument('<id>', 'hospital id, 1..31 characters of [A-Za-z0-9._-]')
    .requiredOption('--admin <address>', 'the hospital admin\'s EVM address (they print it with mcps admin key show)')
    .option('--fund <eth>', 'also send this much ether to the admin\'s account for gas')
    .action(async (id: string, o: { admin: string; fund?: string }, cmd: Command) => {
      await output(g(cmd), async () => {
        const c = await ctx(cmd, 'consortium');
        try {
          return await A().hospitalAdd(c, id, o.admin, o.fund);
        } finally {
          c.close();
        }
      }, (r) => `registered hospital ${r.hospital}, admin ${r.admin} (${tx(r.registration)})\n${r.funding ? `funded ${r.admin} with ${o.fund} ether (${tx(r.funding)})\n` : ''}`);
    });

  hospital
    .command('owner-key')
    .description('register the hospital\'s data-owner public key (from mcps owner init), which its gateways wrap batch keys to (the hospital\'s admin signs)')
    .argument('<id>', 'the hospital')
    .requiredOption('--owner <dir>', 'the hospital\'s owner key directory (mcps owner init --data DIR)')
    .action(async (id: string, o: { owner: string }, cmd: Command) => {
      await output(g(cmd), async () => {
        const pub = (require('../setup-commands') as typeof import('../setup-commands')).ownerPublicKeyOf(o.owner);
        const c = await ctx(cmd, 'hospital');
        try {
          return await A().ownerKeyAction(c, id, pub);
        } finally {
          c.close();
        }
      }, (r) => `registered the owner key ${r.ownerPublicKey} of hospital ${r.hospital} (${tx(r.registration)})\n`);
    });

  const partyAdd = (role: 'node' | 'gateway' | 'user', what: string, scope: AdminScope, made: string): Command => {
    const c = admin.command(role).description(`${what} (${scope === 'consortium' ? 'consortium admin' : "the hospital's admin"})`);
    return c
      .command('add')
      .description(`register a ${what.replace(/s$/, '')} from the public identity file that \`${made}\` prints (its BLS key and proof of possession, checked on chain)`)
      .argument('<identity-file>', `the JSON printed by ${made}`);
  };

  partyAdd('node', 'chain nodes', 'consortium', 'mcps chain-node identity')
    .option('--fund <eth>', 'also send this much ether to the node\'s operator account (it pays for anchoring)')
    .action(async (file: string, o: { fund?: string }, cmd: Command) => {
      await output(g(cmd), async () => {
        const identity = readIdentityFile(file, 'node');
        const c = await ctx(cmd, 'consortium');
        try {
          return await A().nodeAdd(c, identity, o.fund);
        } finally {
          c.close();
        }
      }, (r) => `registered chain node ${r.node}, operator ${r.operator} (${tx(r.registration)})\n${r.funding ? `funded ${r.operator} with ${o.fund} ether (${tx(r.funding)})\n` : ''}`);
    });

  partyAdd('gateway', 'gateways', 'hospital', 'mcps gateway identity')
    .requiredOption('--hospital <id>', 'the hospital the gateway belongs to')
    .action(async (file: string, o: { hospital: string }, cmd: Command) => {
      await output(g(cmd), async () => {
        const identity = readIdentityFile(file, 'gateway');
        const c = await ctx(cmd, 'hospital');
        try {
          return await A().gatewayAdd(c, identity, o.hospital);
        } finally {
          c.close();
        }
      }, (r) => `registered gateway ${r.gateway} of ${r.hospital} (${tx(r.registration)})\n`);
    });

  partyAdd('user', 'data users', 'hospital', 'mcps user identity')
    .requiredOption('--hospital <id>', 'the hospital the user belongs to')
    .action(async (file: string, o: { hospital: string }, cmd: Command) => {
      await output(g(cmd), async () => {
        const identity = readIdentityFile(file, 'user');
        const c = await ctx(cmd, 'hospital');
        try {
          return await A().userAdd(c, identity, o.hospital);
        } finally {
          c.close();
        }
      }, (r) => `registered data user ${r.user} of ${r.hospital} (${tx(r.registration)})\n`);
    });

  const scopeOf = async (cmd: Command, id: string): Promise<AdminScope> => {
    const r = await C().readContext(g(cmd));
    try {
      const d = await A().showParty(r.provider, r.deployment, id).catch(() => null);
      return d?.party?.role === 'node' ? 'consortium' : 'hospital';
    } finally {
      r.close();
    }
  };

  admin
    .command('rotate')
    .description('give a party a new key (key epoch + 1) from the identity file its box printed with --new-key; the box switches to it at its next start')
    .argument('<id>', 'the party')
    .argument('<identity-file>', 'the identity with the new key (mcps gateway|chain-node|user identity --new-key)')
    .action(async (id: string, file: string, _o: unknown, cmd: Command) => {
      await output(g(cmd), async () => {
        const identity = readIdentityFile(file);
        const c = await ctx(cmd, await scopeOf(cmd, id));
        try {
          return await A().rotateAction(c, id, identity);
        } finally {
          c.close();
        }
      }, (r) => `rotated the key of ${r.id}: now epoch ${r.epoch} (${tx(r.rotation)}); restart it so it takes the new key\n`);
    });

  admin
    .command('revoke')
    .description('revoke a gateway, chain node or user: refused from now on, for good (a new key needs a new id)')
    .argument('<id>', 'the party')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await output(g(cmd), async () => {
        const c = await ctx(cmd, await scopeOf(cmd, id));
        try {
          return await A().revokeAction(c, id);
        } finally {
          c.close();
        }
      }, (r) => `revoked ${r.id} (${tx(r.revocation)})\n`);
    });

  admin
    .command('list')
    .description('hospitals, chain nodes, gateways and users in the registry, with their state')
    .addOption(new Option('--role <role>', 'only this role').choices(['hospital', 'node', 'gateway', 'user']))
    .option('--hospital <id>', 'only this hospital and its gateways and users')
    .action(async (o: { role?: string; hospital?: string }, cmd: Command) => {
      await output(g(cmd), async () => {
        const r = await C().readContext(g(cmd));
        try {
          return { parties: await A().listParties(r.provider, r.deployment, o) };
        } finally {
          r.close();
        }
      }, (r) => table(r.parties));
    });

  admin
    .command('show')
    .description('one hospital or party: state, keys, accounts and its history in the registry')
    .argument('<id>', 'hospital or party id')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await output(g(cmd), async () => {
        const r = await C().readContext(g(cmd));
        try {
          return await A().showParty(r.provider, r.deployment, id);
        } finally {
          r.close();
        }
      }, details);
    });

  const key = admin.command('key').description('admin key files (an EVM account\'s secret key, 0600)');
  key
    .command('new')
    .description('make a new account in the key file given by --key; prints its address (to be registered or funded)')
    .action(async (_o: unknown, cmd: Command) => {
      const gl = g(cmd);
      await output(gl, async () => {
        const path = C().keyPath(gl, 'consortium');
        return { key: path, address: K().createEvmKeyFile(path) };
      }, (r) => `created ${r.key} (0600): account ${r.address}\n`);
    });
  key
    .command('import')
    .description('put an existing account\'s secret key (64 hex digits on stdin) in the key file given by --key')
    .action(async (_o: unknown, cmd: Command) => {
      const gl = g(cmd);
      await output(gl, async () => {
        const path = C().keyPath(gl, 'consortium');
        const k = K().parseEvmKeyHex(await (require('../stdin') as typeof import('../stdin')).readStdin('the secret key'));
        return { key: path, address: K().createEvmKeyFile(path, k) };
      }, (r) => `imported into ${r.key} (0600): account ${r.address}\n`);
    });
  key
    .command('show')
    .description('the address of the key file\'s account (and its balance, when a chain is given)')
    .option('--address', 'print only the address (for scripts: ADMIN=$(mcps admin key show --key F --address))')
    .action(async (o: { address?: boolean }, cmd: Command) => {
      const gl = g(cmd);
      await output(gl, async () => {
        const path = C().keyPath(gl, 'consortium');
        const address = K().loadEvmWallet(path).address;
        const url = gl.rpc;
        if (!url || o.address) return { key: path, address };
        const p = C().provider(url);
        try {
          return { key: path, address, balance: (require('ethers') as typeof import('ethers')).ethers.formatEther(await p.getBalance(address)) };
        } finally {
          p.destroy();
        }
      }, (r) => `${r.address}${'balance' in r ? `  balance ${r.balance} ether` : ''}\n`);
    });
}
