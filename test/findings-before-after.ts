/**
 * Issue 12's findings F1–F7, before and after: each adversarial case of test/node-under-attack.test.ts
 * ported to the API the code had before the fixes (commit 4166893), run over real HTTP with a real
 * anvil against that code and against the current code, printing per finding whether the attack
 * works ("fails") or is stopped ("passes").
 *
 *   node dist/test/findings-before-after.js [REF]     (REF defaults to 4166893; ~3 minutes)
 *
 * It makes a temporary git worktree at REF, builds it (tsc and the contracts, node_modules linked
 * from this tree), runs the ports in one child process per tree, prints the table and removes the
 * worktree. Not part of `npm test` (the build of the old tree takes a minute of CPU).
 *
 * The ports call only what both trees have: runChainNode(cfg, log[, tuning]), the initiator, the
 * registry and deploy helpers, the batch builder, the gateway's ChainNodeClient, and the handshake
 * message/schedule functions from which an attacker makes its own M1 and M3 (the M3 layout follows
 * the tree: padded when the tree's messages module exports M3_PLAIN_LENGTH). The current tree's
 * types describe those calls; their shapes are the same in the old tree. The third argument of
 * runChainNode (the same tuning as the test's) is ignored by the old code, which has no such bounds.
 * Signature checks are counted by wrapping the tree's mcl-wasm pairing backend; registry lookups by
 * wrapping its RegistryClient.getEntry.
 */
import { minedReceipt } from '../contracts/mined-receipt';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ethers } from 'ethers';
import { rawRequest, validG1Point } from '../bench/attacker.helpers';

type Main = typeof import('../chain-node/main');
type Deploy = typeof import('../contracts/deploy');
type Anvil = typeof import('../contracts/anvil');
type Identity = typeof import('../chain-node/identity');
type ChainReg = typeof import('../contracts/chain-registry');
type Clients = typeof import('../contracts/clients');
type ClientMod = typeof import('../gateway/chain/chain-client');
type BatchMod = typeof import('../protocol/batch');
type Bls = typeof import('../protocol/bls');
type Hs = typeof import('../protocol/handshake');
type Messages = typeof import('../protocol/handshake/messages');
type Schedule = typeof import('../protocol/handshake/schedule');
type Prim = typeof import('../protocol/handshake/primitives');
type RegMod = typeof import('../protocol/handshake/registry');
type SessionMsgs = typeof import('../protocol/session-messages');
type Envelope = typeof import('../gateway/sealing/envelope');
type Mcl = typeof import('../common/mcl-pairing');
type RegistryRecord = import('../protocol/handshake').RegistryRecord;
type Session = import('../protocol/handshake').Session;
type BatchSubmission = import('../protocol/submission').BatchSubmission;

const ATTACKER = '127.0.0.2';
const REF = '4166893';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const concat = (...a: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(a));

/** The modules of one tree (its compiled dist/). */
function loadTree(root: string) {
  const r = <T>(p: string): T => require(join(root, 'dist', p)) as T;
  return {
    main: r<Main>('chain-node/main.js'),
    deploy: r<Deploy>('contracts/deploy.js'),
    anvil: r<Anvil>('contracts/anvil.js'),
    identity: r<Identity>('chain-node/identity.js'),
    chainReg: r<ChainReg>('contracts/chain-registry.js'),
    clients: r<Clients>('contracts/clients.js'),
    client: r<ClientMod>('gateway/chain/chain-client.js'),
    batch: r<BatchMod>('protocol/batch.js'),
    bls: r<Bls>('protocol/bls.js'),
    hs: r<Hs>('protocol/handshake/index.js'),
    messages: r<Messages & { M3_PLAIN_LENGTH?: number }>('protocol/handshake/messages.js'),
    schedule: r<Schedule>('protocol/handshake/schedule.js'),
    prim: r<Prim>('protocol/handshake/primitives.js'),
    reg: r<RegMod>('protocol/handshake/registry.js'),
    sessionMsgs: r<SessionMsgs>('protocol/session-messages.js'),
    envelope: r<Envelope>('gateway/sealing/envelope.js'),
    mcl: r<Mcl>('common/mcl-pairing.js'),
  };
}
type Tree = ReturnType<typeof loadTree>;

interface Outcome {
  id: string;
  what: string;
  passed: boolean;
  detail: string;
}

/** Signature checks of handshakes (DST of M3) seen by the tree's pairing backend, per round. */
const rounds: Array<{ size: number; ok: number; bad: number }> = [];
function countPairings(T: Tree): void {
  const orig = T.mcl.mclPairing;
  const mod = T.mcl as { mclPairing: Mcl['mclPairing'] };
  mod.mclPairing = async () => {
    const p = await orig();
    return {
      name: p.name,
      verifyBatch: (checks, rnd) => {
        const v = p.verifyBatch(checks, rnd);
        if (checks.some((c) => c.dst === T.schedule.HS_SIG_DST)) rounds.push({ size: checks.length, ok: v.filter((x) => x === 'ok').length, bad: v.filter((x) => x !== 'ok').length });
        return v;
      },
    };
  };
}
const spentChecks = (): number => rounds.reduce((a, r) => a + r.size, 0);

let lookups = 0;
function countLookups(T: Tree): void {
  const proto = T.clients.RegistryClient.prototype as { getEntry: (id: string) => Promise<unknown> };
  const orig = proto.getEntry;
  proto.getEntry = function (this: unknown, id: string) {
    lookups++;
    return orig.call(this, id);
  };
}

async function runPorts(root: string): Promise<Outcome[]> {
  const T = loadTree(root);
  countPairings(T);
  countLookups(T);
  const data = mkdtempSync(join(tmpdir(), 'mcps-findings-'));
  const anvil = await T.anvil.startAnvil();
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 50 });
  const stops: Array<() => Promise<unknown> | unknown> = [() => rmSync(data, { recursive: true, force: true }), () => anvil.stop(), () => provider.destroy()];
  const out: Outcome[] = [];
  const cleanup = async (): Promise<void> => {
    for (const s of stops.splice(0)) await Promise.resolve(s()).catch(() => undefined);
  };
  process.once('SIGTERM', () => void cleanup().finally(() => process.exit(143)));
  try {
    const [admin, hosp] = await Promise.all([0, 1].map((i) => provider.getSigner(i)));
    const d = await T.deploy.deployContracts(admin!);
    await T.deploy.registerHospital(admin!, d.registry, 'h', await hosp!.getAddress());
    const owner = await T.envelope.generateOwnerKeyPair();
    const tuning = {
      http: { handshakeBodyTimeoutMs: 500, maxConnectionsPerSource: 16 },
      registry: { maxRecords: 16, maxNegative: 4 },
      handshakes: { handshakesPerSourcePerS: 1e6, handshakeBurst: 1e6, maxPendingPerSource: 32, suspectVerificationsPerS: 0.001, maxFailedRecords: 8 },
    };

    /** A fresh registered node (own id, keys, data directory), its gateways, and the port's helpers. */
    const world = async (name: string, gateways: string[]) => {
      const dir = join(data, name);
      const keys = T.identity.loadChainNodeIdentity(dir);
      await minedReceipt(await admin!.sendTransaction({ to: keys.operatorAddress, value: ethers.parseEther('10') }));
      await T.deploy.registerNode(admin!, d.registry, { id: name, operator: keys.operatorAddress, blsPublicKey: keys.bls.publicKey, pop: keys.bls.proofOfPossession, x25519PublicKey: keys.x25519PublicKey });
      const sk: Record<string, Uint8Array> = {};
      for (const g of gateways) {
        sk[g] = T.bls.blsKeygen(random(48));
        await T.deploy.registerGateway(hosp!, d.registry, { id: g, hospital: 'h', blsPublicKey: T.bls.blsPublicKey(sk[g]!), pop: T.bls.blsPopProve(sk[g]!) });
      }
      const logs: string[] = [];
      const runChainNode = T.main.runChainNode as (cfg: Parameters<Main['runChainNode']>[0], log: Parameters<Main['runChainNode']>[1], tuning?: unknown) => ReturnType<Main['runChainNode']>;
      const node = await runChainNode({ dataDir: dir, nodeId: name, host: '127.0.0.1', port: 0, chain: { rpcUrl: anvil.url, registry: d.registry, anchor: d.anchor } }, (_l, m) => logs.push(m), tuning);
      stops.unshift(() => node.stop());
      const url = `http://127.0.0.1:${node.port}`;
      const nodeRecord: RegistryRecord = { id: name, role: 'node', epoch: 1, status: 'active', blsPublicKey: keys.bls.publicKey, x25519PublicKey: keys.x25519PublicKey };
      const registry = (): InstanceType<ChainReg['ChainRegistry']> => new T.chainReg.ChainRegistry(new T.clients.RegistryClient(provider, d.registry));
      const honestReg = registry();
      const seqs: Record<string, number> = {};
      const prevs: Record<string, Uint8Array> = {};
      const nextBatch = async (gw: string): Promise<{ sub: BatchSubmission; expect: { seq: number; headerHash: string; root: string } }> => {
        const seq = (seqs[gw] = (seqs[gw] ?? 0) + 1);
        const epoch = { id: 1, key: new Uint8Array(32).fill(2), wrapped: await T.envelope.wrapEpochKey(owner.publicKey, gw, 1, new Uint8Array(32)) };
        const readings = [{ deviceId: 'd', patient: 'p', kind: 'spo2' as const, mdc: '150456', loinc: '2708-6', value: 97, unit: '%', deviceTime: null, receivedAt: 1, deviceSeq: seq, source: 'serial' as const }];
        const built = T.batch.buildBatch({ gatewayId: gw, seq, prevHash: prevs[gw] ?? new Uint8Array(32), readings, tagKey: new Uint8Array(32).fill(1), epoch, sealedAt: Date.now(), watermark: 0 });
        const hh = T.batch.headerHash(built.header);
        prevs[gw] = hh;
        return { sub: { v: 2, gatewayId: gw, header: hex(T.batch.encodeHeader(built.header)), headerSignature: hex(T.bls.blsSign(sk[gw]!, hh)), envelope: Buffer.from(built.envelope).toString('base64') }, expect: { seq, headerHash: hex(hh), root: hex(built.header.root) } };
      };
      const honestM1 = async (gw: string): Promise<{ hs: InstanceType<Hs['InitiatorHandshake']>; handshake: string; m2: Uint8Array; status: number }> => {
        await honestReg.fetch(name);
        await honestReg.fetch(gw);
        const hs = new T.hs.InitiatorHandshake({ id: gw, blsSecretKey: sk[gw]!, nodeId: name, registry: honestReg, now: Date.now, random });
        const r1 = await fetch(`${url}/v1/handshake/m1`, { signal: AbortSignal.timeout(60_000), method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(hs.start()) });
        if (r1.status !== 200) return { hs, handshake: '', m2: new Uint8Array(0), status: r1.status };
        const a = (await r1.json()) as { handshake: string; m2: string };
        return { hs, handshake: a.handshake, m2: Buffer.from(a.m2, 'base64'), status: 200 };
      };
      const honestM3 = async (m: { hs: InstanceType<Hs['InitiatorHandshake']>; handshake: string; m2: Uint8Array }): Promise<{ status: number; sid: string; session: Session }> => {
        const { m3, session } = m.hs.onM2(m.m2);
        const r3 = await fetch(`${url}/v1/handshake/m3`, { signal: AbortSignal.timeout(60_000), method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ handshake: m.handshake, m3: Buffer.from(m3).toString('base64') }) });
        return { status: r3.status, sid: session.sessionIdHex, session };
      };
      const honestSession = async (gw: string): Promise<{ status: number; sid: string; session: Session | null }> => {
        const m = await honestM1(gw);
        return m.status === 200 ? honestM3(m) : { status: m.status, sid: '', session: null };
      };
      const sendOver = async (s: { sid: string; session: Session }, gw: string): Promise<number> => {
        const [seq, prev] = [seqs[gw], prevs[gw]];
        const b = await nextBatch(gw);
        const r = await fetch(`${url}/v1/sessions/${s.sid}`, { signal: AbortSignal.timeout(60_000), method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(s.session.seal(T.sessionMsgs.encodeSessionRequest({ type: 'submit-batch', submission: b.sub }))) });
        if (r.status !== 200) {
          [seqs[gw], prevs[gw]] = [seq!, prev!];
          return r.status;
        }
        const reply = T.sessionMsgs.decodeSessionReply(s.session.open(new Uint8Array(await r.arrayBuffer())));
        return reply.ok ? 200 : reply.status;
      };
      /** An attacker's own M1 (no key), and its M3 naming any id with any 48 bytes as σ. */
      const attacker = () => {
        const x = random(32);
        const m1 = T.messages.encodeM1({ nodeId: name, nodeEpoch: 1, time: Date.now(), nonce: random(16), ephemeral: T.prim.x25519PublicKey(x) });
        const m3For = (m2bytes: Uint8Array, id: string, sig: Uint8Array): Uint8Array => {
          const m2 = T.messages.decodeM2(m2bytes);
          const h2 = T.schedule.transcriptH2(m1, T.reg.recordHash(nodeRecord), m2.ephemeral, m2.nonce);
          const prk = T.schedule.extract(h2, T.prim.x25519(x, m2.ephemeral, 'attacker'), T.prim.x25519(x, nodeRecord.x25519PublicKey!, 'attacker'));
          const idBytes = Buffer.from(id, 'latin1');
          const padding = new Uint8Array(T.messages.M3_PLAIN_LENGTH === undefined ? 0 : 31 - idBytes.length);
          const epoch = new Uint8Array(4);
          new DataView(epoch.buffer).setUint32(0, 1);
          const { key, iv } = T.schedule.m3Keys(prk);
          return T.messages.joinM3(T.prim.aeadSeal(key, iv, concat(Uint8Array.of(idBytes.length), idBytes, padding, epoch, sig), concat(h2, m2.mac)));
        };
        return { m1, m3For };
      };
      const post = (path: string, body: Uint8Array | string, type = 'application/octet-stream') =>
        rawRequest(url, { path, localAddress: ATTACKER, headers: { 'content-type': type, 'content-length': Buffer.byteLength(body) }, chunks: [body] });
      /** The attacker's M1/M2, returning a function that sends its M3 naming `id`. */
      const forgedHalf = async (): Promise<((id: string, sig?: Uint8Array) => Promise<{ status: number; body: string }>) | null> => {
        const a = attacker();
        const r1 = await post('/v1/handshake/m1', a.m1);
        if (r1.status !== 200) return null;
        const { handshake, m2 } = JSON.parse(r1.body.toString()) as { handshake: string; m2: string };
        return async (id, sig = validG1Point(random)) => {
          const r3 = await post('/v1/handshake/m3', JSON.stringify({ handshake, m3: Buffer.from(a.m3For(Buffer.from(m2, 'base64'), id, sig)).toString('base64') }), 'application/json');
          return { status: r3.status, body: r3.body.toString() };
        };
      };
      const forgedM3 = async (id: string): Promise<{ status: number; body: string }> => {
        const send = await forgedHalf();
        return send ? send(id) : { status: 429, body: '' };
      };
      return { node, url, logs, sk, registry, honestM1, honestM3, honestSession, sendOver, nextBatch, attacker, post, forgedHalf, forgedM3 };
    };

    const port = async (id: string, what: string, fn: () => Promise<{ passed: boolean; detail: string }>): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const r = await Promise.race([fn(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no result within 180 s')), 180_000)))]);
        out.push({ id, what, ...r });
      } catch (err) {
        out.push({ id, what, passed: false, detail: `error: ${(err as Error).message.slice(0, 120)}` });
      } finally {
        clearTimeout(timer);
      }
      process.stderr.write(`  ${id}: ${out[out.length - 1]!.passed ? 'passes' : 'fails'} (${out[out.length - 1]!.detail})\n`);
    };

    await port('F1', 'one M1 replayed 1100 times; then an honest handshake', async () => {
      const w = await world('node-f1', ['f1-gw']);
      const m1 = w.attacker().m1;
      const answers = new Set<string>();
      for (let i = 0; i < 1100; i++) answers.add(`${(await w.post('/v1/handshake/m1', m1)).status}`);
      const s = await w.honestSession('f1-gw');
      const batch = s.session ? await w.sendOver({ sid: s.sid, session: s.session }, 'f1-gw') : 0;
      return { passed: s.status === 200 && batch === 200, detail: `replies to the copies: ${[...answers].join('/')}; honest handshake ${s.status}, batch ${batch || '-'}` };
    });

    await port('F1', '1100 fresh M1s from one source; then an honest handshake', async () => {
      const w = await world('node-f1b', ['f1b-gw']);
      const answers = new Map<number, number>();
      for (let i = 0; i < 1100; i++) {
        const st = (await w.post('/v1/handshake/m1', w.attacker().m1)).status;
        answers.set(st, (answers.get(st) ?? 0) + 1);
      }
      const s = await w.honestSession('f1b-gw');
      return { passed: s.status === 200, detail: `attacker's M1s answered ${[...answers].map(([k, v]) => `${v}x${k}`).join(' ')}; honest M1/M3 ${s.status}` };
    });

    await port('F2', '16 forged M3s (valid G1 point as σ) naming a registered gateway', async () => {
      const w = await world('node-f2', ['f2-gw']);
      const before = spentChecks();
      const st: number[] = [];
      for (let i = 0; i < 16; i++) st.push((await w.forgedM3('f2-gw')).status);
      const spent = spentChecks() - before;
      return { passed: spent <= 4 && st.every((x) => x === 400 || x === 429), detail: `${spent} signature checks spent on them; answers ${[...new Set(st)].join('/')}` };
    });

    await port('F2b', '6 forged M3s sent with 6 honest ones (group-commit rounds)', async () => {
      const w = await world('node-f2b', ['f2b-gw1', 'f2b-gw2']);
      const first = await w.honestSession('f2b-gw1'); // the honest source has handshaken before
      let mixed = 0;
      const honestOk: number[] = [];
      for (let rep = 0; rep < 3; rep++) {
        const forged = await Promise.all(Array.from({ length: 6 }, () => w.forgedHalf()));
        const honest = await Promise.all(Array.from({ length: 6 }, (_, i) => w.honestM1(i % 2 ? 'f2b-gw1' : 'f2b-gw2')));
        const from = rounds.length;
        const results = await Promise.all([...honest.map((h) => w.honestM3(h).then((r) => r.status)), ...forged.map((f) => (f ? f('f2b-gw1').then((r) => -r.status) : Promise.resolve(-429)))]);
        honestOk.push(results.filter((x) => x === 200).length);
        mixed += rounds.slice(from).filter((r) => r.ok > 0 && r.bad > 0).length;
      }
      return { passed: first.status === 200 && mixed === 0 && honestOk.every((n) => n === 6), detail: `${mixed} verification rounds held honest and forged signatures together (bisected); honest handshakes ok: ${honestOk.join(',')} of 6` };
    });

    await port('F3', 'declared 30 MiB bodies (M1, and a record for an unknown session), no byte sent', async () => {
      const w = await world('node-f3', []);
      const ask = (path: string) => rawRequest(w.url, { path, localAddress: ATTACKER, headers: { 'content-type': 'application/octet-stream', 'content-length': 30 * 1024 * 1024 }, end: false, timeoutMs: 3000 }).then((r) => `${r.status}`, () => 'no answer in 3 s (waiting for the body)');
      const [m1, rec] = [await ask('/v1/handshake/m1'), await ask(`/v1/sessions/${'ab'.repeat(16)}`)];
      const slow = await rawRequest(w.url, { path: '/v1/handshake/m1', localAddress: ATTACKER, headers: { 'content-type': 'application/octet-stream', 'content-length': 94 }, chunks: [new Uint8Array(10)], end: false, timeoutMs: 4000 }).then((r) => `${r.status}`, () => 'no answer in 4 s');
      return { passed: m1 === '413' && rec === '401' && slow === '408', detail: `M1: ${m1}; unknown session: ${rec}; M1 body stalled after 10 bytes: ${slow}` };
    });

    await port('F4', 'M3s naming 30 distinct unregistered ids, then the first 10 again', async () => {
      const w = await world('node-f4', []);
      for (let i = 0; i < 30; i++) await w.forgedM3(`nobody-${i}`);
      const before = lookups;
      for (let i = 0; i < 10; i++) await w.forgedM3(`nobody-${i}`);
      const retained = 10 - (lookups - before);
      return { passed: retained <= 4, detail: `${retained} of the 10 still cached after 30 distinct ids (bound given: 4 unknown ids)` };
    });

    await port('F5', "M3 naming '-gw' (wire-valid before, refused by contracts/ids.ts)", async () => {
      const w = await world('node-f5', []);
      const before = w.logs.length;
      const r = await w.forgedM3('-gw');
      const stack = w.logs.slice(before).some((l) => /internal error|RangeError/.test(l));
      return { passed: r.status === 400 && r.body.includes('handshake refused') && !stack, detail: `answered ${r.status} ${r.body.slice(0, 40)}${stack ? '; a stack trace logged' : ''}` };
    });

    await port('F6', "one garbage record POSTed to an honest session's id", async () => {
      const w = await world('node-f6', ['f6-gw']);
      const s = await w.honestSession('f6-gw');
      const ss = { sid: s.sid, session: s.session! };
      const first = await w.sendOver(ss, 'f6-gw');
      const garbage = (await w.post(`/v1/sessions/${s.sid}`, random(64))).status;
      const next = await w.sendOver(ss, 'f6-gw');
      return { passed: first === 200 && next === 200, detail: `garbage answered ${garbage}; the gateway's next record: ${next}` };
    });

    await port('F7', 'the gateway after its node was revoked since the handshake', async () => {
      const w = await world('node-f7', ['f7-gw']);
      // Between gateway and node, a relay that counts the session records the gateway sends.
      let records = 0;
      const relay = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if ((req.url ?? '').startsWith('/v1/sessions/')) records++;
          void fetch(w.url + (req.url ?? ''), { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' }, body: Buffer.concat(chunks) }).then(async (up) => {
            res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' });
            res.end(Buffer.from(await up.arrayBuffer()));
          }, () => res.destroy());
        });
      });
      await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
      stops.unshift(() => new Promise((r) => relay.close(r)));
      const reg = w.registry();
      const client = new T.client.ChainNodeClient({ url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`, nodeId: 'node-f7', selfId: 'f7-gw', blsSecretKey: w.sk['f7-gw']!, registry: reg });
      const b1 = await w.nextBatch('f7-gw');
      await client.submit(b1.sub, b1.expect);
      await T.deploy.revokeParty(admin!, d.registry, 'node-f7');
      reg.invalidate('node-f7'); // as the gateway's cache lifetime passing would
      const sent = records;
      const b2 = await w.nextBatch('f7-gw');
      const r = await client.submit(b2.sub, b2.expect).then(() => 'anchored', (e: unknown) => `refused: ${(e as Error).message.slice(0, 70)}`);
      return { passed: records === sent, detail: `the gateway sent ${records - sent} record(s) over the old session; its batch ${r}` };
    });

    await port('F7', "the initiator's start() when its own record is revoked", async () => {
      const w = await world('node-f7b', ['f7b-gw']);
      await T.deploy.revokeParty(hosp!, d.registry, 'f7b-gw');
      const reg = w.registry();
      await reg.fetch('node-f7b');
      await reg.fetch('f7b-gw');
      const hs = new T.hs.InitiatorHandshake({ id: 'f7b-gw', blsSecretKey: w.sk['f7b-gw']!, nodeId: 'node-f7b', registry: reg, now: Date.now, random });
      const r = (() => {
        try {
          hs.start();
          return 'made an M1';
        } catch (e) {
          return `refused (${(e as Error).message})`;
        }
      })();
      return { passed: r.startsWith('refused'), detail: r };
    });

    await port('F7', 'identity hiding: M3 length for a 1- and a 31-character id; /v1/health', async () => {
      const long = 'g'.repeat(31);
      const w = await world('node-f7c', ['g', long]);
      const lens: number[] = [];
      for (const g of ['g', long]) {
        const m = await w.honestM1(g);
        lens.push(m.hs.onM2(m.m2).m3.length);
      }
      const health = Object.keys((await (await fetch(`${w.url}/v1/health`)).json()) as object);
      return { passed: lens[0] === lens[1] && !health.includes('counters'), detail: `M3 ${lens.join(' vs ')} bytes; health keys ${health.join(',')}` };
    });
  } finally {
    await cleanup();
  }
  return out;
}

/** Runs the ports against the tree at `root` in a child process; its last stdout line is the JSON result. */
let current: import('node:child_process').ChildProcess | null = null;
function runChild(root: string): Promise<Outcome[]> {
  return new Promise((resolveP, reject) => {
    const child = (current = spawn(process.execPath, [__filename, '--ports', root], { stdio: ['ignore', 'pipe', 'inherit'] }));
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolveP(JSON.parse(last) as Outcome[]);
      } catch {
        reject(new Error(`ports against ${root} ended with code ${code}: ${stdout.slice(-500)}`));
      }
    });
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--ports') {
    const out = await runPorts(process.argv[3]!);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const ref = process.argv[2] ?? REF;
  const here = resolve(__dirname, '..', '..');
  const old = mkdtempSync(join(tmpdir(), 'mcps-prefix-'));
  rmSync(old, { recursive: true });
  const git = (...a: string[]): string => execFileSync('git', ['-C', here, ...a], { encoding: 'utf8' });
  const commit = git('rev-parse', '--short', ref).trim();
  process.stderr.write(`worktree of ${commit} at ${old}; building it (tsc, contracts)\n`);
  git('worktree', 'add', '--detach', old, commit);
  const onSignal = (): void => {
    current?.kill('SIGTERM');
    current?.once('exit', () => {
      git('worktree', 'remove', '--force', old);
      process.exit(130);
    });
    if (!current) {
      git('worktree', 'remove', '--force', old);
      process.exit(130);
    }
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    symlinkSync(join(here, 'node_modules'), join(old, 'node_modules'));
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: old, stdio: ['ignore', 2, 2] });
    execFileSync(process.execPath, ['dist/cli/build-assets.js'], { cwd: old, stdio: ['ignore', 2, 2] });
    process.stderr.write(`ports against ${commit} (before the fixes):\n`);
    const before = await runChild(old);
    process.stderr.write(`ports against the current tree (${git('rev-parse', '--short', 'HEAD').trim()}):\n`);
    const after = await runChild(here);
    const rows = before.map((b, i) => ({ b, a: after[i]! }));
    const w = Math.max(...rows.map((r) => r.b.what.length));
    process.stdout.write(`finding  ${'case'.padEnd(w)}  before (${commit})  after\n`);
    for (const { b, a } of rows) process.stdout.write(`${b.id.padEnd(7)}  ${b.what.padEnd(w)}  ${(b.passed ? 'passes before' : 'fails before').padEnd(12 + commit.length)}  ${a.passed ? 'passes after' : 'FAILS AFTER'}\n         before: ${b.detail}\n         after:  ${a.detail}\n`);
    const ok = rows.every((r) => !r.b.passed && r.a.passed);
    process.stdout.write(`${JSON.stringify({ ref: commit, cases: rows.length, fail_before: rows.filter((r) => !r.b.passed).length, pass_after: rows.filter((r) => r.a.passed).length })}\n`);
    if (!ok) process.exitCode = 1;
  } finally {
    git('worktree', 'remove', '--force', old);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
