// The chain node over real HTTP with a real anvil: batches only inside handshake sessions, sessions
// re-established after a node restart, data users may not submit, refusals are uniform.
import { minedReceipt } from '../contracts/mined-receipt';
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ethers } from 'ethers';
import { ChainRegistry } from '../contracts/chain-registry';
import { RegistryClient } from '../contracts/clients';
import { registerGateway, registerNode, registerUser } from '../contracts/deploy';
import { loadChainNodeIdentity } from '../chain-node/identity';
import { runChainNode } from '../chain-node/main';
import { ChainNodeClient, SubmitError } from '../gateway/chain/chain-client';
import { InitiatorHandshake } from '../protocol/handshake';
import { generateOwnerKeyPair, wrapEpochKey } from '../gateway/sealing/envelope';
import { buildBatch, encodeHeader, headerHash } from '../protocol/batch';
import { blsKeygen, blsPopProve, blsPublicKey, blsSign } from '../protocol/bls';
import { verifyFold } from '../protocol/fold';
import type { Reading } from '../protocol/reading';
import type { BatchSubmission } from '../protocol/submission';
import { chainWithHospital } from './chain.helpers';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

t.test('chain node API', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-node-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const { anvil, provider, admin, hosp, d } = await chainWithHospital(t);
  const nodeId = loadChainNodeIdentity(join(data, 'node'));
  await minedReceipt(await admin.sendTransaction({ to: nodeId.operatorAddress, value: ethers.parseEther('10') }));
  await registerNode(admin, d.registry, { id: 'node-1', operator: nodeId.operatorAddress, blsPublicKey: nodeId.bls.publicKey, pop: nodeId.bls.proofOfPossession, x25519PublicKey: nodeId.x25519PublicKey });
  const gsk = blsKeygen(new Uint8Array(randomBytes(48)));
  await registerGateway(hosp, d.registry, { id: 'gw-1', hospital: 'h', blsPublicKey: blsPublicKey(gsk), pop: blsPopProve(gsk) });
  const usk = blsKeygen(new Uint8Array(randomBytes(48)));
  await registerUser(hosp, d.registry, { id: 'dr-lee', hospital: 'h', blsPublicKey: blsPublicKey(usk), pop: blsPopProve(usk), encryptionPublicKey: new Uint8Array(randomBytes(32)) });
  const cfg = { dataDir: join(data, 'node'), nodeId: 'node-1', host: '127.0.0.1', port: 0, chain: { rpcUrl: anvil.url, registry: d.registry, anchor: d.anchor } };
  const logs: string[] = [];
  let node = await runChainNode(cfg, (_l, m) => logs.push(m));
  t.teardown(() => node.stop());

  const owner = await generateOwnerKeyPair();
  const epoch = { id: Date.now(), key: new Uint8Array(randomBytes(32)), wrapped: await wrapEpochKey(owner.publicKey, 'gw-1', Date.now(), new Uint8Array(32)) };
  let prev: Uint8Array = new Uint8Array(32);
  const batch = async (seq: number): Promise<{ sub: BatchSubmission; expect: { seq: number; headerHash: string; root: string } }> => {
    const readings: Reading[] = [{ deviceId: 'd', patient: 'p', kind: 'spo2', mdc: '150456', loinc: '2708-6', value: 97, unit: '%', deviceTime: null, receivedAt: 1, deviceSeq: seq, source: 'serial' }];
    const built = buildBatch({ gatewayId: 'gw-1', seq, prevHash: prev, readings, tagKey: new Uint8Array(32).fill(1), epoch, sealedAt: Date.now(), watermark: 0 });
    const hh = headerHash(built.header);
    prev = hh;
    return { sub: { v: 2, gatewayId: 'gw-1', header: hex(encodeHeader(built.header)), headerSignature: hex(blsSign(gsk, hh)), envelope: Buffer.from(built.envelope).toString('base64') }, expect: { seq, headerHash: hex(hh), root: hex(built.header.root) } };
  };
  const registry = () => new ChainRegistry(new RegistryClient(provider, d.registry));
  const client = new ChainNodeClient({ url: node.url, nodeId: 'node-1', selfId: 'gw-1', blsSecretKey: gsk, registry: registry() });

  const b1 = await batch(1);
  const r1 = await client.submit(b1.sub, b1.expect);
  t.match(r1.receipt, { seq: 1, gatewayId: 'gw-1', status: 'anchored' });
  t.ok(r1.receipt.fold && verifyFold(Buffer.from(b1.expect.headerHash, 'hex'), r1.receipt.fold), "the receipt's fold path proves the gateway's own batch");
  const b2 = await batch(2);
  await client.submit(b2.sub, b2.expect);
  t.equal(client.counters.handshakes, 1, 'one handshake, a session for many batches');
  t.same(await client.submit(b2.sub, b2.expect), await client.submit(b2.sub, b2.expect), 'a retried batch gets the same receipt (idempotent)');

  t.test('no unauthenticated path', async (t) => {
    const post = (path: string, body: string, type = 'application/json') => fetch(node.url + path, { method: 'POST', headers: { 'content-type': type }, body });
    t.equal((await post('/v1/batches', JSON.stringify(b2.sub))).status, 404, 'no plain batch endpoint');
    t.equal((await post(`/v1/sessions/${'ab'.repeat(16)}`, 'x', 'application/octet-stream')).status, 401, 'an unknown session');
    const bad = await post('/v1/handshake/m1', 'garbage', 'application/octet-stream');
    t.equal(bad.status, 400);
    t.same(await bad.json(), { error: 'handshake refused' }, 'one uniform refusal to the peer');
    t.ok(logs.some((l) => /handshake M1 refused: m1\.(truncated|version)/.test(l)), 'the precise reason is in the local log');
  });

  t.test('a data user authenticates but may not submit batches', async (t) => {
    const asUser = new ChainNodeClient({ url: node.url, nodeId: 'node-1', selfId: 'dr-lee', blsSecretKey: usk, registry: registry() });
    const b = await batch(3);
    prev = Uint8Array.from(Buffer.from(b2.expect.headerHash, 'hex'));
    await t.rejects(asUser.submit(b.sub, b.expect), /403 session peer dr-lee \(user\) may not submit batches/);
  });

  t.test('a gateway with a key the registry does not list is refused', async (t) => {
    const rogue = new ChainNodeClient({ url: node.url, nodeId: 'node-1', selfId: 'gw-1', blsSecretKey: blsKeygen(new Uint8Array(randomBytes(48))), registry: registry() });
    const err = await rogue.submit(b2.sub, b2.expect).then(() => null, (e: unknown) => e);
    t.ok(err instanceof SubmitError && /HTTP 400/.test(err.message), 'the handshake is refused');
    t.ok(logs.some((l) => /m3\.bad-signature/.test(l)));
  });

  t.test('concurrent handshakes are verified together; a bad one among them is refused alone', async (t) => {
    const reg = registry();
    await reg.fetch('node-1');
    await reg.fetch('gw-1');
    const one = async (sk: Uint8Array): Promise<number> => {
      const hs = new InitiatorHandshake({ id: 'gw-1', blsSecretKey: sk, nodeId: 'node-1', registry: reg, now: Date.now, random: (n) => new Uint8Array(randomBytes(n)) });
      const r1 = (await (await fetch(`${node.url}/v1/handshake/m1`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(hs.start()) })).json()) as { handshake: string; m2: string };
      const { m3 } = hs.onM2(Buffer.from(r1.m2, 'base64'));
      const r3 = await fetch(`${node.url}/v1/handshake/m3`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ handshake: r1.handshake, m3: Buffer.from(m3).toString('base64') }) });
      return r3.status;
    };
    const wrongKey = blsKeygen(new Uint8Array(randomBytes(48)));
    const statuses = await Promise.all([gsk, gsk, gsk, wrongKey, gsk, gsk, gsk, gsk].map(one));
    t.same(statuses, [200, 200, 200, 400, 200, 200, 200, 200]);
    t.same(await (await fetch(`${node.url}/v1/health`)).json(), { nodeId: 'node-1', ok: true }, 'health tells an anonymous peer nothing about activity');
  });

  t.test('after a node restart the gateway makes a new handshake by itself', async (t) => {
    const url = node.url;
    await node.stop();
    node = await runChainNode({ ...cfg, port: Number(new URL(url).port) }, (_l, m) => logs.push(m));
    const b = await batch(3);
    const r = await client.submit(b.sub, b.expect);
    t.equal(r.receipt.seq, 3);
    t.equal(client.counters.sessionsLost, 1, 'the old session was gone');
    t.equal(client.counters.handshakes, 2);
  });

  t.test('several batches in one request are folded into one transaction, one group of the gateway', async (t) => {
    const items = [await batch(4), await batch(5), await batch(6), await batch(7)];
    const results = await client.submitMany(items);
    t.ok(results.every((r) => !(r instanceof Error)), 'a receipt for each batch');
    const receipts = results.map((r) => (r as Exclude<typeof r, Error>).receipt);
    t.same(receipts.map((r) => r.seq), [4, 5, 6, 7], 'in order');
    const txs = [...new Set(receipts.map((r) => r.txHash))];
    t.ok(txs.length <= 2, `folded into ${txs.length} transaction(s) (the first may go alone while the others are checked)`);
    receipts.forEach((r, i) => t.ok(r.fold && verifyFold(Buffer.from(items[i]!.expect.headerHash, 'hex'), r.fold), `batch ${r.seq}: its fold proof`));
    const tx = await provider.getTransaction(txs[txs.length - 1]!);
    const parsed = new ethers.Interface(['function anchorFolded((bytes32,uint64,uint32,bytes32,bytes32)[] groups, bytes32 foldRoot)']).parseTransaction({ data: tx!.data });
    const groups = parsed!.args[0] as Array<[string, bigint, bigint, string, string]>;
    t.equal(groups.length, 1, 'one group');
    t.equal(groups[0]![4], '0x' + items[3]!.expect.headerHash, "its head is the last batch's header hash: the batches before it are linked by their headers");
    t.ok(Number(groups[0]![2]) >= 3, `${groups[0]![2]} batches in the group`);
    // A refused batch in the middle: the ones before it are anchored, it and the rest refused.
    const good = await batch(8);
    const bad = await batch(9);
    bad.sub = { ...bad.sub, headerSignature: hex(blsSign(blsKeygen(new Uint8Array(randomBytes(48))), Buffer.from(bad.expect.headerHash, 'hex'))) };
    const after = await batch(10);
    const mixed = await client.submitMany([good, bad, after]);
    t.notOk(mixed[0] instanceof Error, 'batch 8 anchored');
    t.match(String(mixed[1]), /403 batch 9: signature does not verify/, 'batch 9 refused, with its reason');
    t.match(String(mixed[2]), /409 batch 10 of gw-1 leaves a gap: next expected 9/, 'batch 10 refused: it follows a refused batch');
  });
});
