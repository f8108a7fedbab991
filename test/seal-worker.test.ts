// The real seal worker (gateway/sealing/seal-worker.ts) under its heap cap: a batch too big for the
// worker's isolate is sealed inline by the sealer, the worker is started again and takes the next one.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { OutboxStore } from '../gateway/outbox/outbox-store';
import type { OutboxItem } from '../gateway/outbox/outbox';
import { ReadingJournal } from '../gateway/journal/journal';
import { openStateDb } from '../gateway/journal/state-db';
import { Sealer } from '../gateway/sealing/sealer';
import { SealWorker } from '../gateway/sealing/seal-worker';
import { generateOwnerKeyPair } from '../gateway/sealing/envelope';
import { mclSigner } from '../common/mcl-pairing';
import { blsKeygen, blsPublicKey, blsVerify } from '../protocol/bls';
import type { Reading } from '../protocol/reading';

const reading = (i: number): Reading => ({ deviceId: `d-${i}`, patient: `p-${i}`, kind: 'body_temp', mdc: '150364', loinc: '8310-5', value: 36.5, unit: 'Cel', deviceTime: 1_700_000_000_000 + i, receivedAt: 1_700_000_000_000 + i, deviceSeq: i, source: 'mqtt' });

t.test('a batch too big for the worker heap is sealed inline; the restarted worker seals the next', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-sealworker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = openStateDb(join(dir, 'gateway.db'));
  t.teardown(() => db.close());
  const j = new ReadingJournal(db);
  const owner = await generateOwnerKeyPair();
  const sk = blsKeygen(randomBytes(48));
  const keys = { blsSecretKey: sk, ownerPublicKey: owner.publicKey, patientTagKey: new Uint8Array(randomBytes(32)) };
  let ooms = 0;
  // The gateway's cap (SEAL_WORKER_OLD_SPACE_MB): enough for a ward's batch, not for one of 20,000 patients.
  const worker = new SealWorker(keys, { onOutOfMemory: () => ooms++ });
  t.teardown(() => worker.close());
  const queued: OutboxItem[] = [];
  const sealer = new Sealer({ gatewayId: 'gw-1', ...keys, state: new OutboxStore(db), journal: j, worker, signer: await mclSigner(), onSealed: (i) => queued.push(i) });
  const seal = async (from: number, n: number): Promise<OutboxItem> => {
    // Appended together, so that they share commits (one by one, the journal's commit pacing makes
    // 20,000 appends take minutes).
    const rs = Array.from({ length: n }, (_, k) => reading(from + k));
    const ids = await Promise.all(rs.map((r) => j.append(r)));
    const entries = rs.map((r, k) => ({ reading: r, journalId: ids[k]!.id! }));
    return (await sealer.seal(entries))!;
  };
  const small = await seal(0, 3);
  t.equal(small.count, 3);
  t.equal(ooms, 0, 'a small batch fits');
  const big = await seal(100, 20_000);
  t.equal(big.count, 20_000, 'the big batch is sealed all the same');
  t.equal(ooms, 1, 'after the worker ran out of heap once');
  t.equal(worker.restarts, 1);
  t.ok(worker.alive, 'and a new worker is there');
  const next = await seal(50_000, 5);
  t.equal(next.seq, big.seq + 1, 'it seals the next batch, in sequence');
  t.equal(ooms, 1);
  for (const it of [small, big, next]) t.ok(blsVerify(blsPublicKey(sk), Uint8Array.from(Buffer.from(it.headerHash, 'hex')), Uint8Array.from(Buffer.from(it.submission.headerSignature, 'hex'))), `batch ${it.seq} signed`);
  t.equal(j.unsealedCount, 0, 'nothing left in the journal');
  t.same(queued.map((i) => i.seq), [1, 2, 3]);
});

t.test('a heap cap too small for the worker itself: after a few tries the sealer builds inline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-sealworker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = openStateDb(join(dir, 'gateway.db'));
  t.teardown(() => db.close());
  const j = new ReadingJournal(db);
  const owner = await generateOwnerKeyPair();
  const keys = { blsSecretKey: blsKeygen(randomBytes(48)), ownerPublicKey: owner.publicKey, patientTagKey: new Uint8Array(randomBytes(32)) };
  const worker = new SealWorker(keys, { maxOldSpaceMb: 1 });
  t.teardown(() => worker.close());
  const sealer = new Sealer({ gatewayId: 'gw-1', ...keys, state: new OutboxStore(db), journal: j, worker, signer: await mclSigner(), onSealed: () => undefined });
  for (let k = 1; k <= 5; k++) {
    const r = reading(k);
    const item = await sealer.seal([{ reading: r, journalId: (await j.append(r)).id! }]);
    t.equal(item?.seq, k, `batch ${k} sealed`);
  }
  t.ok(worker.restarts <= 3, `started again at most 3 times (${worker.restarts})`);
  for (let k = 6; k <= 7; k++) {
    const r = reading(k);
    t.equal((await sealer.seal([{ reading: r, journalId: (await j.append(r)).id! }]))?.seq, k, `batch ${k} sealed inline`);
  }
  t.notOk(worker.alive, 'then left for inline sealing');
});
