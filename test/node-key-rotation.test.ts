// The chain node's own keys rotated (and then the node revoked) while a gateway has a session with
// it, over real HTTP with a real anvil (docs/protocol.md, "Parties, registry records and statuses"):
// the gateway sends nothing more over the session authenticated with the old key epoch, cannot
// handshake with the process still holding the old keys (it does not prove the new X25519 key),
// handshakes again once the node restarted with the new keys (receipt checked against the new BLS
// key), and refuses to talk to the node once it is revoked; the node refuses an M1 for itself once
// revoked, whatever the initiator's cache said.
import { minedReceipt } from '../contracts/mined-receipt';
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ethers } from 'ethers';
import { ChainRegistry } from '../contracts/chain-registry';
import { RegistryClient } from '../contracts/clients';
import { registerGateway, registerNode, revokeParty, rotateKey } from '../contracts/deploy';
import { loadChainNodeIdentity, nextChainNodeKeys } from '../chain-node/identity';
import { runChainNode, type RunningChainNode } from '../chain-node/main';
import { ChainNodeClient } from '../gateway/chain/chain-client';
import { buildBatch, encodeHeader, headerHash } from '../protocol/batch';
import { blsKeygen, blsPopProve, blsPublicKey, blsSign, blsVerify } from '../protocol/bls';
import { InitiatorHandshake, type RegistryRecord } from '../protocol/handshake';
import type { Reading } from '../protocol/reading';
import { receiptMessage, type BatchSubmission } from '../protocol/submission';
import { generateOwnerKeyPair, wrapEpochKey } from '../gateway/sealing/envelope';
import { chainWithHospital } from './chain.helpers';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

t.test("the node's own key rotation and revocation during a gateway's session", async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-node-rotation-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const { anvil, provider, admin, hosp, d } = await chainWithHospital(t);
  const dataDir = join(data, 'node');
  const keys = loadChainNodeIdentity(dataDir);
  await minedReceipt(await admin.sendTransaction({ to: keys.operatorAddress, value: ethers.parseEther('10') }));
  await registerNode(admin, d.registry, { id: 'node-1', operator: keys.operatorAddress, blsPublicKey: keys.bls.publicKey, pop: keys.bls.proofOfPossession, x25519PublicKey: keys.x25519PublicKey });
  const gsk = blsKeygen(random(48));
  await registerGateway(hosp, d.registry, { id: 'gw-1', hospital: 'h', blsPublicKey: blsPublicKey(gsk), pop: blsPopProve(gsk) });

  const logs: string[] = [];
  const cfg = (port: number) => ({ dataDir, nodeId: 'node-1', host: '127.0.0.1', port, chain: { rpcUrl: anvil.url, registry: d.registry, anchor: d.anchor } });
  let node: RunningChainNode = await runChainNode(cfg(0), (_l, m) => logs.push(m));
  t.teardown(() => node.stop());
  const nodeUrl = `http://127.0.0.1:${node.port}`;

  // Between gateway and node, a relay that counts what the gateway sends (records, M1s).
  const sent = { records: 0, m1: 0 };
  const relay = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if ((req.url ?? '').startsWith('/v1/sessions/')) sent.records++;
      if (req.url === '/v1/handshake/m1') sent.m1++;
      fetch(nodeUrl + (req.url ?? ''), { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' }, body: Buffer.concat(chunks) }).then(
        async (up) => {
          res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' });
          res.end(Buffer.from(await up.arrayBuffer()));
        },
        () => res.destroy(),
      );
    });
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => relay.close(() => r())));
  const registry = new ChainRegistry(new RegistryClient(provider, d.registry));
  const client = new ChainNodeClient({ url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`, nodeId: 'node-1', selfId: 'gw-1', blsSecretKey: gsk, registry });

  const owner = await generateOwnerKeyPair();
  let prev: Uint8Array = new Uint8Array(32);
  let seq = 0;
  const nextBatch = async (): Promise<{ sub: BatchSubmission; expect: { seq: number; headerHash: string; root: string } }> => {
    seq++;
    const epoch = { id: 1, key: new Uint8Array(32).fill(2), wrapped: await wrapEpochKey(owner.publicKey, 'gw-1', 1, new Uint8Array(32)) };
    const readings: Reading[] = [{ deviceId: 'd', patient: 'p', kind: 'spo2', mdc: '150456', loinc: '2708-6', value: 97, unit: '%', deviceTime: null, receivedAt: 1, deviceSeq: seq, source: 'serial' }];
    const built = buildBatch({ gatewayId: 'gw-1', seq, prevHash: prev, readings, tagKey: new Uint8Array(32).fill(1), epoch, sealedAt: Date.now(), watermark: 0 });
    const hh = headerHash(built.header);
    prev = hh;
    return { sub: { v: 2, gatewayId: 'gw-1', header: hex(encodeHeader(built.header)), headerSignature: hex(blsSign(gsk, hh)), envelope: Buffer.from(built.envelope).toString('base64') }, expect: { seq, headerHash: hex(hh), root: hex(built.header.root) } };
  };

  const b1 = await nextBatch();
  t.equal((await client.submit(b1.sub, b1.expect)).receipt.seq, 1, 'batch 1 anchored over a session with the node at key epoch 1');
  const sessionBefore = client.sessionId;
  t.ok(sessionBefore, 'the gateway holds a session');

  // The operator rotates the node's keys: new BLS and X25519 keys made on the node's box, the
  // registry raised to epoch 2. The running process still holds the epoch-1 keys.
  const next = nextChainNodeKeys(dataDir);
  await rotateKey(admin, d.registry, { id: 'node-1', blsPublicKey: next.bls.publicKey, pop: next.bls.proofOfPossession, x25519PublicKey: next.x25519PublicKey });
  registry.invalidate('node-1'); // as the gateway's cache lifetime (10 s) passing would
  node.registry.invalidate('node-1'); // and the node's

  const b2 = await nextBatch();
  const [records, m1s] = [sent.records, sent.m1];
  await t.rejects(client.submit(b2.sub, b2.expect), /refused locally: m2\.bad-mac/, 'the process still holding the old keys cannot prove the new X25519 key: the gateway refuses its M2');
  t.equal(sent.records - records, 0, 'nothing was sent over the session authenticated with the old key epoch');
  t.equal(sent.m1 - m1s, 1, 'the gateway made one new handshake (for key epoch 2)');
  t.notOk(client.sessionId, 'and holds no session');

  // The node restarts (same data directory, same port): it promotes the keys the registry lists.
  const port = node.port;
  await node.stop();
  node = await runChainNode(cfg(port), (_l, m) => logs.push(m));
  t.ok(logs.some((l) => /rotated keys \(epoch 2\)/.test(l)), 'the restarted node took its rotated keys');
  const r2 = await client.submit(b2.sub, b2.expect);
  t.equal(r2.receipt.seq, 2, 'batch 2 anchored over a new session (key epoch 2)');
  t.not(client.sessionId, sessionBefore, 'a new session');
  t.ok(blsVerify(next.bls.publicKey, receiptMessage(r2.receipt), Uint8Array.from(Buffer.from(r2.signature, 'hex'))), 'its receipt is signed with the new BLS key');
  t.notOk(blsVerify(keys.bls.publicKey, receiptMessage(r2.receipt), Uint8Array.from(Buffer.from(r2.signature, 'hex'))), 'not with the old one');

  // A session from before the restart is gone on the node: 401, not served with any key.
  t.equal((await fetch(`${nodeUrl}/v1/sessions/${sessionBefore!}`, { method: 'POST', body: new Uint8Array(64) })).status, 401, 'the epoch-1 session is unknown to the restarted node');

  // The node is revoked while the gateway's epoch-2 session is alive.
  await revokeParty(admin, d.registry, 'node-1');
  registry.invalidate('node-1');
  node.registry.invalidate('node-1');
  const b3 = await nextBatch();
  const [records3, m13] = [sent.records, sent.m1];
  await t.rejects(client.submit(b3.sub, b3.expect), /refused locally: .*revoked/, 'the gateway refuses to go on with a revoked node');
  t.same([sent.records - records3, sent.m1 - m13], [0, 0], 'and sent it nothing: no record, no M1');

  // An initiator whose cache still says "active" (its cache lifetime not passed) sends an M1: the
  // node, reading its own record afresh, refuses it.
  const stale = new ChainRegistry(new RegistryClient(provider, d.registry));
  const nodeRec: RegistryRecord = { id: 'node-1', role: 'node', epoch: 2, status: 'active', blsPublicKey: next.bls.publicKey, x25519PublicKey: next.x25519PublicKey };
  const gwRec = await stale.fetch('gw-1');
  const hs = new InitiatorHandshake({ id: 'gw-1', blsSecretKey: gsk, nodeId: 'node-1', registry: { lookup: (id) => (id === 'node-1' ? nodeRec : gwRec) }, now: Date.now, random });
  const before = logs.length;
  const r = await fetch(`http://127.0.0.1:${port}/v1/handshake/m1`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(hs.start()) });
  t.same({ status: r.status, body: await r.json() }, { status: 400, body: { error: 'handshake refused' } }, 'the revoked node answers no M1');
  t.ok(logs.slice(before).some((l) => /self\.not-active|not active|revoked/.test(l)), 'and logs why');
});
