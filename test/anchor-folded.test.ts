// Folded anchoring on a real anvil: every refusal (gap, fork, replay, wrong mode, bad groups), the
// receipts' fold proofs against the logged root, the events rebuilding each gateway's chain, and a
// property over random interleavings of gateways and batches.
import t from 'tap';
import fc from 'fast-check';
import { ethers } from 'ethers';
import { AnchorClient, AnchorRevert, type AnchorRequest } from '../contracts/clients';
import { readAnchors } from '../contracts/deploy';
import { idToBytes32 } from '../contracts/ids';
import { verifyFold, foldRoot } from '../protocol/fold';
import { testChain } from './chain.helpers';

const h = (s: string): Uint8Array => ethers.getBytes(ethers.id(s));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const zero = new Uint8Array(32);
const req = (g: string, seq: number, prev?: Uint8Array): AnchorRequest => ({ gatewayId: g, seq, prevHash: prev ?? (seq === 1 ? zero : h(`${g}/${seq - 1}`)), headerHash: h(`${g}/${seq}`), root: h(`root ${g}/${seq}`), count: 1000 });
const refusal = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e instanceof AnchorRevert ? e.errorName : String(e)));

t.test('folded anchoring on anvil', async (t) => {
  const chain = await testChain(t);
  const d = chain.deployment;
  for (const [i, g] of ['gw-a', 'gw-b', 'gw-c'].entries()) await chain.addGateway(g, 10 + i);
  const client = new AnchorClient(chain.operator, d.anchor, d.deployBlock);
  const provider = chain.operator.provider!;

  t.test('one transaction, several gateways: heads move, receipts prove their batch', async (t) => {
    const items = [req('gw-a', 1), req('gw-b', 1), req('gw-a', 2), req('gw-b', 2), req('gw-a', 3)];
    const r = await client.anchorFolded(items);
    t.same(await client.head('gw-a'), { seq: 3, headerHash: h('gw-a/3') });
    t.same(await client.head('gw-b'), { seq: 2, headerHash: h('gw-b/2') });
    // Grouped per gateway in the fold: gw-a 1..3, then gw-b 1..2.
    const leaves = [h('gw-a/1'), h('gw-a/2'), h('gw-a/3'), h('gw-b/1'), h('gw-b/2')];
    const rcpt = (await provider.getTransactionReceipt(r.txHash))!;
    const logged = rcpt.logs.map((l) => client.contract.interface.parseLog(l)!.args[2] as string);
    t.same(new Set(logged), new Set([ethers.hexlify(foldRoot(leaves))]), 'every group logs the root of the whole fold');
    items.forEach((it, i) => t.ok(verifyFold(it.headerHash, r.folds[i]!), `request ${i}: its fold proof leads to the root`));
    t.notOk(verifyFold(h('gw-a/2'), r.folds[0]!), 'a proof does not carry over to another batch');
    t.equal(rcpt.logs.length, 2, 'one log per gateway, not per batch');
    const found = await new AnchorClient(provider, d.anchor, d.deployBlock).findAnchored('gw-b', 2);
    t.same(found?.fold, r.folds[3], 'a fresh client rebuilds the same proof from the events and calldata');
  });

  t.test('refusals', async (t) => {
    t.equal(await refusal(client.anchor(req('gw-a', 5, h('gw-a/4')))), 'BadSequence', 'a gap');
    t.equal(await refusal(client.anchor(req('gw-a', 3))), 'BadSequence', 'a replay of an anchored batch');
    t.equal(await refusal(client.anchor(req('gw-a', 1))), 'BadSequence', 'a replay from the start');
    t.equal(await refusal(client.anchor(req('gw-a', 4, h('gw-a/other')))), 'WrongPrevHash', 'a fork: a batch that does not name the head');
    t.equal(await refusal(client.anchor(req('gw-x', 1))), 'GatewayNotActive', 'an unregistered gateway');
    t.equal(await refusal(new AnchorClient(provider, d.anchor).anchor(req('gw-c', 1))), 'NotANode', 'an account that is not a node');
    t.equal(await refusal(client.anchorFolded([req('gw-c', 1), req('gw-a', 9, h('gw-a/8'))])), 'BadSequence', 'all or nothing: one bad group refuses the transaction');
    t.equal((await client.head('gw-c')).seq, 0, 'and the good group was not anchored');
    t.equal(await refusal(client.anchor({ ...req('gw-c', 1), headerHash: zero })), 'EmptyRoot', 'a zero header hash');
    const raw = client.contract.getFunction('anchorFolded');
    const group = (g: string, first: number, count: number) => [idToBytes32(g), first, count, ethers.ZeroHash];
    const decode = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e as { revert?: { name: string } }).revert?.name ?? String(e));
    t.equal(await decode(raw.staticCall([group('gw-c', 1, 2)], [ethers.id('x')])), 'LengthMismatch', 'a group longer than the hashes');
    t.equal(await decode(raw.staticCall([group('gw-c', 1, 1)], [ethers.id('x'), ethers.id('y')])), 'LengthMismatch', 'hashes no group covers');
    t.equal(await decode(raw.staticCall([group('gw-c', 1, 0)], [ethers.id('x')])), 'LengthMismatch', 'an empty group');
    t.equal(await decode(raw.staticCall([], [])), 'LengthMismatch', 'nothing');
  });

  t.test('the events rebuild every chain, with each batch\'s place in its fold', async (t) => {
    const events = await readAnchors(provider, d.anchor, d.deployBlock);
    t.same(events.map((e) => `${e.gatewayId}#${e.seq}`), ['gw-a#1', 'gw-a#2', 'gw-a#3', 'gw-b#1', 'gw-b#2']);
    for (const e of events) {
      t.equal(e.headerHash, hex(h(`${e.gatewayId}/${e.seq}`)));
      t.equal(e.prevHeaderHash, e.seq === 1 ? hex(zero) : hex(h(`${e.gatewayId}/${e.seq - 1}`)));
      t.equal(e.root, null, 'folded mode holds no roots: the header hash commits to them');
    }
    t.same(events.map((e) => e.fold.index), [0, 1, 2, 3, 4]);
  });
});

t.test('property: random interleavings of gateways and batches, folded into random transactions', async (t) => {
  const chain = await testChain(t);
  const d = chain.deployment;
  const gws = ['p0', 'p1', 'p2', 'p3'];
  for (const [i, g] of gws.entries()) await chain.addGateway(g, 40 + i);
  const client = new AnchorClient(chain.operator, d.anchor, d.deployBlock);
  const next = new Map(gws.map((g) => [g, 1]));
  let round = 0;
  await fc.assert(
    fc.asyncProperty(
      // a transaction: a list of (gateway, action) — action 0 the next batch, 1 a gap, 2 a replay, 3 a fork
      fc.array(fc.tuple(fc.integer({ min: 0, max: gws.length - 1 }), fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 3 }))), { minLength: 1, maxLength: 12 }),
      async (ops) => {
        round++;
        const planned = new Map(next);
        const items: AnchorRequest[] = [];
        let bad = false;
        for (const [gi, action] of ops) {
          const g = gws[gi]!;
          const s = planned.get(g)!;
          if (action === 0) {
            items.push(req(g, s));
            planned.set(g, s + 1);
          } else if (action === 1) {
            items.push(req(g, s + 1));
            bad = true;
          } else if (action === 2) {
            if (s === 1) continue; // nothing to replay yet
            items.push(req(g, s - 1));
            bad = true;
          } else {
            items.push(req(g, s, h(`fork ${round}`)));
            bad = true;
          }
        }
        if (items.length === 0) return true;
        const outcome = await refusal(client.anchorFolded(items));
        if (bad) {
          if (!['BadSequence', 'WrongPrevHash'].includes(outcome)) return false;
        } else {
          if (outcome !== 'ok') return false;
          for (const [g, s] of planned) next.set(g, s);
        }
        // The chain holds exactly the accepted batches, in order, whatever was tried.
        for (const g of gws) {
          const head = await client.head(g);
          if (head.seq !== next.get(g)! - 1) return false;
          if (head.seq > 0 && hex(head.headerHash) !== hex(h(`${g}/${head.seq}`))) return false;
        }
        return true;
      },
    ),
    { numRuns: 25 },
  );
  const events = await readAnchors(chain.operator.provider!, d.anchor, d.deployBlock);
  for (const g of gws) {
    const seqs = events.filter((e) => e.gatewayId === g).map((e) => e.seq);
    t.same(seqs, seqs.map((_, i) => i + 1), `${g}: the events hold 1..${seqs.length}, no gap, no repeat`);
  }
});
