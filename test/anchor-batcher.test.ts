// Group commit of anchors on a real anvil: concurrent requests share transactions, and a bad
// request in a group is refused alone.
import t from 'tap';
import { ethers } from 'ethers';
import { AnchorClient, AnchorRevert } from '../contracts/clients';
import { AnchorBatcher } from '../chain-node/anchor-batcher';
import { testChain } from './chain.helpers';

t.test('anchors of several gateways go out together, each gateway still in order', async (t) => {
  const chain = await testChain(t);
  const d = chain.deployment;
  const gws = ['gw-a', 'gw-b', 'gw-c', 'gw-d', 'gw-e'];
  for (const [i, g] of gws.entries()) await chain.addGateway(g, 10 + i);
  const batcher = new AnchorBatcher(new AnchorClient(chain.operator, d.anchor));
  const h = (s: string): Uint8Array => ethers.getBytes(ethers.id(s));
  const req = (g: string, seq: number, prev: Uint8Array) => ({ gatewayId: g, seq, prevHash: prev, headerHash: h(`${g}/${seq}`), root: h(`root ${g}/${seq}`), count: 10 });

  // Each gateway submits 4 batches in sequence; the five gateways run concurrently.
  const results = await Promise.all(
    gws.map(async (g) => {
      let prev: Uint8Array = new Uint8Array(32);
      const txs: string[] = [];
      for (let seq = 1; seq <= 4; seq++) {
        txs.push((await batcher.anchor(req(g, seq, prev))).txHash);
        prev = h(`${g}/${seq}`);
      }
      return txs;
    }),
  );
  const heads = await Promise.all(gws.map((g) => batcher.head(g)));
  t.same(heads.map((x) => x.seq), [4, 4, 4, 4, 4], 'every gateway anchored all four, in order');
  t.equal(batcher.stats.batches, 20);
  t.ok(batcher.stats.transactions < 20, `20 batches in ${batcher.stats.transactions} transactions (up to ${batcher.stats.maxPerTx} per transaction)`);
  t.equal(new Set(results.flat()).size, batcher.stats.transactions, 'receipts name the shared transactions');

  // A group with one bad request: the bad one is refused with its reason, the others are anchored.
  const outcomes = await Promise.allSettled([
    batcher.anchor(req('gw-a', 5, h('gw-a/4'))),
    batcher.anchor(req('gw-b', 5, h('gw-b/4'))),
    batcher.anchor(req('gw-c', 7, h('gw-c/4'))), // a gap
    batcher.anchor(req('gw-d', 5, h('gw-d/4'))),
  ]);
  t.same(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  const bad = outcomes[2] as PromiseRejectedResult;
  t.ok(bad.reason instanceof AnchorRevert && bad.reason.errorName === 'BadSequence', 'the gap is refused as BadSequence');
  t.same((await batcher.head('gw-c')).seq, 4);
  t.same((await batcher.head('gw-d')).seq, 5);
});
