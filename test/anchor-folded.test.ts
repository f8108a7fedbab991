// Folded anchoring on a real anvil: every refusal (gap, fork, replay, wrong mode, bad groups), the
// receipts' fold proofs against the logged root, the events and the headers rebuilding each
// gateway's chain (only each group's head is on chain), what a dishonest node's anchors look like
// to a verifier, and a property over random interleavings of gateways and batches.
import { minedReceipt } from '../contracts/mined-receipt';
import t from 'tap';
import fc from 'fast-check';
import { ethers } from 'ethers';
import { AnchorClient, AnchorRevert, type AnchorRequest } from '../contracts/clients';
import { readAnchors, resolveAnchors } from '../contracts/deploy';
import { idToBytes32 } from '../contracts/ids';
import { headerHash, type BatchHeader } from '../protocol/batch';
import { verifyFold, foldRoot } from '../protocol/fold';
import { testChain } from './chain.helpers';

const h = (s: string): Uint8Array => ethers.getBytes(ethers.id(s));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const zero = new Uint8Array(32);

function makeHeader(gatewayId: string, seq: number, prevHash: Uint8Array, salt = ''): BatchHeader {
  const t0 = 1_764_000_000_000 + seq * 1000;
  return { version: 2, gatewayId, seq, prevHash, root: h(`root ${gatewayId}/${seq} ${salt}`), count: 1000, firstReceivedAt: t0, lastReceivedAt: t0 + 500, sealedAt: t0 + 600, watermark: t0 - 1, sliceCount: 1, directoryHash: h(`dir ${gatewayId}/${seq} ${salt}`) };
}
/** Each gateway's honest chain of headers (what the node stores). */
const canon = new Map<string, BatchHeader>();
function hdr(g: string, seq: number): BatchHeader {
  let x = canon.get(`${g}#${seq}`);
  if (!x) canon.set(`${g}#${seq}`, (x = makeHeader(g, seq, seq === 1 ? zero : headerHash(hdr(g, seq - 1)))));
  return x;
}
/** The honest header hash of a gateway's batch. */
const H = (g: string, seq: number): Uint8Array => headerHash(hdr(g, seq));
/** The node's header store: the honest chains. */
const stored = (g: string, seq: number): BatchHeader | undefined => canon.get(`${g}#${seq}`);
/** The node's request for a gateway's honest batch, or (`prev` given) for one naming another previous hash: a fork, never anchored, so no header is made for it. */
const req = (g: string, seq: number, prev?: Uint8Array): AnchorRequest => {
  if (prev) return { gatewayId: g, seq, prevHash: prev, headerHash: h(`${g}/${seq} after ${hex(prev)}`), root: h(`root ${g}/${seq}`), count: 1000 };
  const x = hdr(g, seq);
  return { gatewayId: g, seq, prevHash: x.prevHash, headerHash: headerHash(x), root: x.root, count: x.count };
};
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
    t.same(await client.head('gw-a'), { seq: 3, headerHash: H('gw-a', 3) });
    t.same(await client.head('gw-b'), { seq: 2, headerHash: H('gw-b', 2) });
    const fresh = new AnchorClient(provider, d.anchor, d.deployBlock);
    t.same(await fresh.head('gw-a'), { seq: 3, headerHash: H('gw-a', 3) }, 'a fresh client reads the full head hash from the calldata');
    // Grouped per gateway in the fold: gw-a 1..3, then gw-b 1..2.
    const leaves = [H('gw-a', 1), H('gw-a', 2), H('gw-a', 3), H('gw-b', 1), H('gw-b', 2)];
    const rcpt = (await provider.getTransactionReceipt(r.txHash))!;
    const logged = rcpt.logs.map((l) => client.contract.interface.parseLog(l)!.args[2] as string);
    t.same(new Set(logged), new Set([ethers.hexlify(foldRoot(leaves))]), 'every group logs the root of the whole fold');
    items.forEach((it, i) => t.ok(verifyFold(it.headerHash, r.folds[i]!), `request ${i}: its fold proof leads to the root`));
    t.notOk(verifyFold(H('gw-a', 2), r.folds[0]!), 'a proof does not carry over to another batch');
    t.equal(rcpt.logs.length, 2, 'one log per gateway, not per batch');
    const found = await fresh.findAnchored('gw-b', 2, stored);
    t.same(found?.fold, r.folds[3], 'a fresh client rebuilds the same proof from the events, the calldata and the stored headers');
    t.same(found?.headerHash, H('gw-b', 2));
    const mid = await fresh.findAnchored('gw-a', 2, stored);
    t.same([mid?.headerHash, mid?.fold], [H('gw-a', 2), r.folds[2]], 'a batch inside a group: its hash is linked to the head by the header after it');
    const blind = await fresh.findAnchored('gw-a', 2);
    t.same([blind?.headerHash, blind?.fold], [null, null], 'without the headers, a batch inside a group cannot be shown: the chain holds the head only');
    t.match(blind?.why, /not at hand/);
    const headOnly = await fresh.findAnchored('gw-a', 3);
    t.same(headOnly?.headerHash, H('gw-a', 3), 'the head is on chain');
    const data = (await provider.getTransaction(r.txHash))!.data;
    t.equal(ethers.dataLength(data), 4 + 32 * 3 + 32 * 5 * 2, 'calldata: a selector, the root, and five words per group, whatever the number of batches');
  });

  t.test('refusals', async (t) => {
    t.equal(await refusal(client.anchor(req('gw-a', 5, H('gw-a', 4)))), 'BadSequence', 'a gap');
    t.equal(await refusal(client.anchor(req('gw-a', 3))), 'BadSequence', 'a replay of an anchored batch');
    t.equal(await refusal(client.anchor(req('gw-a', 1))), 'BadSequence', 'a replay from the start');
    t.equal(await refusal(client.anchor(req('gw-a', 4, h('gw-a/other')))), 'WrongPrevHash', 'a fork: a batch that does not name the head');
    t.equal(await refusal(client.anchor(req('gw-x', 1))), 'GatewayNotActive', 'an unregistered gateway');
    t.equal(await refusal(new AnchorClient(provider, d.anchor).anchor(req('gw-c', 1))), 'NotANode', 'an account that is not a node');
    t.equal(await refusal(client.anchorFolded([req('gw-c', 1), req('gw-a', 9, H('gw-a', 8))])), 'BadSequence', 'all or nothing: one bad group refuses the transaction');
    t.equal((await client.head('gw-c')).seq, 0, 'and the good group was not anchored');
    t.equal(await refusal(client.anchor({ ...req('gw-c', 1), headerHash: zero })), 'EmptyRoot', 'a zero header hash');
    const raw = client.contract.getFunction('anchorFolded');
    const group = (g: string, first: number, count: number, prev = ethers.ZeroHash, head = ethers.id('x')) => [idToBytes32(g), first, count, prev, head];
    const decode = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e as { revert?: { name: string } }).revert?.name ?? String(e));
    t.equal(await decode(raw.staticCall([group('gw-c', 1, 1)], ethers.ZeroHash)), 'EmptyRoot', 'a zero fold root');
    t.equal(await decode(raw.staticCall([group('gw-c', 1, 1, ethers.ZeroHash, ethers.ZeroHash)], ethers.id('r'))), 'EmptyRoot', 'a zero head');
    t.equal(await decode(raw.staticCall([group('gw-c', 1, 0)], ethers.id('r'))), 'LengthMismatch', 'an empty group');
    t.equal(await decode(raw.staticCall([], ethers.id('r'))), 'LengthMismatch', 'nothing');
    t.equal(await decode(raw.staticCall([group('gw-c', 2, 3)], ethers.id('r'))), 'BadSequence', 'a group that skips a batch');
    t.equal(await decode(raw.staticCall([group('gw-a', 4, 2, ethers.hexlify(H('gw-a', 2)))], ethers.id('r'))), 'WrongPrevHash', "a group whose first batch does not name the gateway's head");
    t.equal(await decode(raw.staticCall([group('gw-a', 4, 2, ethers.hexlify(H('gw-a', 3))), group('gw-a', 5, 1, ethers.hexlify(H('gw-a', 4)))], ethers.id('r'))), 'BadSequence', 'two groups of one gateway that overlap (a replay inside one transaction)');
  });

  t.test('the events and the stored headers rebuild every chain, with each batch\'s place in its fold', async (t) => {
    const groups = await readAnchors(provider, d.anchor, d.deployBlock);
    t.same(groups.map((g) => `${g.gatewayId}#${g.firstSeq}+${g.count}`), ['gw-a#1+3', 'gw-b#1+2']);
    const events = resolveAnchors(groups, stored);
    t.same(events.map((e) => `${e.gatewayId}#${e.seq}`), ['gw-a#1', 'gw-a#2', 'gw-a#3', 'gw-b#1', 'gw-b#2']);
    for (const e of events) {
      t.equal(e.headerHash, hex(H(e.gatewayId, e.seq)));
      t.equal(e.prevHeaderHash, e.seq === 1 ? hex(zero) : hex(H(e.gatewayId, e.seq - 1)));
      t.equal(e.root, null, 'folded mode holds no roots: the header hash commits to them');
      t.equal(e.problem, undefined);
    }
    t.same(events.map((e) => e.fold.index), [0, 1, 2, 3, 4]);
    const blind = resolveAnchors(groups);
    t.same(blind.map((e) => e.headerHash === null), [true, true, false, true, false], 'without headers only the heads are known');
    t.match(blind[0]!.problem, /not at hand/);
  });

  t.test('what a dishonest node can anchor, and how a verifier sees it', async (t) => {
    const raw = client.contract.getFunction('anchorFolded');
    const asGroup = (g: string, first: number, count: number, prev: Uint8Array, head: Uint8Array) => [idToBytes32(g), first, count, ethers.hexlify(prev), ethers.hexlify(head)];
    await minedReceipt(await raw.send([asGroup('gw-c', 1, 3, zero, h('a head with no headers behind it'))], ethers.hexlify(foldRoot([H('gw-c', 1), H('gw-c', 2), H('gw-c', 3)]))));
    t.equal((await client.head('gw-c')).seq, 3, 'the contract cannot see the headers between a group\'s ends: it takes a head no header hashes to');
    await new Promise((r) => setTimeout(r, 300)); // past ethers' 250 ms cache of identical requests (the last subtest read the same logs)
    const groups = await readAnchors(provider, d.anchor, d.deployBlock);
    const c = resolveAnchors(groups, stored).filter((e) => e.gatewayId === 'gw-c');
    t.same(c.map((e) => e.headerHash), [null, null, hex(h('a head with no headers behind it'))]);
    t.ok(c.every((e) => e.problem && /anchored head/.test(e.problem)), 'the verifier reports that the stored headers do not end in the anchored head');
    t.equal(await refusal(client.anchor(req('gw-c', 4))), 'WrongPrevHash', "and the gateway's real next batch is refused: the node has blocked its chain");
    // A fold root that is not the headers' (the node's word, unchecked on chain): the receipts' proofs do not hold.
    await minedReceipt(await raw.send([asGroup('gw-b', 3, 2, H('gw-b', 2), H('gw-b', 4))], ethers.id('not the root of the headers')));
    const b = resolveAnchors(await readAnchors(provider, d.anchor, d.deployBlock), stored).filter((e) => e.gatewayId === 'gw-b' && e.seq > 2);
    t.same(b.map((e) => e.headerHash), [hex(H('gw-b', 3)), hex(H('gw-b', 4))], 'the chain of headers itself links');
    t.ok(b.every((e) => e.problem && /fold to/.test(e.problem)), 'but the logged fold root is reported as not the headers\'');
    // Headers altered after anchoring (a store that lies): the link to the head breaks.
    const altered = (g: string, seq: number): BatchHeader | undefined => (g === 'gw-a' && seq === 2 ? makeHeader('gw-a', 2, H('gw-a', 1), 'altered') : stored(g, seq));
    const a = resolveAnchors(await readAnchors(provider, d.anchor, d.deployBlock), altered).filter((e) => e.gatewayId === 'gw-a');
    t.ok(a.every((e) => e.problem && /names .* as previous/.test(e.problem)), 'an altered header inside a group is caught by the next header\'s link');
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
          if (!['BadSequence', 'WrongPrevHash'].includes(outcome)) {
            t.comment(`round ${round}: ${JSON.stringify(ops)} gave ${outcome}`);
            return false;
          }
        } else {
          if (outcome !== 'ok') return false;
          for (const [g, s] of planned) next.set(g, s);
        }
        // The chain holds exactly the accepted batches, in order, whatever was tried.
        for (const g of gws) {
          const head = await client.head(g).catch((e: unknown) => {
            t.comment(`round ${round}: ${JSON.stringify(ops)} gave ${outcome}; head(${g}): ${String(e)}`);
            throw e;
          });
          if (head.seq !== next.get(g)! - 1 || (head.seq > 0 && hex(head.headerHash) !== hex(H(g, head.seq)))) {
            t.comment(`round ${round}: ${JSON.stringify(ops)} gave ${outcome}; ${g} head ${head.seq}, expected ${next.get(g)! - 1}`);
            return false;
          }
        }
        return true;
      },
    ),
    { numRuns: 25 },
  );
  const events = resolveAnchors(await readAnchors(chain.operator.provider!, d.anchor, d.deployBlock), stored);
  t.same(events.filter((e) => e.problem), [], 'every anchored group links, from the stored headers, to its anchored head, and every fold root is its headers\'');
  for (const g of gws) {
    const seqs = events.filter((e) => e.gatewayId === g).map((e) => e.seq);
    t.same(seqs, seqs.map((_, i) => i + 1), `${g}: the events hold 1..${seqs.length}, no gap, no repeat`);
  }
});
