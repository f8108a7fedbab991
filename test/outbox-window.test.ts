// The outbox's window: the batches waiting at the head of the queue go together in one request,
// their receipts are taken strictly in order, and from the first refused batch on everything is
// sent again. The chain client here is scripted (it stands in for a node, whose real folding is
// tested in chain-node-api.test.ts): this test is about the outbox's order and retries only.
import t from 'tap';
import { Outbox, type OutboxItem } from '../gateway/outbox/outbox';
import type { SignedReceipt } from '../protocol/submission';

const item = (seq: number, bytes = 10): OutboxItem => ({ seq, count: 1, headerHash: `h${seq}`, root: `r${seq}`, submission: { v: 2, gatewayId: 'gw', header: 'aa', headerSignature: 'bb', envelope: 'x'.repeat(bytes) } });
const receipt = (seq: number): SignedReceipt => ({ receipt: { seq } as unknown as SignedReceipt['receipt'], signature: '' });

/** A scripted client: records each request's sequence numbers, answers from `answer`. */
function scripted(answer: (seqs: number[], call: number) => Array<SignedReceipt | Error>) {
  const requests: number[][] = [];
  let release: (() => void) | null = null;
  let gate: Promise<void> = Promise.resolve();
  const client = {
    submit: async (_s: unknown, e: { seq: number }): Promise<SignedReceipt> => {
      requests.push([e.seq]);
      await gate;
      const r = answer([e.seq], requests.length - 1)[0]!;
      if (r instanceof Error) throw r;
      return r;
    },
    submitMany: async (items: ReadonlyArray<{ expect: { seq: number } }>): Promise<Array<SignedReceipt | Error>> => {
      const seqs = items.map((i) => i.expect.seq);
      requests.push(seqs);
      await gate;
      return answer(seqs, requests.length - 1);
    },
  };
  return {
    client,
    requests,
    hold: () => {
      gate = new Promise((r) => (release = r));
    },
    release: () => release?.(),
  };
}

t.test('batches waiting together go in one request; receipts in order', async (t) => {
  const s = scripted((seqs) => seqs.map(receipt));
  const out = new Outbox({ client: s.client, random: () => 0 });
  const got: number[] = [];
  out.on('receipt', (i) => got.push(i.seq));
  s.hold();
  out.enqueue(item(1));
  for (let k = 2; k <= 5; k++) out.enqueue(item(k));
  s.release();
  await out.drained();
  t.same(s.requests, [[1], [2, 3, 4, 5]], 'batch 1 alone (nothing else waited), then the four sealed meanwhile together');
  t.same(got, [1, 2, 3, 4, 5]);
});

t.test('a refused batch: the receipts before it are taken, it and every later one go again', async (t) => {
  let fail = true;
  const s = scripted((seqs) =>
    seqs.map((q) => {
      if (q === 3 && fail) {
        fail = false;
        return new Error('503 send batches 4..4 first');
      }
      return receipt(q);
    }),
  );
  const errors: number[] = [];
  const out = new Outbox({ client: s.client, random: () => 0, onError: (i) => errors.push(i.seq) });
  const got: number[] = [];
  out.on('receipt', (i) => got.push(i.seq));
  s.hold();
  out.enqueue(item(1));
  for (let k = 2; k <= 4; k++) out.enqueue(item(k));
  s.release();
  await out.drained();
  t.same(s.requests, [[1], [2, 3, 4], [3, 4]], "batch 4's receipt is not taken before batch 3's: both go again");
  t.same(got, [1, 2, 3, 4], 'every receipt once, in order');
  t.same(errors, [], 'a refusal after the first batch is not an error of the request (progress was made)');
});

t.test('a refused first batch is retried with backoff; the window is bounded by count and bytes', async (t) => {
  let calls = 0;
  const s = scripted((seqs) => (calls++ === 0 ? seqs.map(() => new Error('node away')) : seqs.map(receipt)));
  const errors: number[] = [];
  const out = new Outbox({ client: s.client, random: () => 0, window: 2, windowBytes: 25, onError: (i) => errors.push(i.seq) });
  s.hold();
  out.enqueue(item(1));
  out.enqueue(item(2, 10));
  out.enqueue(item(3, 10));
  out.enqueue(item(4, 30));
  out.enqueue(item(5));
  s.release();
  await out.drained();
  t.same(errors, [1], 'the first request failed as a whole');
  t.same(s.requests, [[1], [1, 2], [3], [4], [5]], 'two at most, 25 bytes at most (header and envelope) unless one batch alone is larger');
});

t.test('window 1, or a client without submitMany: one batch per request', async (t) => {
  const s = scripted((seqs) => seqs.map(receipt));
  const out = new Outbox({ client: { submit: s.client.submit }, random: () => 0 });
  s.hold();
  for (let k = 1; k <= 3; k++) out.enqueue(item(k));
  s.release();
  await out.drained();
  t.same(s.requests, [[1], [2], [3]]);
});
