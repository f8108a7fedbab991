// The chain node under attack (issue 12's audit, findings F1–F7), over real HTTP with a real anvil:
// an anonymous attacker (from its own source address, 127.0.0.2) does what the audit did, and
// honest gateways (from 127.0.0.1) must still be served. Each case failed on the code before the fix.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ethers } from 'ethers';
import { startAnvil } from '../contracts/anvil';
import { ChainRegistry } from '../contracts/chain-registry';
import { RegistryClient } from '../contracts/clients';
import { deployContracts, registerGateway, registerHospital, registerNode } from '../contracts/deploy';
import { loadChainNodeIdentity } from '../chain-node/identity';
import { runChainNode, type ChainNodeTuning, type RunningChainNode } from '../chain-node/main';
import { ChainNodeClient } from '../gateway/chain/chain-client';
import { buildBatch, encodeHeader, headerHash } from '../protocol/batch';
import { blsKeygen, blsPopProve, blsPublicKey, blsSign } from '../protocol/bls';
import type { RegistryRecord } from '../protocol/handshake';
import type { Reading } from '../protocol/reading';
import type { BatchSubmission } from '../protocol/submission';
import { generateOwnerKeyPair, wrapEpochKey } from '../gateway/sealing/envelope';
import { attackerHandshake, rawRequest, validG1Point } from '../bench/attacker.helpers';

const ATTACKER = '127.0.0.2';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

t.test('the chain node under attack', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-attack-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const anvil = await startAnvil();
  t.teardown(() => anvil.stop());
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 50 });
  t.teardown(() => provider.destroy());
  const [admin, hosp] = await Promise.all([0, 1].map((i) => provider.getSigner(i)));
  const d = await deployContracts(admin!);
  await registerHospital(admin!, d.registry, 'h', await hosp!.getAddress());
  const nodeKeys = loadChainNodeIdentity(join(data, 'node'));
  await (await admin!.sendTransaction({ to: nodeKeys.operatorAddress, value: ethers.parseEther('10') })).wait();
  await registerNode(admin!, d.registry, { id: 'node-1', operator: nodeKeys.operatorAddress, blsPublicKey: nodeKeys.bls.publicKey, pop: nodeKeys.bls.proofOfPossession, x25519PublicKey: nodeKeys.x25519PublicKey });
  const gsk: Record<string, Uint8Array> = {};
  for (const id of ['gw-1', 'gw-2']) {
    gsk[id] = blsKeygen(random(48));
    await registerGateway(hosp!, d.registry, { id, hospital: 'h', blsPublicKey: blsPublicKey(gsk[id]!), pop: blsPopProve(gsk[id]!) });
  }
  const nodeRecord: RegistryRecord = { id: 'node-1', role: 'node', epoch: 1, status: 'active', blsPublicKey: nodeKeys.bls.publicKey, x25519PublicKey: nodeKeys.x25519PublicKey };
  const cfg = { dataDir: join(data, 'node'), nodeId: 'node-1', host: '127.0.0.1', port: 0, chain: { rpcUrl: anvil.url, registry: d.registry, anchor: d.anchor } };
  const logs: string[] = [];
  const tuning: ChainNodeTuning = { http: { handshakeBodyTimeoutMs: 500, maxConnectionsPerSource: 16 }, registry: { maxRecords: 16, maxNegative: 4 } };
  const node: RunningChainNode = await runChainNode(cfg, (_l, m) => logs.push(m), tuning);
  t.teardown(() => node.stop());
  const url = `http://127.0.0.1:${node.port}`;

  const owner = await generateOwnerKeyPair();
  const prevs: Record<string, Uint8Array> = { 'gw-1': new Uint8Array(32), 'gw-2': new Uint8Array(32) };
  const seqs: Record<string, number> = { 'gw-1': 0, 'gw-2': 0 };
  const nextBatch = async (gw: string): Promise<{ sub: BatchSubmission; expect: { seq: number; headerHash: string; root: string } }> => {
    const seq = ++seqs[gw]!;
    const epoch = { id: 1, key: new Uint8Array(32).fill(2), wrapped: await wrapEpochKey(owner.publicKey, gw, 1, new Uint8Array(32)) };
    const readings: Reading[] = [{ deviceId: 'd', patient: 'p', kind: 'spo2', mdc: '150456', loinc: '2708-6', value: 97, unit: '%', deviceTime: null, receivedAt: 1, deviceSeq: seq, source: 'serial' }];
    const built = buildBatch({ gatewayId: gw, seq, prevHash: prevs[gw]!, readings, tagKey: new Uint8Array(32).fill(1), epoch, sealedAt: Date.now(), watermark: 0 });
    const hh = headerHash(built.header);
    prevs[gw] = hh;
    return { sub: { v: 2, gatewayId: gw, header: hex(encodeHeader(built.header)), headerSignature: hex(blsSign(gsk[gw]!, hh)), envelope: Buffer.from(built.envelope).toString('base64') }, expect: { seq, headerHash: hex(hh), root: hex(built.header.root) } };
  };
  const gateway = (gw: string): ChainNodeClient => new ChainNodeClient({ url, nodeId: 'node-1', selfId: gw, blsSecretKey: gsk[gw]!, registry: new ChainRegistry(new RegistryClient(provider, d.registry)) });
  const honestSubmit = async (t: Test, client: ChainNodeClient, gw: string): Promise<void> => {
    const b = await nextBatch(gw);
    const r = await client.submit(b.sub, b.expect);
    t.equal(r.receipt.seq, b.expect.seq, `${gw}'s batch ${b.expect.seq} is anchored`);
  };
  /** An attacker's own M1/M2 over HTTP, then its M3 naming `id` with a valid G1 point as σ. */
  const forgedM3 = async (id: string, epoch = 1, sig = validG1Point(random)): Promise<{ status: number; body: string }> => {
    const a = attackerHandshake(nodeRecord, Date.now(), random);
    const r1 = await rawRequest(url, { path: '/v1/handshake/m1', localAddress: ATTACKER, headers: { 'content-type': 'application/octet-stream', 'content-length': a.m1.length }, chunks: [a.m1] });
    if (r1.status !== 200) return { status: r1.status, body: r1.body.toString() };
    const { handshake, m2 } = JSON.parse(r1.body.toString()) as { handshake: string; m2: string };
    const body = JSON.stringify({ handshake, m3: Buffer.from(a.m3For(Buffer.from(m2, 'base64'), id, epoch, sig)).toString('base64') });
    const r3 = await rawRequest(url, { path: '/v1/handshake/m3', localAddress: ATTACKER, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, chunks: [body] });
    return { status: r3.status, body: r3.body.toString() };
  };

  t.test('F3: bodies are bounded per route before they are read; slow bodies time out', async (t) => {
    const big = await rawRequest(url, { path: '/v1/handshake/m1', localAddress: ATTACKER, headers: { 'content-type': 'application/octet-stream', 'content-length': 30 * 1024 * 1024 }, end: false, timeoutMs: 3000 });
    t.equal(big.status, 413, 'a declared 30 MiB M1 is refused before any byte is read');
    const bigM3 = await rawRequest(url, { path: '/v1/handshake/m3', localAddress: ATTACKER, headers: { 'content-type': 'application/json', 'content-length': 1024 * 1024 }, end: false, timeoutMs: 3000 });
    t.equal(bigM3.status, 413, 'a declared 1 MiB M3 request is refused before any byte is read');
    const unknown = await rawRequest(url, { path: `/v1/sessions/${'ab'.repeat(16)}`, localAddress: ATTACKER, headers: { 'content-type': 'application/octet-stream', 'content-length': 30 * 1024 * 1024 }, end: false, timeoutMs: 3000 });
    t.equal(unknown.status, 401, 'a record for an unknown session is answered before its body is read');
    const chunked = await rawRequest(url, { path: '/v1/handshake/m1', localAddress: ATTACKER, headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, chunks: [new Uint8Array(100), new Uint8Array(100)], timeoutMs: 3000 });
    t.equal(chunked.status, 413, 'a body without a declared length is counted as it streams');
    const slow = await rawRequest(url, { path: '/v1/handshake/m1', localAddress: ATTACKER, headers: { 'content-type': 'application/octet-stream', 'content-length': 94 }, chunks: [new Uint8Array(10)], end: false, timeoutMs: 4000 });
    t.equal(slow.status, 408, 'a body that does not arrive within the deadline is answered 408');
    t.same(await (await fetch(`${url}/v1/health`)).json(), { nodeId: 'node-1', ok: true }, 'the node is healthy and health shows no activity counters (F7)');
  });

  t.test('F3: connections per source are bounded; other sources are still served', async (t) => {
    const held = await Promise.allSettled(
      Array.from({ length: 24 }, () => rawRequest(url, { path: '/v1/handshake/m1', localAddress: ATTACKER, headers: { 'content-length': 94 }, end: false, timeoutMs: 2000 })),
    );
    const dropped = held.filter((r) => r.status === 'rejected' && /ECONNRESET|socket hang up/.test(String(r.reason))).length;
    t.ok(dropped >= 24 - 16, `connections past the bound were closed at once (${dropped} of 24)`);
    await honestSubmit(t, gateway('gw-1'), 'gw-1');
  });

  t.test('F5: an id the wire used to accept but the registry refuses gets the uniform refusal', async (t) => {
    for (const id of ['-gw', '.gw', '_gw']) {
      const before = logs.length;
      const r = await forgedM3(id);
      t.same({ status: r.status, body: JSON.parse(r.body) as unknown }, { status: 400, body: { error: 'handshake refused' } }, `M3 naming "${id}"`);
      const added = logs.slice(before);
      t.notOk(added.some((l) => /internal error|RangeError/.test(l)), 'no internal error and no stack trace');
      t.ok(added.some((l) => /m3\.bad-id/.test(l)), 'refused at decode as m3.bad-id');
    }
  });

  t.test('F4: distinct unknown ids cannot grow the registry cache or evict registered parties', async (t) => {
    await honestSubmit(t, gateway('gw-2'), 'gw-2');
    for (let i = 0; i < 30; i++) {
      const r = await forgedM3(`nobody-${i}`);
      t.equal(r.status, 400, `M3 naming unregistered nobody-${i} is refused`);
    }
    t.ok(node.registry.size <= 16 + 4, `cache bounded (${node.registry.size} entries)`);
    const lookups = node.registry.chainLookups;
    t.ok(node.registry.lookup('gw-2'), 'a registered gateway is still cached after the flood');
    await forgedM3('nobody-29');
    t.equal(node.registry.chainLookups, lookups, 'a recent unknown id is answered from the negative cache');
  });
});
