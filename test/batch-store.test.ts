// The chain node's ciphertext store (format 3: a small JSON record per batch and its envelope in a
// raw file read by offset): round trip, a receipt rewrites only the record, an envelope replaced
// before anchoring leaves no stale file, byte ranges by offset, and format 2 files (one JSON per
// batch, envelope inline) still read.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BatchStore } from '../chain-node/batch-store';
import { buildBatch, decodeDirectoryPrefix, encodeHeader } from '../protocol/batch';
import type { BatchSubmission, SignedReceipt } from '../protocol/submission';
import { reading } from './share.helpers';

const T0 = Date.UTC(2026, 0, 10, 8);

function submission(seq: number, value: number): { sub: BatchSubmission; envelope: Buffer } {
  const rs = ['p-a', 'p-b', 'p-c'].flatMap((p, k) => [0, 1, 2].map((i) => reading(p, T0 + i * 1000 + k, i, value + i)));
  const b = buildBatch({ gatewayId: 'gw-1', seq, prevHash: new Uint8Array(32), readings: rs, tagKey: new Uint8Array(32).fill(7), epoch: { id: T0, key: new Uint8Array(randomBytes(32)), wrapped: new Uint8Array(80).fill(1) }, sealedAt: T0 + 5000, watermark: T0 + 5000 });
  const envelope = Buffer.from(b.envelope);
  return { sub: { v: 2, gatewayId: 'gw-1', header: Buffer.from(encodeHeader(b.header)).toString('hex'), headerSignature: 'ab'.repeat(48), envelope: envelope.toString('base64') }, envelope };
}

const receipt = (seq: number): SignedReceipt => ({ receipt: { v: 1, nodeId: 'n', gatewayId: 'gw-1', seq, headerHash: '00'.repeat(32), root: '00'.repeat(32), count: 9, txHash: `0x${'11'.repeat(32)}`, blockNumber: 7, status: 'anchored' }, signature: 'cd'.repeat(48) });

t.test('batch store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new BatchStore(dir);
  const gw = join(dir, 'gw-1');
  const a = submission(1, 90);
  store.put('gw-1', 1, { submission: a.sub, receipt: null });
  t.same(store.get('gw-1', 1), { submission: a.sub, receipt: null }, 'round trip');
  t.same(store.sequences('gw-1'), [1]);
  const files = readdirSync(gw).sort();
  t.equal(files.length, 2, 'a record and an envelope file');
  t.match(files[0], /^000000000001-[0-9a-f]{16}\.env$/);
  t.equal(files[1], '000000000001.json');
  t.ok(readFileSync(join(gw, files[0]!)).equals(a.envelope), 'the envelope is stored as raw bytes');
  t.ok(statSync(join(gw, files[1]!)).size < 1000, 'the record is small (no envelope in it)');

  const envStat = statSync(join(gw, files[0]!));
  store.put('gw-1', 1, { submission: a.sub, receipt: receipt(1) });
  t.equal(statSync(join(gw, files[0]!)).mtimeMs, envStat.mtimeMs, 'a receipt does not rewrite the envelope');
  t.same(store.get('gw-1', 1)?.receipt, receipt(1));

  const m = store.meta('gw-1', 1)!;
  t.equal(m.envelopeLength, a.envelope.length);
  const { directory, length } = decodeDirectoryPrefix(a.envelope);
  t.equal(m.directoryLength, length);
  t.notOk('envelope' in m.submission, 'meta carries no envelope');
  const second = length + directory.slices[0]!.ciphertextLength;
  const [d, s1] = store.readEnvelope('gw-1', 1, [[0, length], [second, directory.slices[1]!.ciphertextLength]]);
  t.ok(d!.equals(a.envelope.subarray(0, length)), 'the directory by offset');
  t.ok(s1!.equals(a.envelope.subarray(second, second + directory.slices[1]!.ciphertextLength)), 'a slice by offset');
  t.throws(() => store.readEnvelope('gw-1', 1, [[a.envelope.length - 2, 10]]), /envelope ends before/);
  const held = store.open('gw-1', 1)!;
  t.same(held.meta, m, 'held open: the same record');
  const [hd] = held.read([[0, length]]);
  const [hs] = held.read([[second, directory.slices[1]!.ciphertextLength]]);
  t.ok(hd!.equals(d!) && hs!.equals(s1!), 'held open: reads by offset, one after another');
  held.close();
  held.close();
  t.equal(store.open('gw-1', 99), undefined, 'not stored');

  // Replaced before anchoring (stored, never anchored, submitted again with other readings).
  const b = submission(1, 60);
  store.put('gw-1', 1, { submission: b.sub, receipt: null });
  t.same(store.get('gw-1', 1)?.submission, b.sub, 'the new envelope');
  t.equal(readdirSync(gw).filter((f) => f.endsWith('.env')).length, 1, 'the replaced envelope file is gone');

  // Format 2: one JSON file with the envelope inline.
  const c = submission(2, 70);
  writeFileSync(join(gw, '000000000002.json'), JSON.stringify({ submission: c.sub, receipt: receipt(2) }));
  t.same(store.sequences('gw-1'), [1, 2]);
  t.same(store.get('gw-1', 2), { submission: c.sub, receipt: receipt(2) }, 'format 2 reads as before');
  t.equal(store.meta('gw-1', 2)?.directoryLength, decodeDirectoryPrefix(c.envelope).length);
  t.ok(store.readEnvelope('gw-1', 2, [[5, 20]])[0]!.equals(c.envelope.subarray(5, 25)), 'format 2 by offset');
  t.ok(store.open('gw-1', 2)!.read([[5, 20]])[0]!.equals(c.envelope.subarray(5, 25)), 'format 2 held open');
  store.put('gw-1', 2, { submission: c.sub, receipt: receipt(2) });
  t.match(readFileSync(join(gw, '000000000002.json'), 'utf8'), /"format":3/, 'rewritten as format 3');
  t.same(store.get('gw-1', 2), { submission: c.sub, receipt: receipt(2) });

  // A record naming a file outside its batch is refused.
  writeFileSync(join(gw, '000000000003.json'), JSON.stringify({ format: 3, submission: {}, envelope: { file: '../x.env', length: 1, directoryLength: 1 }, receipt: null }));
  t.throws(() => store.get('gw-1', 3), /names envelope file/);
});
