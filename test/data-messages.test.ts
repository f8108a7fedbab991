// The data user ↔ chain node messages: requests parsed strictly (the reply mode included), replies
// as JSON (older clients) and binary (bytes as they are) decoding to the same answer, and a binary
// reply whose counts do not match its bytes refused.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { decodeUserReply, decodeUserRequest, encodeUserReply, encodeUserRequest, type UserReply } from '../protocol/sharing/data-messages';

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

const reply: UserReply = {
  ok: true,
  access: { id: 'ab'.repeat(16), grantId: 3, from: 1000, to: 2000, txHash: `0x${'12'.repeat(32)}`, blockNumber: 9 },
  cursor: 0,
  next: null,
  total: 2,
  gateways: [
    { gatewayId: 'gw-1', lo: 1, hi: 2, batches: [
      { seq: 1, header: bytes(150), signature: bytes(48), directory: bytes(91 + 2 * 124), anchor: { txHash: `0x${'34'.repeat(32)}`, blockNumber: 5 }, slices: [{ index: 1, ciphertext: bytes(3000) }] },
      { seq: 2, header: bytes(150), signature: bytes(48), directory: bytes(91 + 124), anchor: null, slices: [] },
    ] },
    { gatewayId: 'gw-2', lo: 0, hi: 0, batches: [] },
  ],
};

// Bytes as hex, whatever their class (a Buffer's toJSON runs before a replacer sees it).
const plain = (r: UserReply): unknown =>
  JSON.parse(
    JSON.stringify(r, function (this: Record<string, unknown>, k: string, v: unknown) {
      const raw = this[k];
      return raw instanceof Uint8Array ? Buffer.from(raw).toString('hex') : v;
    }),
  );

t.test('replies: JSON and binary carry the same answer', async (t) => {
  const json = encodeUserReply(reply);
  const bin = encodeUserReply(reply, true);
  t.equal(json[0], '{'.charCodeAt(0), 'JSON by default');
  t.equal(bin[0], 0x00, 'binary starts with 0x00');
  t.same(plain(decodeUserReply(json)), plain(reply));
  t.same(plain(decodeUserReply(bin)), plain(reply));
  t.ok(bin.length < json.length * 0.8, `binary is smaller (${bin.length} vs ${json.length} bytes)`);
  const refusal: UserReply = { ok: false, status: 403, refusal: 'no-grant', error: 'no' };
  t.same(decodeUserReply(encodeUserReply(refusal, true)), refusal, 'a refusal is JSON either way');
});

t.test('a binary reply whose counts do not match its bytes is refused', async (t) => {
  const bin = encodeUserReply(reply, true);
  t.throws(() => decodeUserReply(bin.subarray(0, bin.length - 1)), /runs past the end/, 'truncated');
  t.throws(() => decodeUserReply(Buffer.concat([bin, Buffer.from([0])])), /1 bytes after the last batch/, 'trailing byte');
  const v2 = Buffer.from(bin);
  v2[1] = 2;
  t.throws(() => decodeUserReply(v2), /binary reply version 2/);
  const m = v2.readUInt32BE(2);
  const meta = JSON.parse(Buffer.from(bin.subarray(6, 6 + m)).toString('utf8')) as { gateways: Array<{ batches: Array<{ slices: unknown }> }> };
  meta.gateways[0]!.batches[0]!.slices = [[1, -5]];
  const mb = Buffer.from(JSON.stringify(meta));
  const head = Buffer.alloc(6);
  head[1] = 1;
  head.writeUInt32BE(mb.length, 2);
  t.throws(() => decodeUserReply(Buffer.concat([head, mb, bin.subarray(6 + m)])), /field "length" must be an integer/);
});

t.test('requests: the reply mode is the only optional field', async (t) => {
  const q = { type: 'user-query' as const, grantId: 1, firstDay: 20_000, tags: ['00'.repeat(32)], from: 1, to: 2 };
  t.same(decodeUserRequest(encodeUserRequest(q)), q);
  t.same(decodeUserRequest(encodeUserRequest({ ...q, reply: 'binary' })), { ...q, reply: 'binary' });
  t.same(decodeUserRequest(encodeUserRequest({ type: 'user-query-page', access: 'ab'.repeat(16), cursor: 4, reply: 'binary' })), { type: 'user-query-page', access: 'ab'.repeat(16), cursor: 4, reply: 'binary' });
  t.throws(() => decodeUserRequest(Buffer.from(JSON.stringify({ ...q, reply: 'xml' }))), /"reply" must be "binary"/);
  t.throws(() => decodeUserRequest(Buffer.from(JSON.stringify({ ...q, extra: 1 }))), /unknown field "extra"/);
});
