/**
 * `mcps data grant|revoke|fetch|verify|audit` (sharing with data users, docs/sharing.md) and
 * `mcps owner serve` (the hospital's key service). Human output by default, one JSON object with
 * --json; exit code 1 on a refusal or a failed check, with what went wrong and what to do.
 */
import type { Command } from 'commander';
import { Option } from 'commander';

interface Globals {
  data?: string;
  config?: string;
  ca?: string;
  json?: boolean;
}

// Loaded when a command runs, not when `mcps` starts.
const lazy = <T>(m: string): (() => T) => () => require(m) as T;
const Ctx = lazy<typeof import('../data-user/context')>('../data-user/context');

function parseTime(v: string, what: string): number {
  const t = Date.parse(v);
  if (!Number.isFinite(t) || t < 0) throw new Error(`${what} ${v}: not a date and time (ISO 8601, e.g. 2026-01-10T08:00:00Z)`);
  return t;
}

async function output<T>(g: Globals, fn: () => Promise<T>, human: (r: T) => string, ok: (r: T) => boolean = () => true): Promise<void> {
  try {
    const r = await fn();
    process.stdout.write(g.json ? JSON.stringify(r) + '\n' : human(r));
    if (!ok(r)) process.exitCode = 1;
  } catch (err) {
    process.exitCode = 1;
    const e = err as Error & { refusal?: string };
    const { ContractRefusal } = require('../contracts/refusals') as typeof import('../contracts/refusals');
    if (g.json) {
      const body = err instanceof ContractRefusal ? err.toJSON() : { error: e.name, ...(e.refusal ? { refusal: e.refusal } : {}), message: e.message };
      process.stdout.write(JSON.stringify({ ok: false, ...body }) + '\n');
    } else if (err instanceof ContractRefusal) {
      process.stderr.write(`mcps data: ${err.contract} refused: ${err.errorName}(${err.shownArgs.join(', ')})\n  what to do: ${err.hint}\n`);
    } else {
      process.stderr.write(`mcps data: ${e.refusal ? `refused (${e.refusal}): ` : ''}${e.message}\n`);
    }
  }
}

function where(c: Command): Command {
  return c
    .option('--data <dir>', 'the local stack\'s data directory (deployment, node, key service, keys; with `mcps up --tls` its CA, tls/ca.pem)')
    .option('--config <file>', 'a consortium\'s sharing configuration instead (docs/sharing.md)')
    .option('--ca <file>', 'a CA certificate (PEM) to trust for https:// chain node, key service and JSON-RPC, besides the system\'s')
    .option('--json', 'one JSON object on stdout');
}

/** The hospital's side: its admin signer, its tag key and id. */
async function hospitalSide(g: Globals): Promise<{ ctx: import('../data-user/context').ShareContext; provider: import('ethers').JsonRpcProvider; signer: import('ethers').Signer; tagKey: Uint8Array; close(): void }> {
  const ctx = Ctx().shareContext(g);
  if (!ctx.ownerDir || !ctx.adminKey) throw new Error('the hospital\'s ownerDir and adminKey are needed (in --config, or --data DIR of the local stack)');
  const { loadEvmSigner } = require('../common/evm-key') as typeof import('../common/evm-key');
  const { readKeyFile } = require('../common/key-file') as typeof import('../common/key-file');
  const { PATIENT_TAG_KEY_KIND } = require('../common/key-kinds') as typeof import('../common/key-kinds');
  const { ownerTagKeyPath } = require('../owner/keys') as typeof import('../owner/keys');
  const provider = Ctx().provider(ctx.rpcUrl, ctx.ca);
  try {
    const signer = loadEvmSigner(ctx.adminKey, provider);
    const tagKey = readKeyFile(ownerTagKeyPath(ctx.ownerDir), PATIENT_TAG_KEY_KIND);
    return { ctx, provider, signer, tagKey, close: () => provider.destroy() };
  } catch (err) {
    provider.destroy();
    throw err;
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('share readings with data users: grants on chain, fetch with proofs, verify, audit (docs/sharing.md)');

  where(data.command('grant').description('as the hospital that owns the data: let a registered data user read one patient\'s readings over a time range, until an expiry (on chain, AccessLog)'))
    .requiredOption('--user <id>', 'the data user (registered with mcps admin user add)')
    .requiredOption('--patient <pseudonym>', 'the patient pseudonym (never written on chain: only keyed commitments)')
    .requiredOption('--from <iso>', 'readings received from this time (inclusive)')
    .requiredOption('--to <iso>', 'readings received up to this time (inclusive)')
    .option('--expires <iso>', 'the grant is usable until then (default: in 7 days)')
    .action(async (o: Globals & { user: string; patient: string; from: string; to: string; expires?: string }) => {
      await output(o, async () => {
        const from = parseTime(o.from, '--from');
        const to = parseTime(o.to, '--to');
        if (to < from) throw new Error('--to is before --from');
        const h = await hospitalSide(o);
        try {
          const { AccessLogClient } = require('../contracts/clients') as typeof import('../contracts/clients');
          const { grantAccess } = require('../owner/grants') as typeof import('../owner/grants');
          const { explainChainError } = require('../contracts/refusals') as typeof import('../contracts/refusals');
          const now = (await h.provider.getBlock('latest'))!.timestamp;
          const expiry = o.expires ? Math.floor(parseTime(o.expires, '--expires') / 1000) : now + 7 * 86_400;
          if (expiry <= now) throw new Error(`--expires ${o.expires} is not in the future (chain time ${iso(now * 1000)})`);
          const r = await grantAccess(new AccessLogClient(h.signer, h.ctx.deployment.accessLog), h.tagKey, { hospital: h.ctx.hospital, user: o.user, patient: o.patient, from, to, expiry }).catch((err: unknown) => {
            throw explainChainError(err);
          });
          return { ok: true, grant: r.grantId, hospital: h.ctx.hospital, user: o.user, patient: o.patient, from: iso(from), to: iso(to), expires: iso(expiry * 1000), tx: r.txHash, block: r.blockNumber };
        } finally {
          h.close();
        }
      }, (r) => `granted: grant ${r.grant} lets ${r.user} read ${r.patient}'s readings from ${r.from} to ${r.to}, until ${r.expires} (tx ${r.tx}, block ${r.block})\n`);
    });

  where(data.command('revoke').description('as the hospital: revoke a grant (by id, or every active grant of --user for --patient); nothing more is served or released under it'))
    .option('--grant <id>', 'the grant id (mcps data audit lists them)')
    .option('--user <id>', 'with --patient: every active grant of this user for this patient')
    .option('--patient <pseudonym>')
    .action(async (o: Globals & { grant?: string; user?: string; patient?: string }) => {
      await output(o, async () => {
        const h = await hospitalSide(o);
        try {
          const { AccessLogClient } = require('../contracts/clients') as typeof import('../contracts/clients');
          const { patientScope } = require('../protocol/sharing/tags') as typeof import('../protocol/sharing/tags');
          const { explainChainError } = require('../contracts/refusals') as typeof import('../contracts/refusals');
          const al = new AccessLogClient(h.signer, h.ctx.deployment.accessLog);
          let ids: number[];
          if (o.grant !== undefined) {
            if (!/^\d+$/.test(o.grant)) throw new Error(`--grant ${o.grant}: a grant id (a number)`);
            ids = [Number(o.grant)];
          } else {
            if (!o.user || !o.patient) throw new Error('give --grant ID, or --user ID and --patient P');
            const scope = '0x' + Buffer.from(patientScope(h.tagKey, o.patient)).toString('hex');
            ids = (await al.grantEvents(h.ctx.deployment.deployBlock)).filter((g) => g.user === o.user && g.hospital === h.ctx.hospital && g.patientScope === scope && !g.revokedIn).map((g) => g.grantId);
            if (ids.length === 0) throw new Error(`no active grant of ${o.user} for ${o.patient}`);
          }
          const revoked: Array<{ grant: number; tx: string; block: number }> = [];
          for (const id of ids) {
            const r = await al.revoke(id).catch((err: unknown) => {
              throw explainChainError(err);
            });
            revoked.push({ grant: id, tx: r.txHash, block: r.blockNumber });
          }
          return { ok: true, revoked };
        } finally {
          h.close();
        }
      }, (r) => r.revoked.map((x) => `revoked grant ${x.grant} (tx ${x.tx}, block ${x.block})\n`).join(''));
    });

  where(data.command('fetch').description('as a data user: fetch a patient\'s readings under your grant, check every proof against the chain, decrypt, and write them (nothing is written unless every check passes)'))
    .requiredOption('--as <user>', 'your data user id (keys: users/<id>/ in --data, or userKeys in --config)')
    .requiredOption('--patient <pseudonym>')
    .requiredOption('--from <iso>')
    .requiredOption('--to <iso>')
    .requiredOption('--out <file>', 'where to write the readings (and their proof)')
    .addOption(new Option('--format <format>', 'json: readings and proof in one file; csv: a table, fhir: a FHIR R4 Bundle (docs/fhir.md); both with FILE.proof.json beside it').default('json'))
    .option('--grant <id>', 'the grant to use (default: the newest of yours that covers the range and the patient)')
    .option('--allow-gaps', 'write what was verified even if the answer is incomplete (the file then does not verify)')
    .action(async (o: Globals & { as: string; patient: string; from: string; to: string; out: string; format: string; grant?: string; allowGaps?: boolean }) => {
      await output(o, async () => {
        const format = (require('../data-user/formats') as typeof import('../data-user/formats')).outputFormat(o.format);
        const from = parseTime(o.from, '--from');
        const to = parseTime(o.to, '--to');
        if (to < from) throw new Error('--to is before --from');
        const ctx = Ctx().shareContext(o);
        if (!ctx.node) throw new Error('no chain node known: give node {id, url} in --config, or --data DIR of a running stack');
        if (!ctx.ownerService) throw new Error(`no key service known for ${ctx.hospital}: give ownerService in --config, or --data DIR of a running stack`);
        const { loadUserKeys } = require('../data-user/keys') as typeof import('../data-user/keys');
        const user = loadUserKeys(ctx.userKeys(o.as), o.as);
        const provider = Ctx().provider(ctx.rpcUrl, ctx.ca);
        const bar = !o.json && process.stderr.isTTY === true;
        const started = Date.now();
        try {
          const { ChainRegistry } = require('../contracts/chain-registry') as typeof import('../contracts/chain-registry');
          const { RegistryClient } = require('../contracts/clients') as typeof import('../contracts/clients');
          const { chainView } = require('../data-user/chain-view') as typeof import('../data-user/chain-view');
          const { fetchShare } = require('../data-user/fetch') as typeof import('../data-user/fetch');
          const { formatProgress } = require('./progress') as typeof import('./progress');
          const pairing = await userPairing();
          const r = await fetchShare({
            user,
            node: ctx.node,
            owner: { url: ctx.ownerService, hospital: ctx.hospital },
            deployment: ctx.deployment,
            provider,
            chain: chainView(provider, ctx.deployment),
            registry: new ChainRegistry(new RegistryClient(provider, ctx.deployment.registry)),
            pairing,
            patient: o.patient,
            from,
            to,
            ...(o.grant !== undefined ? { grantId: Number(o.grant) } : {}),
            ...(ctx.ca ? { ca: ctx.ca } : {}),
            onProgress: bar ? (stage, done, total) => process.stderr.write(`\r${stage.padEnd(8)} ${formatProgress({ done, total, startedAt: started }, Date.now(), true).replace(/ ETA.*/, '')}   `) : undefined,
          });
          if (bar) process.stderr.write('\n');
          const rep = r.bundle.report;
          const files = rep.verified || o.allowGaps ? format.write(o.out, r.bundle) : [];
          return { ok: rep.verified, verified: rep.verified, written: files, grant: r.bundle.grantId, patient: o.patient, from: iso(from), to: iso(to), readings: rep.readings, batches: rep.batches, slices: rep.slices, foreign: rep.foreign, gaps: rep.gaps, problems: rep.problems, access_tx: r.bundle.access.txHash, access_block: r.bundle.access.blockNumber, bytes_received: r.bytesReceived, seconds: (Date.now() - started) / 1000 };
        } finally {
          provider.destroy();
        }
      }, (r) => {
        let s = `${r.verified ? 'verified' : 'NOT VERIFIED'}: ${r.readings} readings of ${r.patient} from ${r.from} to ${r.to} (grant ${r.grant}; ${r.batches} batches, ${r.slices} slices checked against the chain; access recorded in tx ${r.access_tx}, block ${r.access_block})\n`;
        for (const g of r.gaps) s += `  gap: ${g}\n`;
        for (const p of r.problems) s += `  problem: ${p}\n`;
        s += r.written.length > 0 ? `written: ${r.written.join(', ')}\n` : 'nothing written (every check must pass; --allow-gaps writes what was verified)\n';
        return s;
      }, (r) => r.verified);
    });

  data
    .command('verify')
    .description('re-check a fetched file against the chain alone (anyone can: no key, no chain node): grant, access, anchors, signatures, hash chains, completeness, every reading')
    .argument('<file>', 'a file written by mcps data fetch (json, or csv or fhir with FILE.proof.json beside it)')
    .option('--data <dir>', 'the local stack (for its chain endpoint)')
    .option('--rpc <url>', 'the chain\'s JSON-RPC endpoint (default: the --data stack\'s)')
    .option('--ca <file>', 'a CA certificate (PEM) to trust for an https:// JSON-RPC endpoint, besides the system\'s')
    .option('--json', 'one JSON object on stdout')
    .action(async (file: string, o: Globals & { rpc?: string }) => {
      await output(o, async () => {
        const { detectFormat } = require('../data-user/formats') as typeof import('../data-user/formats');
        const { bundle, mismatch } = detectFormat(file).load(file);
        let rpc = o.rpc;
        const ctx = o.data ? Ctx().shareContext(o) : null;
        if (!rpc && ctx) rpc = ctx.rpcUrl;
        if (!rpc) throw new Error('give --rpc URL (the chain the file was fetched from) or --data DIR');
        const { loadCa } = require('../common/tls') as typeof import('../common/tls');
        const provider = Ctx().provider(rpc, ctx?.ca ?? (o.ca ? loadCa(o.ca, '--ca') : null));
        try {
          const net = await provider.getNetwork();
          if (Number(net.chainId) !== bundle.chain.chainId) throw new Error(`${rpc} is chain ${net.chainId}; the file was fetched from chain ${bundle.chain.chainId}`);
          const { chainView } = require('../data-user/chain-view') as typeof import('../data-user/chain-view');
          const { verifyBundle } = require('../data-user/verify-bundle') as typeof import('../data-user/verify-bundle');
          const rep = await verifyBundle(bundle, chainView(provider, bundle.chain), await userPairing());
          const problems = mismatch ? [...rep.problems, mismatch] : rep.problems;
          const verified = rep.verified && !mismatch;
          return { ok: verified, verified, file, user: bundle.user, patient: bundle.patient, grant: bundle.grantId, from: iso(bundle.from), to: iso(bundle.to), readings: rep.readings, batches: rep.batches, slices: rep.slices, foreign: rep.foreign, gaps: rep.gaps, problems, access_tx: bundle.access.txHash };
        } finally {
          provider.destroy();
        }
      }, (r) => {
        let s = `${r.verified ? 'verified' : 'NOT VERIFIED'}: ${r.file}: ${r.readings} readings of ${r.patient} from ${r.from} to ${r.to}, fetched by ${r.user} under grant ${r.grant} (access tx ${r.access_tx}); ${r.batches} batches, ${r.slices} slices checked against the chain\n`;
        for (const g of r.gaps) s += `  gap: ${g}\n`;
        for (const p of r.problems) s += `  problem: ${p}\n`;
        return s;
      }, (r) => r.verified);
    });

  where(data.command('audit').description('who accessed what, when, under which grant: the grants and accesses on chain for a patient (the hospital: needs its tag key) and/or a user'))
    .option('--patient <pseudonym>', 'a patient (the hospital\'s own audit)')
    .option('--user <id>', 'a data user')
    .action(async (o: Globals & { patient?: string; user?: string }) => {
      await output(o, async () => {
        if (!o.patient && !o.user) throw new Error('give --patient P and/or --user ID');
        const ctx = Ctx().shareContext(o);
        let scope: string | null = null;
        if (o.patient) {
          if (!ctx.ownerDir) throw new Error('--patient needs the hospital\'s tag key (ownerDir in --config, or --data DIR)');
          const { readKeyFile } = require('../common/key-file') as typeof import('../common/key-file');
          const { PATIENT_TAG_KEY_KIND } = require('../common/key-kinds') as typeof import('../common/key-kinds');
          const { ownerTagKeyPath } = require('../owner/keys') as typeof import('../owner/keys');
          const { patientScope } = require('../protocol/sharing/tags') as typeof import('../protocol/sharing/tags');
          scope = '0x' + Buffer.from(patientScope(readKeyFile(ownerTagKeyPath(ctx.ownerDir), PATIENT_TAG_KEY_KIND), o.patient)).toString('hex');
        }
        const provider = Ctx().provider(ctx.rpcUrl, ctx.ca);
        try {
          const { audit } = require('../data-user/audit') as typeof import('../data-user/audit');
          return { ok: true, ...(await audit(provider, ctx.deployment, { scope, user: o.user ?? null })) };
        } finally {
          provider.destroy();
        }
      }, (r) => (require('../data-user/audit') as typeof import('../data-user/audit')).formatAudit(r, o.patient ?? null, o.user ?? null));
    });

  const owner = program.command('owner').description('the hospital as data owner');
  owner
    .command('serve')
    .description('run the hospital\'s key service: releases to a registered data user exactly the slice keys an on-chain grant covers, after the access is recorded on chain')
    .requiredOption('--config <file>', 'the key service configuration (docs/sharing.md)')
    .action(async (o: { config: string }) => {
      const { loadOwnerServiceConfig } = require('../owner/config') as typeof import('../owner/config');
      const { runOwnerService } = require('../owner/serve') as typeof import('../owner/serve');
      const { createLogger, logFn } = require('../common/log') as typeof import('../common/log');
      const log = logFn(createLogger('owner', { destination: 2, pretty: process.stderr.isTTY === true }));
      try {
        const svc = await runOwnerService(loadOwnerServiceConfig(o.config), log);
        const stop = (): void => void svc.stop().then(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      } catch (err) {
        log('error', (err as Error).message);
        process.exitCode = 1;
      }
    });
}

/** mcl-wasm for the users' signature checks (several times faster than noble), noble if it does not load. */
async function userPairing(): Promise<import('../protocol/handshake').PairingBackend> {
  const { mclPairing } = require('../common/mcl-pairing') as typeof import('../common/mcl-pairing');
  const { noblePairing } = require('../protocol/handshake') as typeof import('../protocol/handshake');
  return mclPairing().catch(() => noblePairing);
}
