// The chain node's access recorder groups accesses into recordAccesses transactions: a group
// closes after a quiet time, at the latest after its longest wait, or when full; accesses that
// arrive while a transaction is under way go together into the next one; each caller learns its
// transaction and whether the chain recorded its access. A fake clock and timer (injected) and a
// stand-in for AccessLog (named as such: the real contract is exercised by data-api.test.ts and
// bench/share) make the grouping deterministic.
import t from 'tap';
import { AccessRecorder } from '../chain-node/data-api/access-recorder';
import type { AccessRecord } from '../contracts/clients';

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
