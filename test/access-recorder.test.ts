// The chain node's access recorder groups accesses into recordAccesses transactions, one at a time:
// a lone access is sent at once; accesses that arrive while a transaction is under way go together
// into the next one; a group waits for the queries still being checked (announced), no longer than
// its longest wait; a full group goes at once; each caller learns its transaction and whether the
// chain recorded its access, and a failed transaction fails its callers (through the node: they are
// served nothing). First with a fake clock and timer and a stand-in for AccessLog (named as such)
// for the timing rules, then on the real chain (anvil, AccessLog, the chain node).
import { minedReceipt } from '../contracts/mined-receipt';
import t from 'tap';
import tap from 'tap';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { AccessRecorder, type RecordedAccess } from '../chain-node/data-api/access-recorder';
import { loadChainNodeIdentity } from '../chain-node/identity';
import { AccessLogClient, type AccessRecord } from '../contracts/clients';
import { registerNode, revokeParty } from '../contracts/deploy';
import { AccessRefused, DataNodeClient } from '../data-user/node-client';
import { rangeTags } from '../protocol/sharing/tags';
import { reading, shareWorld } from './share.helpers';


function world(opts: { quietMs?: number; maxWaitMs?: number; maxPerTx?: number } = {}) {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  const txs: AccessRecord[][] = [];
  let release: Array<() => void> = [];
  // Stand-in for AccessLogClient.recordAccesses: mined when the test says so; grant 13 is refused on chain.
  const client = {
    recordAccesses: (a: readonly AccessRecord[]) => {
      txs.push([...a]);
      const n = txs.length;
      return new Promise<{ txHash: string; blockNumber: number; gasUsed: bigint; recorded: boolean[] }>((resolve) => release.push(() => resolve({ txHash: `0x${String(n).padStart(64, '0')}`, blockNumber: n, gasUsed: 1000n, recorded: a.map((x) => x.grantId !== 13) })));
    },
  };
  const rec = new AccessRecorder(client, {
    ...opts,
    now: () => now,
    setTimer: (fn, ms) => {
      const x = { at: now + ms, fn, live: true };
      timers.push(x);
      return { cancel: () => (x.live = false) };
    },
  });
  const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
  return {
    rec,
    txs,
    /** Moves the fake clock, firing due timers in order. */
    async advance(ms: number): Promise<void> {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        now = due.at;
        due.live = false;
        due.fn();
        await flush();
      }
      timers = timers.filter((x) => x.live);
      now = end;
      await flush();
    },
    async mine(): Promise<void> {
      const r = release;
      release = [];
      for (const f of r) f();
      await flush();
      await flush();
    },
  };
}

const access = (grantId: number): AccessRecord => ({ grantId, fromTime: 0, toTime: 1 });

t.test('a burst lands in one transaction; a quiet time closes it', async (t) => {
  const w = world({ quietMs: 250, maxWaitMs: 1500 });
  const got: Array<Promise<{ txHash: string; recorded: boolean }>> = [];
  for (let i = 0; i < 10; i++) {
    got.push(w.rec.record(access(i)));
    await w.advance(100); // each arrives 100 ms after the last: still inside the quiet time
  }
  t.equal(w.txs.length, 0, 'nothing sent while accesses keep arriving');
  await w.advance(200);
  t.equal(w.txs.length, 1, 'sent once the quiet time passed');
  t.equal(w.txs[0]!.length, 10, 'all ten in it');
  await w.mine();
  const r = await Promise.all(got);
  t.ok(r.every((x) => x.txHash === r[0]!.txHash && x.recorded), 'each caller learns the one transaction');
});

t.test('the longest wait closes a group that keeps growing', async (t) => {
  const w = world({ quietMs: 250, maxWaitMs: 1000 });
  for (let i = 0; i < 20; i++) {
    void w.rec.record(access(i));
    await w.advance(100);
  }
  t.ok(w.txs.length >= 1, 'sent though accesses kept arriving');
  t.equal(w.txs[0]!.length, 10, 'the first access waited its longest wait, no more (1000 ms at one access per 100 ms)');
});

t.test('accesses arriving while a transaction is under way go together into the next', async (t) => {
  const w = world({ quietMs: 250, maxWaitMs: 1500 });
  const first = w.rec.record(access(1));
  await w.advance(300);
  t.equal(w.txs.length, 1);
  const later = [2, 3, 4, 5].map((g) => w.rec.record(access(g)));
  await w.advance(2000);
  t.equal(w.txs.length, 1, 'one transaction at a time');
  await w.mine();
  t.equal((await first).txHash.slice(-1), '1');
  t.equal(w.txs.length, 2, 'the next group is sent when the first is mined (its wait is over)');
  t.same(w.txs[1]!.map((a) => a.grantId), [2, 3, 4, 5]);
  await w.mine();
  const r = await Promise.all(later);
  t.ok(r.every((x) => x.txHash.endsWith('2')));
  t.equal(w.rec.stats.transactions, 2);
  t.equal(w.rec.stats.maxPerTx, 4);
});

t.test('a lone access is sent at once; a query still being checked holds a group, at most its longest wait', async (t) => {
  const w = world({ maxWaitMs: 1000 });
  void w.rec.record(access(1));
  t.equal(w.txs.length, 1, 'no quiet window by default: sent at once');
  await w.mine();
  const stuck = w.rec.announce();
  void w.rec.record(access(2));
  await w.advance(999);
  t.equal(w.txs.length, 1, 'waiting for the query being checked');
  await w.advance(1);
  t.equal(w.txs.length, 2, 'sent at its longest wait');
  stuck.withdraw();
  await w.mine();
  const late = w.rec.announce();
  const p = late.record(access(3));
  t.equal(w.txs.length, 3, 'an announced query alone is sent when it records');
  await w.mine();
  t.equal((await p).recorded, true);
  await t.rejects(late.record(access(4)), /already used/, 'a ticket records once');
});

t.test('a full group is sent at once; a refusal on chain reaches its caller', async (t) => {
  const w = world({ quietMs: 250, maxWaitMs: 1500, maxPerTx: 3 });
  const p = [12, 13, 14].map((g) => w.rec.record(access(g)));
  await w.advance(0);
  t.equal(w.txs.length, 1, 'sent without waiting');
  await w.mine();
  t.same((await Promise.all(p)).map((x) => x.recorded), [true, false, true]);
  t.equal(w.rec.stats.refusedOnChain, 1);
});

t.test('a failed transaction rejects its group only', async (t) => {
  const calls: number[] = [];
  const rec = new AccessRecorder(
    {
      recordAccesses: async (a: readonly AccessRecord[]) => {
        calls.push(a.length);
        if (calls.length === 1) throw new Error('nonce too low');
        return { txHash: '0x02', blockNumber: 2, gasUsed: 1n, recorded: a.map(() => true) };
      },
    },
    { quietMs: 1, maxWaitMs: 5 },
  );
  await t.rejects(rec.record(access(1)), /nonce too low/);
  t.match(await rec.record(access(2)), { txHash: '0x02', recorded: true });
  t.equal(rec.stats.failures, 1);
});

// On the real chain: the recorder in front of AccessLog on anvil (a second chain node "node-r"
// registered for it), the transactions and their Accessed events read back from the chain.
t.test('on the chain (anvil, AccessLog)', async (t) => {
  const w = await shareWorld(t);
  await w.addUser('dr-r');
  const nid = loadChainNodeIdentity(join(w.dir, 'node-r'));
  await minedReceipt(await w.consortiumAdmin.sendTransaction({ to: nid.operatorAddress, value: ethers.parseEther('10') }));
  await registerNode(w.consortiumAdmin, w.deployment.registry, { id: 'node-r', operator: nid.operatorAddress, blsPublicKey: nid.bls.publicKey, pop: nid.bls.proofOfPossession, x25519PublicKey: nid.x25519PublicKey });
  const real = new AccessLogClient(new ethers.NonceManager(nid.operator.connect(w.provider)), w.deployment.accessLog);
  const FROM = Date.UTC(2026, 0, 10);
  const grants: number[] = [];
  for (let i = 0; i < 8; i++) grants.push(await w.grant('dr-r', `p-${i}`, FROM, FROM + 86_400_000 - 1));
  let n = 0;
  // Distinct accesses (the minute differs), so each is found on chain by its words.
  const next = (g: number): AccessRecord => {
    n++;
    return { grantId: g, fromTime: FROM + n * 60_000, toTime: FROM + n * 60_000 + 59_999 };
  };
  // The real client behind a gate: while `hold` is set a transaction waits before it is sent, so
  // that one is under way for as long as the test needs.
  const gate = {
    calls: [] as number[],
    hold: false,
    waiting: [] as Array<() => void>,
    recordAccesses(list: readonly AccessRecord[]) {
      gate.calls.push(list.length);
      const go = gate.hold ? new Promise<void>((r) => gate.waiting.push(r)) : Promise.resolve();
      return go.then(() => real.recordAccesses(list));
    },
    release(): void {
      gate.hold = false;
      for (const r of gate.waiting.splice(0)) r();
    },
  };
  /** Each caller's access is in the transaction it was told, recorded. */
  const onChain = async (t: { equal: typeof tap.equal }, got: Array<[AccessRecord, RecordedAccess]>): Promise<void> => {
    const events = await w.accessLog.accessEvents(w.deployment.deployBlock);
    for (const [a, r] of got) {
      const e = events.filter((x) => x.grantId === a.grantId && x.fromTime === a.fromTime && x.toTime === a.toTime);
      t.equal(e.length, 1, `grant ${a.grantId}'s access is on chain once`);
      t.equal(e[0]?.txHash, r.txHash, 'in the transaction its caller was told');
      t.equal(e[0]?.recorded, true);
      t.equal(r.recorded, true);
    }
  };
  const rec = new AccessRecorder(gate);

  t.test('a lone access is sent at once (no quiet window) and recorded', async (t) => {
    const a = next(grants[0]!);
    const p = rec.record(a);
    t.same(gate.calls, [1], 'its transaction was under way before record() returned');
    await onChain(t, [[a, await p]]);
  });

  t.test('accesses that arrive while a transaction is under way go together in the next one', async (t) => {
    gate.calls.length = 0;
    gate.hold = true;
    const first = next(grants[1]!);
    const p0 = rec.record(first);
    const later = grants.slice(2, 7).map((g) => next(g));
    const ps = later.map((a) => rec.record(a));
    t.same(gate.calls, [1], 'one transaction at a time: the others wait for it');
    gate.release();
    const r0 = await p0;
    const rs = await Promise.all(ps);
    t.same(gate.calls, [1, 5], 'the five that arrived meanwhile: one transaction');
    t.equal(new Set(rs.map((r) => r.txHash)).size, 1, 'each of the five is told the same transaction');
    t.not(rs[0]!.txHash, r0.txHash, 'not the first one\'s');
    await onChain(t, [[first, r0], ...later.map((a, i): [AccessRecord, RecordedAccess] => [a, rs[i]!])]);
  });

  t.test('queries still being checked hold the group; one that is refused releases it', async (t) => {
    gate.calls.length = 0;
    const [ta, tb, tc] = [rec.announce(), rec.announce(), rec.announce()];
    const a = next(grants[0]!);
    const b = next(grants[1]!);
    const pa = ta.record(a);
    t.same(gate.calls, [], 'two queries are still being checked: nothing sent');
    const pb = tb.record(b);
    t.same(gate.calls, [], 'one still is');
    tc.withdraw(); // refused by its checks
    t.same(gate.calls, [2], 'sent once the last one withdrew: both accesses in one transaction');
    const [ra, rb] = [await pa, await pb];
    t.equal(ra.txHash, rb.txHash);
    await onChain(t, [[a, ra], [b, rb]]);
    ta.withdraw(); // after recording: nothing happens
    t.same(gate.calls, [2]);
  });

  t.test('a transaction the chain refuses fails each of its callers; the next group is sent', async (t) => {
    // An operator the registry does not list: AccessLog reverts (NotANode) for the whole transaction.
    const stranger = ethers.Wallet.createRandom().connect(w.provider);
    await minedReceipt(await w.consortiumAdmin.sendTransaction({ to: stranger.address, value: ethers.parseEther('1') }));
    const bad = new AccessRecorder(new AccessLogClient(new ethers.NonceManager(stranger), w.deployment.accessLog));
    const hold = bad.announce();
    const ps = grants.slice(0, 3).map((g) => bad.record(next(g)));
    hold.withdraw();
    const errs = await Promise.all(ps.map((p) => p.then(() => null, (e: unknown) => e as Error)));
    t.ok(errs.every((e) => e instanceof Error), 'every caller of the failed transaction is told it failed');
    t.equal(bad.stats.failures, 1, 'one transaction, failed');
    t.equal(bad.stats.accesses, 0, 'nothing recorded');
    const events = await w.accessLog.accessEvents(w.deployment.deployBlock);
    t.notOk(events.some((e) => e.node.toLowerCase() === stranger.address.toLowerCase()), 'nothing on chain from it');
    // The recorder goes on: a later access is sent (and fails again for this operator, alone).
    await t.rejects(bad.record(next(grants[0]!)));
    t.equal(bad.stats.failures, 2);
  });
});

// Through the chain node: users who make their sessions together are recorded in one transaction
// (the node expects their queries); a session that never queries holds nobody for long; when the
// transaction that records their accesses fails, the users are refused (unavailable) and nothing
// of the data leaves the node.
t.test('through the chain node', async (t) => {
  const w = await shareWorld(t);
  const BASE = Date.UTC(2026, 0, 10, 8, 0, 0);
  for (let k = 0; k < 3; k++) await w.submit([0, 1, 2].map((i) => reading('p-a', BASE + k * 60_000 + i * 1000, k * 10 + i)));
  const users = [await w.addUser('dr-a'), await w.addUser('dr-b')];
  const from = BASE;
  const to = BASE + 3 * 60_000;
  const r = rangeTags(w.tagKey, 'p-a', from, to);
  const tags = { firstDay: r.firstDay, tags: r.tags.map((x) => Buffer.from(x).toString('hex')) };
  const clients = users.map((u) => new DataNodeClient({ url: w.node.url, nodeId: 'node-1', userId: u.id, blsSecretKey: u.blsSecretKey, registry: w.registry() }));
  const grantIds = [await w.grant('dr-a', 'p-a', from, to), await w.grant('dr-b', 'p-a', from, to)];
  // A first query each: served (and the sessions made).
  // Both sessions made first, then the queries: one transaction, whichever query comes first.
  await Promise.all(clients.map((c) => c.connect()));
  const answers = await Promise.all(clients.map((c, i) => c.query({ grantId: grantIds[i]!, ...tags, from, to })));
  for (const [i, a] of answers.entries()) t.ok(a.gateways[0]!.batches.length > 0, `${users[i]!.id} served`);
  t.equal(answers[0]!.access.txHash, answers[1]!.access.txHash, 'both accesses in one transaction');
  // A third session that never queries: the others are served all the same (its expectation lapses).
  const idle = new DataNodeClient({ url: w.node.url, nodeId: 'node-1', userId: users[0]!.id, blsSecretKey: users[0]!.blsSecretKey, registry: w.registry() });
  await idle.connect();
  t.ok((await clients[1]!.query({ grantId: grantIds[1]!, ...tags, from, to })).gateways[0]!.batches.length > 0, 'served while a session of another user waits');
  const before = (await w.accessLog.accessEvents(w.deployment.deployBlock)).length;
  const served = w.node.userAccesses.served;
  // The consortium revokes the node: AccessLog refuses its transactions (NotANode), the sessions live on.
  await revokeParty(w.consortiumAdmin, w.deployment.registry, 'node-1');
  const got = await Promise.all(clients.map((c, i) => c.query({ grantId: grantIds[i]!, ...tags, from, to }).then(() => null, (e: unknown) => e)));
  for (const e of got) t.equal(e instanceof AccessRefused ? e.refusal : String(e), 'unavailable', 'refused: the access could not be recorded');
  t.equal(w.node.userAccesses.served, served, 'nothing served');
  t.equal((await w.accessLog.accessEvents(w.deployment.deployBlock)).length, before, 'no access on chain');
});
