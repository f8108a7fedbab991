// The outbox: batches go out in order, one at a time; with a store to read them back, only the next
// few batches' envelopes stay in memory, whatever the backlog.
import t from 'tap';
import { Outbox, type OutboxItem } from '../gateway/outbox/outbox';
import type { BatchSubmission, SignedReceipt } from '../protocol/submission';

const envelopeOf = (seq: number): string => Buffer.alloc(64, seq).toString('base64');
const item = (seq: number, envelope = envelopeOf(seq)): OutboxItem => ({ seq, count: 10, headerHash: String(seq).padStart(64, '0'), root: 'ab'.repeat(32), submission: { v: 2, gatewayId: 'gw-1', header: '01', headerSignature: '00'.repeat(48), envelope } });

t.test('a backlog keeps only the next envelopes in memory; every batch goes out whole, in order', async (t) => {
  const stored = new Map<number, string>();
  let open = true; // the chain node is away until this turns false
  const sent: Array<{ seq: number; envelope: string }> = [];
  const attempts: number[] = [];
  const outbox = new Outbox({
    client: {
      submit: async (s: BatchSubmission, at: { seq: number }) => {
        attempts.push(at.seq);
        if (open) throw new Error('node away');
        sent.push({ seq: at.seq, envelope: s.envelope });
        return {} as SignedReceipt;
      },
    },
    baseDelayMs: 1,
    maxDelayMs: 5,
    envelopes: { load: (seq) => stored.get(seq), keep: 2 },
  });
  const receipts: OutboxItem[] = [];
  outbox.on('receipt', (i) => {
    receipts.push(i);
    stored.delete(i.seq);
  });
  for (let seq = 1; seq <= 20; seq++) {
    stored.set(seq, envelopeOf(seq)); // the store commits before the batch is queued
    outbox.enqueue(item(seq));
  }
  t.equal(outbox.pending, 20);
  t.equal(outbox.envelopesInMemory, 2, 'two envelopes held, eighteen left in the store');
  t.equal(outbox.oldest?.seq, 1);
  await new Promise((r) => setTimeout(r, 30));
  t.ok(attempts.length > 1, 'the first batch is retried while the node is away');
  open = false;
  await outbox.drained();
  t.same(sent.map((s) => s.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'in order');
  t.ok(sent.every((s) => s.envelope === envelopeOf(s.seq)), 'each with its own envelope, read back where it was dropped');
  t.ok(receipts.every((r) => r.submission.envelope === envelopeOf(r.seq)), 'receipt listeners see whole batches');

  // Batches carried over a restart arrive without envelopes (OutboxStore.pending(false)).
  stored.set(21, envelopeOf(21));
  outbox.enqueue(item(21, ''));
  t.equal(outbox.envelopesInMemory, 0);
  await outbox.drained();
  t.same(sent.at(-1), { seq: 21, envelope: envelopeOf(21) });
  outbox.stop();
});

t.test('without a store every envelope stays in memory; an empty one is refused', async (t) => {
  const outbox = new Outbox({ client: { submit: () => new Promise<SignedReceipt>(() => undefined) } });
  outbox.enqueue(item(1));
  outbox.enqueue(item(2));
  outbox.enqueue(item(3));
  t.equal(outbox.envelopesInMemory, 3);
  t.throws(() => outbox.enqueue(item(4, '')), /batch 4 has no envelope and no store/);
  outbox.stop();
});

t.test('an envelope missing from the store is an error, logged and retried, not a crash', async (t) => {
  const errors: string[] = [];
  const stored = new Map<number, string>();
  const outbox = new Outbox({
    client: { submit: async () => ({}) as SignedReceipt },
    baseDelayMs: 1,
    maxDelayMs: 2,
    envelopes: { load: (seq) => stored.get(seq), keep: 0 },
    onError: (_i, err) => errors.push(err.message),
  });
  outbox.enqueue(item(1));
  await new Promise((r) => setTimeout(r, 20));
  t.match(errors[0], /the envelope of batch 1 is not in the store/);
  stored.set(1, envelopeOf(1));
  await outbox.drained();
  t.equal(outbox.pending, 0, 'sent once it is there');
  outbox.stop();
});
