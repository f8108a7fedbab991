// Chain-node durability on a real anvil: a batch stored before a crash without its receipt is
// completed at start — rebuilt from its Anchored event when the transaction was mined before the
// crash (never anchored twice), anchored now when it was not — and a batch that does not continue
// the gateway's chain is refused, not anchored.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorClient } from '../contracts/clients';
import { AnchorBatcher } from '../chain-node/anchor-batcher';
import { BatchStore } from '../chain-node/batch-store';
import { BatchIngest, IngestError } from '../chain-node/ingest';
import { blsPublicKey } from '../protocol/bls';
import { testChain } from './chain.helpers';
import { decodeHeader } from '../protocol/batch';
import { generateOwnerKeyPair } from '../gateway/sealing/envelope';
import { buildSealedBatch } from '../gateway/sealing/seal-build';
import type { Reading } from '../protocol/reading';

/** A chain node of the failover tests: its own store in a temporary directory, one registered gateway, the shared chain. */
function failoverNode(t: Test, name: string, chain: Awaited<ReturnType<typeof testChain>>, gwSk: Uint8Array, client: AnchorClient) {
  const dir = mkdtempSync(join(tmpdir(), `mcps-${name}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new BatchStore(dir);
  return { store, ingest: new BatchIngest({ nodeId: name, blsSecretKey: chain.nodeSecretKey, registry: { gateway: async () => ({ blsPublicKey: blsPublicKey(gwSk), active: true }) }, anchors: new AnchorBatcher(client), store, log: () => undefined }) };
}

const reading = (i: number): Reading => ({ deviceId: 'temp-1', patient: 'p-1', kind: 'body_temp', mdc: '150364', loinc: '8310-5', value: 36.6, unit: 'Cel', deviceTime: 1_764_000_000_000 + i, receivedAt: 1_764_000_000_000 + i, deviceSeq: i, source: 'mqtt' });

t.test('stored-but-unanswered batches are completed once at start', async (t) => {
  const chain = await testChain(t);
  const d = chain.deployment;
  const nodeSk = chain.nodeSecretKey;
  const gwSk = await chain.addGateway('gw-a', 2);
  const owner = await generateOwnerKeyPair();
  const keys = { blsSecretKey: gwSk, ownerPublicKey: owner.publicKey, patientTagKey: new Uint8Array(32).fill(4) };
  const dir = mkdtempSync(join(tmpdir(), 'mcps-ingest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new BatchStore(dir);
  const client = new AnchorClient(chain.operator, d.anchor);
  const logs: string[] = [];
  const ingest = () => new BatchIngest({ nodeId: 'n', blsSecretKey: nodeSk, registry: { gateway: async () => ({ blsPublicKey: blsPublicKey(gwSk), active: true }) }, anchors: new AnchorBatcher(client), store, log: (_l, m) => logs.push(m) });

  const b1 = await buildSealedBatch({ gatewayId: 'gw-a', seq: 1, prevHash: new Uint8Array(32), readings: [reading(1), reading(2)], sealedAt: Date.now(), watermark: 0 }, keys);
  const b2 = await buildSealedBatch({ gatewayId: 'gw-a', seq: 2, prevHash: Uint8Array.from(Buffer.from(b1.headerHash, 'hex')), readings: [reading(3)], sealedAt: Date.now(), watermark: 0 }, keys);
  // Batch 1: stored, anchored, then the node died before writing the receipt.
  store.put('gw-a', 1, { submission: b1.submission, receipt: null });
  const h1 = decodeHeader(Uint8Array.from(Buffer.from(b1.submission.header, 'hex')));
  const mined = await client.anchor({ gatewayId: 'gw-a', seq: 1, prevHash: h1.prevHash, headerHash: Uint8Array.from(Buffer.from(b1.headerHash, 'hex')), root: h1.root, count: h1.count });
  // Batch 2: stored, then the node died before sending the transaction.
  store.put('gw-a', 2, { submission: b2.submission, receipt: null });

  const node = ingest();
  t.equal(await node.resumePending(), 2, 'both unanswered batches are taken up');
  t.equal(node.counters.resumed, 2);
  t.equal(store.get('gw-a', 1)?.receipt?.receipt.txHash, mined.txHash, 'batch 1: the receipt names the transaction mined before the crash');
  t.same(store.get('gw-a', 1)?.receipt?.receipt.fold, mined.fold, 'batch 1: its fold proof is rebuilt from the chain, as the transaction gave it');
  t.equal((await client.head('gw-a')).seq, 2, 'batch 2 anchored now; batch 1 not anchored twice');
  const r2 = store.get('gw-a', 2)?.receipt;
  t.ok(r2 && r2.receipt.status === 'anchored' && r2.receipt.headerHash === b2.headerHash, 'batch 2 has its receipt');

  // The gateway resends batch 2 (it never saw the answer): the same receipt, nothing anchored.
  const again = await node.submit(b2.submission);
  t.same(again, r2, 'a resent batch gets its stored receipt');
  t.equal(node.counters.duplicates, 1);
  t.equal(await ingest().resumePending(), 0, 'nothing left to resume');

  // A batch that does not continue the gateway's chain is refused and never anchored.
  const bad = await buildSealedBatch({ gatewayId: 'gw-a', seq: 3, prevHash: new Uint8Array(32).fill(7), readings: [reading(4)], sealedAt: Date.now(), watermark: 0 }, keys);
  const refusal = await node.submit(bad.submission).then(() => null, (err: unknown) => err);
  t.ok(refusal instanceof IngestError && refusal.status === 409 && /previous hash/.test(refusal.message), 'refused as 409, naming the previous hash');
  t.equal((await client.head('gw-a')).seq, 2);
  t.match(logs.join('\n'), /refused batch from gw-a: batch 3 of gw-a: previous hash/);
});

t.test('failover: a batch another node anchored is stored here as a copy with a receipt for that transaction', async (t) => {
  const chain = await testChain(t);
  const gwSk = await chain.addGateway('gw-b', 2);
  const owner = await generateOwnerKeyPair();
  const keys = { blsSecretKey: gwSk, ownerPublicKey: owner.publicKey, patientTagKey: new Uint8Array(32).fill(4) };
  const client = new AnchorClient(chain.operator, chain.deployment.anchor);
  const node = (name: string) => failoverNode(t, name, chain, gwSk, client);
  const a = node('node-a');
  const b = node('node-b');
  const b1 = await buildSealedBatch({ gatewayId: 'gw-b', seq: 1, prevHash: new Uint8Array(32), readings: [reading(1)], sealedAt: Date.now(), watermark: 0 }, keys);
  const ra = await a.ingest.submit(b1.submission);
  // The gateway never saw node A's receipt and turned to node B with the same batch.
  const rb = await b.ingest.submit(b1.submission);
  t.equal(rb.receipt.txHash, ra.receipt.txHash, 'node B names the transaction node A sent');
  t.equal(rb.receipt.nodeId, 'node-b');
  t.equal(b.ingest.counters.replicated, 1);
  t.same(b.store.get('gw-b', 1)?.submission, b1.submission, 'node B keeps a copy of the ciphertext');
  t.equal((await client.head('gw-b')).seq, 1, 'anchored once');
  // A different batch claiming that sequence number is refused.
  const other = await buildSealedBatch({ gatewayId: 'gw-b', seq: 1, prevHash: new Uint8Array(32), readings: [reading(9)], sealedAt: Date.now(), watermark: 0 }, keys);
  const refusal = await node('node-c').ingest.submit(other.submission).then(() => null, (err: unknown) => err);
  t.ok(refusal instanceof IngestError && refusal.status === 409 && /already anchored with another header/.test(refusal.message));
});

t.test('folded groups: batches inside a group are shown by the headers after them, from the store or as the gateway resends them', async (t) => {
  const chain = await testChain(t);
  const gwSk = await chain.addGateway('gw-c', 2);
  const owner = await generateOwnerKeyPair();
  const keys = { blsSecretKey: gwSk, ownerPublicKey: owner.publicKey, patientTagKey: new Uint8Array(32).fill(4) };
  const client = new AnchorClient(chain.operator, chain.deployment.anchor);
  const node = (name: string) => failoverNode(t, name, chain, gwSk, client);
  const batches: Array<Awaited<ReturnType<typeof buildSealedBatch>>> = [];
  let prev = new Uint8Array(32);
  for (let seq = 1; seq <= 6; seq++) {
    const b = await buildSealedBatch({ gatewayId: 'gw-c', seq, prevHash: prev, readings: [reading(seq)], sealedAt: Date.now(), watermark: 0 }, keys);
    prev = Uint8Array.from(Buffer.from(b.headerHash, 'hex'));
    batches.push(b);
  }
  const request = (b: (typeof batches)[number]) => {
    const h = decodeHeader(Uint8Array.from(Buffer.from(b.submission.header, 'hex')));
    return { gatewayId: 'gw-c', seq: h.seq, prevHash: h.prevHash, headerHash: Uint8Array.from(Buffer.from(b.headerHash, 'hex')), root: h.root, count: h.count };
  };
  // Node A stored batches 1..3, anchored them in one transaction (one group), and died before answering.
  const a = node('node-a');
  for (const b of batches.slice(0, 3)) a.store.put('gw-c', request(b).seq, { submission: b.submission, receipt: null });
  const mined = await client.anchorFolded(batches.slice(0, 3).map(request));
  t.equal(await a.ingest.resumePending(), 3);
  for (let i = 0; i < 3; i++) {
    const r = a.store.get('gw-c', i + 1)?.receipt?.receipt;
    t.equal(r?.txHash, mined.txHash, `node A, batch ${i + 1}: resumed with the transaction mined before the crash`);
    t.same(r?.fold, mined.folds[i], `node A, batch ${i + 1}: its fold proof rebuilt from the stored headers`);
  }

  // Node A' anchored 4..6 in one group and died; the gateway fails over to node B and resends them in order.
  const before = (await client.head('gw-c')).seq;
  const tx2 = await client.anchorFolded(batches.slice(3).map(request));
  t.equal((await client.head('gw-c')).seq, before + 3);
  const b = node('node-b');
  const first = await b.ingest.submit(batches[3]!.submission).then(() => null, (err: unknown) => err);
  t.ok(first instanceof IngestError && first.status === 503 && /send batches 5..6/.test(first.message), 'batch 4 alone cannot be shown (the chain holds batch 6, the head): retry after 5..6');
  await b.ingest.submit(batches[4]!.submission).catch(() => undefined);
  const r6 = await b.ingest.submit(batches[5]!.submission);
  t.equal(r6.receipt.txHash, tx2.txHash, 'the head is shown by the chain itself');
  const r4 = await b.ingest.submit(batches[3]!.submission);
  const r5 = await b.ingest.submit(batches[4]!.submission);
  t.same([r4.receipt.txHash, r5.receipt.txHash], [tx2.txHash, tx2.txHash], 'resent, batches 4 and 5 link to the head through the stored headers');
  t.same(r4.receipt.fold, tx2.folds[0], 'with the fold proof of the transaction');
  // A different batch 5 (a gateway that re-signed another header) does not link: refused.
  const other = await buildSealedBatch({ gatewayId: 'gw-c', seq: 5, prevHash: Uint8Array.from(Buffer.from(batches[3]!.headerHash, 'hex')), readings: [reading(99)], sealedAt: Date.now(), watermark: 0 }, keys);
  const c = node('node-c');
  c.store.put('gw-c', 6, { submission: batches[5]!.submission, receipt: null });
  const refusal = await c.ingest.submit(other.submission).then(() => null, (err: unknown) => err);
  t.ok(refusal instanceof IngestError && refusal.status === 409 && /another header/.test(refusal.message), 'another batch 5 is refused: batch 6 does not name it');
});
