// The gateway's durable state (journal, chain head, outbox in one SQLite file): group commit,
// dedupe of re-sent readings, sealing that takes readings out of the journal atomically with queueing
// the batch, and everything surviving a reopen of the same file.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutboxStore } from '../gateway/outbox/outbox-store';
import type { OutboxItem } from '../gateway/outbox/outbox';
import { ReadingJournal, dedupeKey } from '../gateway/journal/journal';
import { WalSync, openStateDb, walSyncOf } from '../gateway/journal/state-db';
import { Sealer } from '../gateway/sealing/sealer';
import { generateOwnerKeyPair } from '../gateway/sealing/envelope';
import { StorageBudget } from '../gateway/journal/storage-budget';
import type { Reading } from '../protocol/reading';
import { blsKeygen, blsPublicKey, blsSign, blsVerify } from '../protocol/bls';
import { buildSealedBatch, type SealInput } from '../gateway/sealing/seal-build';
import { mclSigner } from '../common/mcl-pairing';
import { randomBytes } from 'node:crypto';

const item = (seq: number): OutboxItem => ({ seq, count: 10, headerHash: String(seq).padStart(64, '0'), root: 'ab'.repeat(32), submission: { v: 2, gatewayId: 'gw-1', header: '01', headerSignature: '00'.repeat(48), envelope: 'AAAA' } });
const reading = (i: number, device = 'temp-1'): Reading => ({ deviceId: device, patient: 'p-1', kind: 'body_temp', mdc: '150364', loinc: '8310-5', value: 36.5, unit: 'Cel', deviceTime: 1_700_000_000_000 + i, receivedAt: 1_700_000_000_000 + i, deviceSeq: i, source: 'mqtt' });

function tempDb(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'gateway.db');
}

t.test('seal-and-queue is atomic and survives a restart', async (t) => {
  const path = tempDb(t);
  let db = openStateDb(path);
  let s = new OutboxStore(db);
  t.equal(s.head.seq, 0);
  s.commit(item(1));
  s.commit(item(2));
  s.commit(item(3));
  t.throws(() => s.commit(item(5)), /batch 5 does not follow the sealed head 3/, 'a gap is refused');
  t.throws(() => s.commit(item(3)), /does not follow/, 'a repeat is refused');
  s.remove(1);
  db.close();
  s.remove(2); // after close: ignored, the batch stays queued
  db = openStateDb(path);
  t.teardown(() => db.close());
  s = new OutboxStore(db);
  t.equal(s.head.seq, 3, 'the head survives');
  t.equal(Buffer.from(s.head.headerHash).toString('hex'), item(3).headerHash);
  t.same(s.pending().map((i) => i.seq), [2, 3], 'unreceipted batches survive, in order');
  t.same(s.pending()[0], item(2), 'with everything needed to resend them');
  const light = s.pending(false);
  t.same(light.map((i) => i.submission.envelope), ['', ''], 'or without their envelopes, for a long backlog');
  t.same({ ...light[0]!, submission: { ...light[0]!.submission, envelope: 'AAAA' } }, item(2), 'the rest is all there');
  t.equal(s.envelope(3), 'AAAA', 'an envelope is read back by sequence number');
  t.equal(s.envelope(1), undefined, 'not one whose batch has its receipt');
});

t.test('appends in one event-loop turn share one commit; re-sent readings are recognised', async (t) => {
  const db = openStateDb(tempDb(t));
  t.teardown(() => db.close());
  const j = new ReadingJournal(db);
  const first = await Promise.all(Array.from({ length: 50 }, (_, i) => j.append(reading(i + 1), dedupeKey(reading(i + 1)))));
  t.equal(j.stats.commits, 1, '50 appends, one transaction');
  t.equal(j.stats.maxGroup, 50);
  t.ok(first.every((r) => typeof r.id === 'number'), 'each got a journal id');
  const again = await j.append(reading(7), dedupeKey(reading(7)));
  t.same(again, { duplicate: true }, 'the same device, kind, seq and time is a duplicate');
  const rebooted = await j.append({ ...reading(7), deviceTime: 1_800_000_000_000 }, dedupeKey({ ...reading(7), deviceTime: 1_800_000_000_000 }));
  t.type(rebooted.id, 'number', 'the same seq at another time (a device that restarted its counter) is new');
  t.equal(j.unsealedCount, 51);
  t.same(j.unsealed(3).map((e) => e.reading.deviceSeq), [1, 2, 3], 'oldest first');
  t.equal(j.stats.duplicates, 1);
});

t.test('a failed commit acknowledges nobody', async (t) => {
  const db = openStateDb(tempDb(t));
  const j = new ReadingJournal(db);
  db.close();
  await t.rejects(j.append(reading(1)), /journal: could not write 1 readings/);
});

t.test('a reading is acknowledged only once its commit is synced to disk; a failed sync acknowledges nobody, then or later', async (t) => {
  const db = openStateDb(tempDb(t));
  t.teardown(() => db.close());
  const j = new ReadingJournal(db);
  const ws = walSyncOf(db)!;
  t.ok(ws, 'fsync on: the write-ahead log is synced by the gateway');
  const realSync = ws.sync.bind(ws);
  let release!: () => void;
  ws.sync = () => new Promise<void>((r) => (release = r));
  let acked = false;
  const p = j.append(reading(1)).then((r) => ((acked = true), r));
  await new Promise((r) => setTimeout(r, 20));
  t.equal(j.unsealedCount, 1, 'committed');
  t.notOk(acked, 'but not acknowledged while the sync runs');
  release();
  t.type((await p).id, 'number', 'acknowledged after the sync');
  ws.sync = () => Promise.reject(new Error('EIO'));
  await t.rejects(j.append(reading(2)), /journal: could not sync 1 readings to disk: EIO/);
  ws.sync = realSync;
  const before = ws.syncs;
  await Promise.all([j.append(reading(3)), j.append(reading(4))]);
  t.equal(ws.syncs, before + 1, 'one group, one sync');

  // The syncer itself: syncs asked for while one runs share the next one; a failure sticks.
  const calls: Array<(err: Error | null) => void> = [];
  const fake = new WalSync(-1, (_fd, cb) => calls.push(cb));
  const first = fake.sync();
  const waiting = [fake.sync(), fake.sync(), fake.sync()];
  t.equal(calls.length, 1, 'one sync runs');
  calls[0]!(null);
  await first;
  await new Promise((r) => setImmediate(r));
  t.equal(calls.length, 2, 'the three that came while it ran share the next one');
  calls[1]!(null);
  await Promise.all(waiting);
  const failing = fake.sync();
  calls[2]!(new Error('EIO'));
  await t.rejects(failing, /syncing the state database to disk failed \(EIO\)/);
  await t.rejects(fake.sync(), /readings are refused until the gateway restarts/, 'no sync is trusted after a failed one');
  t.equal(calls.length, 3);
});

t.test('what arrives while a group is synced waits, unacknowledged, and is committed in one transaction when the sync ends', async (t) => {
  const db = openStateDb(tempDb(t));
  t.teardown(() => db.close());
  // Unpaced, so that only the held sync decides when a group is committed (pacing is tested below).
  const j = new ReadingJournal(db, { commitIntervalMs: 0 });
  const ws = walSyncOf(db)!;
  const realSync = ws.sync.bind(ws);
  const releases: Array<() => void> = [];
  ws.sync = () => new Promise<void>((r) => releases.push(r));
  const acked: number[] = [];
  const append = (i: number): Promise<unknown> => j.append(reading(i), dedupeKey(reading(i))).then(() => acked.push(i));
  const p1 = append(1);
  // A turn of the event loop, after the journal's own setImmediate (a timer could fire before it on
  // a loaded machine, and the test would then be about timing).
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  await turn();
  const later = [append(2)];
  await turn();
  later.push(append(3), append(2));
  await turn();
  t.equal(j.stats.commits, 1, 'one transaction while its sync runs');
  t.equal(j.unsealedCount, 1, 'the later readings are not written yet');
  t.equal(releases.length, 1);
  releases[0]!();
  await p1;
  t.same(acked, [1], 'the first is acknowledged after its sync');
  t.equal(j.stats.commits, 2, 'the readings that waited are committed at once, together');
  t.equal(j.stats.maxGroup, 3);
  t.equal(j.unsealedCount, 3, 'the re-sent one is recognised inside the group');
  t.same(acked, [1], 'and not acknowledged before their own sync');
  await turn();
  t.equal(releases.length, 2);
  releases[1]!();
  await Promise.all(later);
  t.same(acked.sort(), [1, 2, 2, 3]);
  t.equal(j.stats.duplicates, 1);
  ws.sync = realSync;
  await append(4);
  t.equal(j.stats.commits, 3, 'idle again: a reading is committed and synced at once');
});

t.test('sealing takes the readings out of the journal in the same transaction; a reading is never sealed twice', async (t) => {
  const path = tempDb(t);
  let db = openStateDb(path);
  const j = new ReadingJournal(db);
  const store = new OutboxStore(db);
  const owner = await generateOwnerKeyPair();
  const sk = blsKeygen(randomBytes(48));
  const queued: OutboxItem[] = [];
  const sealer = new Sealer({ gatewayId: 'gw-1', blsSecretKey: sk, ownerPublicKey: owner.publicKey, patientTagKey: new Uint8Array(randomBytes(32)), state: store, journal: j, onSealed: (i) => queued.push(i) });
  const ids = (await Promise.all([1, 2, 3, 4, 5].map((i) => j.append(reading(i))))).map((r) => r.id!);
  const a = await sealer.seal(ids.slice(0, 3).map((id, k) => ({ reading: reading(k + 1), journalId: id })));
  t.equal(a?.count, 3);
  t.equal(j.unsealedCount, 2, 'the sealed readings left the journal');
  const b = await sealer.seal(ids.slice(1, 5).map((id, k) => ({ reading: reading(k + 2), journalId: id })));
  t.equal(b?.count, 2, 'readings 2 and 3 were sealed already: only 4 and 5 go into the next batch');
  t.equal(sealer.alreadySealed, 2);
  t.equal(await sealer.seal([{ reading: reading(1), journalId: ids[0]! }]), null, 'a batch of only sealed readings is not sealed');
  t.equal(j.unsealedCount, 0);
  // A crash between journaling and sealing: after reopening, the readings are still there.
  const late = await j.append(reading(6));
  db.close();
  db = openStateDb(path);
  t.teardown(() => db.close());
  const j2 = new ReadingJournal(db);
  t.same(j2.unsealed(10).map((e) => e.id), [late.id], 'the unsealed reading survived the restart');
  t.equal(new OutboxStore(db).head.seq, 2);
  t.same(new OutboxStore(db).pending().map((i) => i.seq), [1, 2]);
});

t.test('a worker that leaves the header unsigned: the sealer signs it (mcl-wasm), the same bytes as noble in the worker', async (t) => {
  const db = openStateDb(tempDb(t));
  t.teardown(() => db.close());
  const j = new ReadingJournal(db);
  const owner = await generateOwnerKeyPair();
  const sk = blsKeygen(randomBytes(48));
  const tagKey = new Uint8Array(randomBytes(32));
  const keys = { blsSecretKey: sk, ownerPublicKey: owner.publicKey, patientTagKey: tagKey };
  const asked: Array<boolean | undefined> = [];
  // The worker's work, in this thread (the real worker runs the same function on its own).
  const worker = { alive: true, build: (input: SealInput) => (asked.push(input.unsigned), buildSealedBatch(input, keys)) };
  const queued: OutboxItem[] = [];
  const sealer = new Sealer({ gatewayId: 'gw-1', ...keys, state: new OutboxStore(db), journal: j, worker, signer: await mclSigner(), onSealed: (i) => queued.push(i) });
  const id = (await j.append(reading(1))).id!;
  const item = (await sealer.seal([{ reading: reading(1), journalId: id }]))!;
  t.same(asked, [true], 'the worker was asked for an unsigned batch');
  const hh = Uint8Array.from(Buffer.from(item.headerHash, 'hex'));
  t.equal(item.submission.headerSignature, Buffer.from(blsSign(sk, hh)).toString('hex'), "noble's signature, byte for byte");
  t.ok(blsVerify(blsPublicKey(sk), hh, Uint8Array.from(Buffer.from(item.submission.headerSignature, 'hex'))));
  t.equal(queued[0], item, 'queued signed');
  // A worker that returns an unsigned batch to a sealer without a signer: refused, nothing committed.
  const bad = new Sealer({ gatewayId: 'gw-1', ...keys, state: new OutboxStore(db), journal: j, worker: { alive: true, build: (input: SealInput) => buildSealedBatch({ ...input, unsigned: true }, keys) }, onSealed: () => t.fail('not queued') });
  const id2 = (await j.append(reading(2))).id!;
  await t.rejects(bad.seal([{ reading: reading(2), journalId: id2 }]), /came back unsigned/);
  t.equal(j.unsealedCount, 1, 'the reading stays in the journal');
});

t.test('the watermark source: the oldest receive time outside the batch, by index, whatever the arrival order', async (t) => {
  const db = openStateDb(tempDb(t));
  t.teardown(() => db.close());
  const j = new ReadingJournal(db);
  const at = (i: number, receivedAt: number): Reading => ({ ...reading(i), receivedAt });
  // A clock stepped back between readings 2 and 3: arrival order is not receive-time order.
  const ids = (await Promise.all([at(1, 5000), at(2, 6000), at(3, 1000), at(4, 7000)].map((r) => j.append(r)))).map((r) => r.id!);
  t.equal(j.oldestReceivedAt(new Set()), 1000);
  t.equal(j.oldestReceivedAt(new Set([ids[2]!])), 5000, 'the batch being sealed is left out');
  t.equal(j.oldestReceivedAt(new Set(ids)), null, 'nothing else waits');
  t.same([...j.holding([ids[0]!, 999, ids[3]!])].sort(), [ids[0], ids[3]].sort(), 'which rows are still unsealed, in one query');
});

t.test('the disk budget warns, then refuses, and recovers', async (t) => {
  let bytes = 0;
  const logs: string[] = [];
  let now = 0;
  const b = new StorageBudget({ budgetBytes: 1000, measure: () => bytes, log: (l, m) => logs.push(`${l}: ${m}`), now: () => now });
  t.equal(b.state, 'ok');
  bytes = 850;
  t.equal(b.check(), 'ok', 'measured at most every interval');
  now += 1000;
  t.equal(b.check(), 'warn');
  bytes = 1000;
  now += 1000;
  t.equal(b.check(), 'full');
  bytes = 100;
  now += 1000;
  t.equal(b.check(), 'ok');
  t.match(logs, [/^warn: storage alarm: state database uses 0\.0 MB/, /^error: storage FULL/, /^info: storage ok again/], 'each crossing is logged once');
  t.throws(() => new StorageBudget({ budgetBytes: 0, measure: () => 0, log: () => undefined }), /storage budget 0/);
});

t.test('a state database of an older gateway is migrated: receive time as a column, dedupe keys by device time', async (t) => {
  const path = tempDb(t);
  // The layout before: receive time only inside the JSON (and its index), dedupe keys in `seen`.
  const old = openStateDb(path, { fsync: false });
  old.exec(`
    DROP TABLE journal; DROP TABLE dedupe;
    CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, reading TEXT NOT NULL, journaled_at INTEGER NOT NULL);
    CREATE TABLE seen (key TEXT PRIMARY KEY, seen_at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX seen_by_time ON seen (seen_at);
    CREATE INDEX journal_by_received ON journal (json_extract(reading, '$.receivedAt'));
  `);
  const ins = old.prepare('INSERT INTO journal (reading, journaled_at) VALUES (?, ?)');
  const see = old.prepare('INSERT INTO seen (key, seen_at) VALUES (?, ?)');
  for (const i of [3, 1, 2]) {
    ins.run(JSON.stringify(reading(i)), 1);
    see.run(dedupeKey(reading(i)), Date.now());
  }
  old.close();
  const db = openStateDb(path);
  t.teardown(() => db.close());
  const cols = (db.prepare("SELECT name FROM pragma_table_info('journal')").pluck().all() as string[]);
  t.ok(cols.includes('received_at'), 'the journal has its receive-time column');
  t.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('seen', 'journal_by_received')").pluck().get(), 0, 'the old table and index are gone');
  const j = new ReadingJournal(db);
  t.equal(j.oldestReceivedAt(new Set()), reading(1).receivedAt, 'the watermark reads the migrated column');
  t.equal(j.oldestReceivedAt(new Set([2])), reading(2).receivedAt, 'in receive-time order');
  t.same(await j.append(reading(2), dedupeKey(reading(2))), { duplicate: true }, 'a key seen by the older gateway is still recognised');
  t.type((await j.append(reading(4), dedupeKey(reading(4)))).id, 'number', 'a new one is journaled');
  t.equal(j.pruneSeen(), 0, 'the migrated keys keep their time');
  t.equal(db.prepare('SELECT count(*) FROM dedupe').pluck().get(), 4);
});

t.test('commits are paced: a steady trickle is gathered into fewer syncs', async (t) => {
  const db = openStateDb(tempDb(t));
  t.teardown(() => db.close());
  // An idle journal commits a lone reading at once: with a pause of ten minutes it would time out.
  const idle = new ReadingJournal(db, { commitIntervalMs: 600_000 });
  t.type((await idle.append(reading(100), dedupeKey(reading(100)))).id, 'number', 'an idle journal commits a lone reading at once');
  // A pause long enough that ten turns of the event loop fit in it even on a loaded machine.
  const j = new ReadingJournal(db, { commitIntervalMs: 1000 });
  await j.append(reading(1), dedupeKey(reading(1)));
  const acks: Array<Promise<unknown>> = [];
  for (let i = 2; i <= 11; i++) {
    acks.push(j.append(reading(i), dedupeKey(reading(i))));
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(acks);
  t.equal(j.stats.commits, 2, 'ten readings in ten turns of the event loop share one commit after the first');
  t.equal(j.stats.appended, 11);
});

t.test('dedupe keys: every key while recent, then each source\'s newest for the whole window, in bounded space', async (t) => {
  const path = tempDb(t);
  let db = openStateDb(path);
  let clock = 1_700_000_000_000;
  const opts = { now: () => clock, dedupeRecentMs: 600_000, dedupeWindowMs: 6 * 3600_000, dedupeKeepPerSource: 16 };
  let j = new ReadingJournal(db, opts);
  const sources = ['temp-1', 'temp-2', 'temp-3'];
  const key = (i: number, d: string): string => dedupeKey(reading(i, d));
  // 100 readings from each of three devices, one a second (the clock moves by hand).
  for (let i = 1; i <= 100; i++) {
    await Promise.all(sources.map((d) => j.append(reading(i, d), key(i, d))));
    clock += 1000;
  }
  t.same(await j.append(reading(3, 'temp-1'), key(3, 'temp-1')), { duplicate: true }, 'a recent key is recognised before any pruning');
  clock += 20 * 60_000; // all of them are older than the recent window now
  let moved = 0;
  for (let n = j.pruneSeen(50); n > 0; n = j.pruneSeen(50)) moved += n;
  t.equal(moved, 300, 'every aged key went through the ring, 50 at a time');
  t.equal(db.prepare('SELECT count(*) FROM dedupe').pluck().get(), 0, 'no key is left in the recent table');
  t.equal(db.prepare('SELECT count(*) FROM dedupe_last').pluck().get(), 3 * 16, 'the ring holds 16 keys per source: storage grows with sources, not readings');
  db.close();
  db = openStateDb(path); // the ring survives a restart (a crash, a power cut)
  t.teardown(() => db.close());
  j = new ReadingJournal(db, opts);
  clock += 4 * 3600_000; // hours later the devices come back and re-send what was in flight
  for (const d of sources) {
    t.same(await j.append(reading(100, d), key(100, d)), { duplicate: true }, `${d}'s last reading, re-sent hours later, is a duplicate`);
    t.same(await j.append(reading(85, d), key(85, d)), { duplicate: true }, `${d}'s 16th newest too`);
  }
  const old = await j.append(reading(84, 'temp-1'), key(84, 'temp-1'));
  t.type(old.id, 'number', 'an older key of a steady stream was forgotten (it is never re-sent): journaled as new');
  const rebooted = { ...reading(100, 'temp-2'), deviceTime: 1_800_000_000_000 };
  t.type((await j.append(rebooted, dedupeKey(rebooted))).id, 'number', 'the same seq at another device time is new: keys are compared whole');
  clock += 3 * 3600_000; // past the window
  j.pruneSeen();
  t.equal(db.prepare('SELECT count(*) FROM dedupe_last').pluck().get(), 2, 'after the window the first run\'s keys are forgotten; the two journaled since stay');
  t.type((await j.append(reading(99, 'temp-3'), key(99, 'temp-3'))).id, 'number', 'and a re-send is journaled again');
});
