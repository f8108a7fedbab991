/**
 * bench/under-attack: honest gateways beside an attacker, against one chain node (issue 12).
 *
 *   npm run bench -- under-attack [seconds per phase = 20] [honest gateways = 4] [attack requests/s = 2500, 0 = as fast as it can]
 *
 * A real anvil, the contracts, one chain node in its own process (default limits) and G registered
 * gateways in this process, all on 127.0.0.1. Each honest gateway, every 250 ms, alternately
 * submits a batch over its session (chain-client.ts, as deployed) and makes a fresh handshake (M1,
 * M3) — the two things an attacker could deny it. Phase 1 measures them alone (the baseline, in
 * this run); phase 2 measures them again while one attacker process (bench/under-attack-roles,
 * from 127.0.0.2) floods the node with M1 replays, fresh M1s and forged M3s naming registered
 * gateways, oversized bodies and garbage records to the honest sessions' ids (which travel in
 * clear, so the bench hands them to the attacker). The node's RSS is sampled from /proc all along.
 * Latencies are wall time per operation; an operation succeeds when the batch's receipt checks or
 * the handshake completes.
 */
import { minedReceipt } from '../contracts/mined-receipt';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ethers } from 'ethers';
import { startAnvil } from '../contracts/anvil';
import { ChainRegistry } from '../contracts/chain-registry';
import { RegistryClient } from '../contracts/clients';
import { deployContracts, registerGateway, registerHospital, registerNode } from '../contracts/deploy';
import { loadChainNodeIdentity } from '../chain-node/identity';
import { ChainNodeClient } from '../gateway/chain/chain-client';
import { generateOwnerKeyPair, wrapEpochKey } from '../gateway/sealing/envelope';
import { mclPairing, mclSigner } from '../common/mcl-pairing';
import { buildBatch, encodeHeader, headerHash } from '../protocol/batch';
import { blsKeygen, blsPopProve, blsPublicKey, blsSign, SIG_DST } from '../protocol/bls';
import { InitiatorHandshake, signatureVerifier } from '../protocol/handshake';
import type { Reading } from '../protocol/reading';

const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuS(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

function rolesFile(): string {
  return join(__dirname, 'under-attack-roles.helpers.js');
}

/** Starts a role process and resolves with it and its READY line's rest. */
function startRole(args: string[]): Promise<{ child: ChildProcess; ready: string; lines: string[] }> {
  const child = spawn(process.execPath, [rolesFile(), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    let done = false;
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (!done && l.startsWith('READY')) {
        done = true;
        resolve({ child, ready: l.slice(5).trim(), lines });
      } else lines.push(l);
    });
    child.once('exit', (code) => {
      if (!done) reject(new Error(`${args[0]} process exited (${code}) before it was ready`));
    });
  });
}

interface Op {
  kind: 'batch' | 'handshake';
  ms: number;
  ok: boolean;
}

export async function main(args: string[]): Promise<void> {
  const seconds = Number(args[0] ?? 20);
  const gateways = Number(args[1] ?? 4);
  // The attacker holds a target rate (the goal: at least 2,000/s): on a small machine shared with
  // the node, an attacker burning every spare cycle measures CPU contention, not the node.
  const attackRate = Number(args[2] ?? 2500) || Infinity;
  const tickMs = 250;
  const dir = mkdtempSync(join(tmpdir(), 'mcps-under-attack-'));
  const anvil = await startAnvil();
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 100 });
  let nodeProc: ChildProcess | null = null;
  let attacker: ChildProcess | null = null;
  const onSignal = (): void => {
    attacker?.kill('SIGKILL');
    nodeProc?.kill('SIGKILL');
    void anvil.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const [admin, hosp] = await Promise.all([0, 1].map((i) => provider.getSigner(i)));
    const d = await deployContracts(admin!);
    await registerHospital(admin!, d.registry, 'h', await hosp!.getAddress());
    const nk = loadChainNodeIdentity(join(dir, 'node'));
    await minedReceipt(await admin!.sendTransaction({ to: nk.operatorAddress, value: ethers.parseEther('100') }));
    await registerNode(admin!, d.registry, { id: 'node-1', operator: nk.operatorAddress, blsPublicKey: nk.bls.publicKey, pop: nk.bls.proofOfPossession, x25519PublicKey: nk.x25519PublicKey });
    const ids = Array.from({ length: gateways }, (_, i) => `gw-${i}`);
    const sks: Record<string, Uint8Array> = {};
    for (const id of ids) {
      sks[id] = blsKeygen(random(48));
      await registerGateway(hosp!, d.registry, { id, hospital: 'h', blsPublicKey: blsPublicKey(sks[id]!), pop: blsPopProve(sks[id]!) });
    }
    const cfgPath = join(dir, 'node.json');
    writeFileSync(cfgPath, JSON.stringify({ dataDir: join(dir, 'node'), nodeId: 'node-1', host: '127.0.0.1', port: 0, chain: { rpcUrl: anvil.url, registry: d.registry, anchor: d.anchor } }));
    const n = await startRole(['node', cfgPath]);
    nodeProc = n.child;
    const url = `http://127.0.0.1:${n.ready}`;
    const nodePid = nodeProc.pid!;

    const verify = signatureVerifier(await mclPairing(), random, SIG_DST);
    const signer = await mclSigner();
    const owner = await generateOwnerKeyPair();
    const registry = new ChainRegistry(new RegistryClient(provider, d.registry));
    let phase: 'warm-up' | 'baseline' | 'attack' | 'done' = 'warm-up';
    const ops: Record<'baseline' | 'attack', Op[]> = { baseline: [], attack: [] };
    const rss: Record<'baseline' | 'attack', number[]> = { baseline: [], attack: [] };
    const sniffed = (sid: string | null): void => {
      if (sid && attacker && attacker.exitCode === null && attacker.stdin?.writable) attacker.stdin.write(`sid ${sid}\n`);
    };

    const honest = async (id: string): Promise<void> => {
      const client = new ChainNodeClient({ url, nodeId: 'node-1', selfId: id, blsSecretKey: sks[id]!, registry, verify, signer });
      const epoch = { id: 1, key: new Uint8Array(32).fill(7), wrapped: await wrapEpochKey(owner.publicKey, id, 1, new Uint8Array(32)) };
      let prev: Uint8Array = new Uint8Array(32);
      let seq = 0;
      for (let tick = 0; phase !== 'done'; tick++) {
        const started = performance.now();
        const kind: Op['kind'] = tick % 2 === 0 ? 'batch' : 'handshake';
        let ok = false;
        try {
          if (kind === 'batch') {
            const readings: Reading[] = Array.from({ length: 20 }, (_, k) => ({ deviceId: 'd', patient: 'p', kind: 'spo2', mdc: '150456', loinc: '2708-6', value: 95 + (k % 4), unit: '%', deviceTime: null, receivedAt: Date.now(), deviceSeq: seq * 20 + k, source: 'serial' }));
            const built = buildBatch({ gatewayId: id, seq: seq + 1, prevHash: prev, readings, tagKey: new Uint8Array(32).fill(1), epoch, sealedAt: Date.now(), watermark: 0 });
            const hh = headerHash(built.header);
            const sub = { v: 2 as const, gatewayId: id, header: hex(encodeHeader(built.header)), headerSignature: hex(blsSign(sks[id]!, hh)), envelope: Buffer.from(built.envelope).toString('base64') };
            await client.submit(sub, { seq: seq + 1, headerHash: hex(hh), root: hex(built.header.root) });
            seq++;
            prev = hh;
            sniffed(client.sessionId);
          } else {
            await registry.fetch('node-1');
            await registry.fetch(id);
            const hs = new InitiatorHandshake({ id, blsSecretKey: sks[id]!, nodeId: 'node-1', registry, now: Date.now, random, signer });
            const a = await fetch(`${url}/v1/handshake/m1`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(hs.start()) });
            if (a.status === 200) {
              const j = (await a.json()) as { handshake: string; m2: string };
              const { m3, session } = hs.onM2(Buffer.from(j.m2, 'base64'));
              const b = await fetch(`${url}/v1/handshake/m3`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ handshake: j.handshake, m3: Buffer.from(m3).toString('base64') }) });
              ok = b.status === 200 && ((await b.json()) as { session?: string }).session === session.sessionIdHex;
            } else await a.arrayBuffer();
          }
          if (kind === 'batch') ok = true;
        } catch {
          ok = false;
        }
        const ms = performance.now() - started;
        if (phase === 'baseline' || phase === 'attack') ops[phase].push({ kind, ms, ok });
        await sleep(Math.max(0, tickMs - ms));
      }
    };

    const sampler = setInterval(() => {
      if (phase === 'baseline' || phase === 'attack') rss[phase].push(rssMb(nodePid));
    }, 200);
    const workers = ids.map((id, i) => sleep((i * tickMs) / gateways).then(() => honest(id)));
    await sleep(3000);
    phase = 'baseline';
    const cpu0 = cpuS(nodePid);
    await sleep(seconds * 1000);
    const cpuBaseline = cpuS(nodePid) - cpu0;
    const nodeJson = JSON.stringify({ id: 'node-1', epoch: 1, blsPublicKey: hex(nk.bls.publicKey), x25519PublicKey: hex(nk.x25519PublicKey) });
    phase = 'warm-up';
    const att = await startRole(['attacker', url, nodeJson, String(seconds + 1), ids.join(','), String(attackRate)]);
    attacker = att.child;
    attacker.stdin?.on('error', () => undefined); // it exits on its own at the end of the phase
    const attackerDone = new Promise<string>((resolve) => attacker!.once('exit', () => resolve(att.lines.filter((l) => l.startsWith('{')).pop() ?? '{}')));
    await sleep(500);
    phase = 'attack';
    const cpu1 = cpuS(nodePid);
    await sleep(seconds * 1000);
    const cpuAttack = cpuS(nodePid) - cpu1;
    phase = 'done';
    clearInterval(sampler);
    await Promise.all(workers);
    const attackReport = JSON.parse(await attackerDone) as { requestsPerS?: number; sent?: number; failed?: number; counts?: Record<string, number>; statuses?: Record<string, number>; meanMsByKind?: Record<string, number> };

    const stat = (xs: Op[]) => ({
      ops: xs.length,
      success: xs.length ? xs.filter((o) => o.ok).length / xs.length : NaN,
      p50: pct(xs.map((o) => o.ms), 50),
      p99: pct(xs.map((o) => o.ms), 99),
    });
    const rows = [
      ['no attack, all', stat(ops.baseline)],
      ['no attack, batches', stat(ops.baseline.filter((o) => o.kind === 'batch'))],
      ['no attack, handshakes', stat(ops.baseline.filter((o) => o.kind === 'handshake'))],
      ['under attack, all', stat(ops.attack)],
      ['under attack, batches', stat(ops.attack.filter((o) => o.kind === 'batch'))],
      ['under attack, handshakes', stat(ops.attack.filter((o) => o.kind === 'handshake'))],
    ] as const;
    process.stdout.write(`\nchain node under attack: ${gateways} honest gateways (an operation every ${tickMs} ms each), ${seconds} s per phase\n\n`);
    process.stdout.write(`${'phase'.padEnd(26)}${'ops'.padStart(6)}${'success'.padStart(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}\n`);
    for (const [name, s] of rows) process.stdout.write(`${name.padEnd(26)}${String(s.ops).padStart(6)}${s.success.toFixed(4).padStart(10)}${r1(s.p50).toFixed(1).padStart(10)}${r1(s.p99).toFixed(1).padStart(10)}\n`);
    const base = stat(ops.baseline);
    const under = stat(ops.attack);
    const rssMax = Math.max(...rss.baseline, ...rss.attack);
    process.stdout.write(`\nattacker (one process, from 127.0.0.2): ${Math.round(attackReport.requestsPerS ?? 0)} requests/s, ${attackReport.sent ?? 0} sent (${attackReport.failed ?? 0} connection errors)\n`);
    process.stdout.write(`  by kind: ${JSON.stringify(attackReport.counts ?? {})}, mean ms: ${JSON.stringify(attackReport.meanMsByKind ?? {})}\n  node answers: ${JSON.stringify(attackReport.statuses ?? {})}\n`);
    process.stdout.write(`node CPU: ${(cpuBaseline / seconds).toFixed(2)} cores without attack, ${(cpuAttack / seconds).toFixed(2)} under attack (machine load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]} on ${availableParallelism()} cores)\n`);
    process.stdout.write(`node RSS: max ${r1(Math.max(...rss.baseline))} MB without attack, max ${r1(Math.max(...rss.attack))} MB under attack, last ${r1(rss.attack[rss.attack.length - 1] ?? NaN)} MB\n`);
    process.stdout.write(`honest p99 under attack / without: ${(under.p99 / base.p99).toFixed(2)} (goal <= 3); honest success under attack ${under.success.toFixed(4)} (goal >= 0.99)\n`);
    process.stdout.write(
      `${JSON.stringify({
        honest_success_rate: Number(under.success.toFixed(4)),
        honest_p99_ms: r1(under.p99),
        honest_p99_ms_no_attack: r1(base.p99),
        attack_requests_per_s: Math.round(attackReport.requestsPerS ?? 0),
        node_rss_mb_max: r1(rssMax),
      })}\n`,
    );
  } finally {
    attacker?.kill('SIGTERM');
    if (nodeProc && nodeProc.exitCode === null) {
      const exited = new Promise((r) => nodeProc!.once('exit', r));
      nodeProc.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (nodeProc.exitCode === null) nodeProc.kill('SIGKILL');
    }
    provider.destroy();
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
