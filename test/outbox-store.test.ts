// The gateway's durable batch state: sealing advances the head and queues the batch atomically,
// and what was queued survives a restart (a reopen of the same database file).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutboxStore } from '../gateway/outbox-store';
import type { OutboxItem } from '../gateway/outbox';

const item = (seq: number): OutboxItem => ({ seq, count: 10, headerHash: String(seq).padStart(64, '0'), root: 'ab'.repeat(32), submission: { v: 1, gatewayId: 'gw-1', header: '01', headerSignature: '00'.repeat(48), envelope: 'AAAA' } });

t.test('seal-and-queue is atomic and survives a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'gateway.db');
  let s = new OutboxStore(path);
  t.equal(s.head.seq, 0);
  s.commit(item(1));
  s.commit(item(2));
  s.commit(item(3));
  t.throws(() => s.commit(item(5)), /batch 5 does not follow the sealed head 3/, 'a gap is refused');
  t.throws(() => s.commit(item(3)), /does not follow/, 'a repeat is refused');
  s.remove(1);
  s.close();
  s.remove(2); // after close: ignored, the batch stays queued
  s = new OutboxStore(path);
  t.teardown(() => s.close());
  t.equal(s.head.seq, 3, 'the head survives');
  t.equal(Buffer.from(s.head.headerHash).toString('hex'), item(3).headerHash);
  t.same(s.pending().map((i) => i.seq), [2, 3], 'unreceipted batches survive, in order');
  t.same(s.pending()[0], item(2), 'with everything needed to resend them');
});
