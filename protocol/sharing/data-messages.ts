/**
 * What a data user and a chain node say inside a handshake session (role user): a query for one
 * patient's slices over a time range under an on-chain grant, its continuation pages, and the
 * node's answer or refusal. Requests and refusals are JSON, parsed strictly. docs/sharing.md
 * describes the flow.
 *
 *   query    {type: "user-query", grantId, firstDay, tags: [hex32…], from, to, reply?: "binary"}
 *   page     {type: "user-query-page", access, cursor, reply?: "binary"}
 *   reply    {ok: true, access: {id, grantId, from, to, txHash, blockNumber}, cursor, next, total,
 *             gateways: [{gatewayId, lo, hi, batches: [{seq, header, signature, directory, anchor, slices}]}]}
 *   refusal  {ok: false, status, refusal, error}
 *
 * A reply is binary when the request says `reply: "binary"` (what `mcps data` asks for): the bytes
 * travel as they are, nothing is re-encoded or parsed per byte:
 *
 *   0x00 ‖ 0x01 ‖ u32 m ‖ m bytes of JSON (the reply above, each batch as {seq, anchor, header: n,
 *   directory: n, slices: [[index, n], …]}: byte counts) ‖ the batches' bytes in order, each header ‖
 *   signature (48) ‖ directory ‖ its slices' ciphertexts
 *
 * and the body is exactly as long as the counts say. Otherwise (an older client) the reply is JSON
 * with hex headers and signatures and base64 directories and ciphertexts. A JSON document never
 * starts with 0x00, so a client tells the two apart by the first byte.
 *
 * `tags` are the patient's day tags for every day of the grant, starting at `firstDay` (the node
 * checks their hash against the grant's tagsHash); [from, to] (ms, inclusive) lies inside the
 * grant's range. For each gateway of the grant's hospital a reply covers the contiguous run of
 * sequence numbers lo..hi the user needs to check completeness (docs/protocol.md, sealedAt and
 * watermark), split into pages (`cursor`: index of the page's first batch among the `total`
 * batches of the answer; `next`: the next page's cursor, null after the last page); a batch carries its header, the gateway's signature, its
 * directory, where it is anchored, and the ciphertexts of exactly the slices whose tag is one of
 * the query's and whose time span meets [from, to].
 */
import { TAG_LENGTH } from './tags';

export type UserRequest =
  | { readonly type: 'user-query'; readonly grantId: number; readonly firstDay: number; readonly tags: readonly string[]; readonly from: number; readonly to: number; readonly reply?: 'binary' }
  | { readonly type: 'user-query-page'; readonly access: string; readonly cursor: number; readonly reply?: 'binary' };

/** Why the node refused: a fixed set (they are metric labels too). */
export const REFUSALS = ['no-grant', 'wrong-user', 'expired', 'revoked', 'unknown-user', 'revoked-user', 'out-of-range', 'bad-tags', 'not-recorded', 'bad-request', 'no-access-log', 'unknown-access', 'unavailable'] as const;
export type Refusal = (typeof REFUSALS)[number];

export interface ServedSlice {
  /** Index of the slice in the batch directory. */
  readonly index: number;
  /** the slice ciphertext */
  readonly ciphertext: Uint8Array;
}

export interface ServedBatch {
  readonly seq: number;
  /** the encoded header */
  readonly header: Uint8Array;
  /** the gateway's BLS signature over the header hash (48 bytes) */
  readonly signature: Uint8Array;
  /** the batch directory */
  readonly directory: Uint8Array;
  /** Where the node anchored it (its receipt; null while its anchoring is under way); the user checks the chain itself. */
  readonly anchor: { readonly txHash: string; readonly blockNumber: number } | null;
  readonly slices: readonly ServedSlice[];
}

export interface ServedGateway {
  readonly gatewayId: string;
  /** The run of sequence numbers the whole answer covers for this gateway (0, 0: none stored). */
  readonly lo: number;
  readonly hi: number;
  /** This page's batches of that run, in order. */
  readonly batches: readonly ServedBatch[];
}

export interface AccessRef {
  /** The node's id for this access (continuation pages name it). */
  readonly id: string;
  readonly grantId: number;
  readonly from: number;
  readonly to: number;
  /** The AccessLog transaction that recorded it. */
  readonly txHash: string;
  readonly blockNumber: number;
}

export type UserReply =
  | { readonly ok: true; readonly access: AccessRef; readonly cursor: number; readonly next: number | null; readonly total: number; readonly gateways: readonly ServedGateway[] }
  | { readonly ok: false; readonly status: number; readonly refusal: Refusal; readonly error: string };

const enc = (x: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(x));

function parseObject(b: Uint8Array, what: string): Record<string, unknown> {
  let x: unknown;
  try {
    x = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
  } catch (err) {
    throw new RangeError(`${what}: not JSON (${(err as Error).message})`);
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new RangeError(`${what}: expected an object`);
  return x as Record<string, unknown>;
}

function int(o: Record<string, unknown>, k: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k];
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max) throw new RangeError(`${what}: field "${k}" must be an integer 0..${max}`);
  return v as number;
}

function str(o: Record<string, unknown>, k: string, what: string, re: RegExp): string {
  const v = o[k];
  if (typeof v !== 'string' || !re.test(v)) throw new RangeError(`${what}: field "${k}" is malformed`);
  return v;
}

const HEX = /^(?:[0-9a-f]{2})+$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const TX = /^0x[0-9a-f]{64}$/;
const TAG_HEX = new RegExp(`^[0-9a-f]{${TAG_LENGTH * 2}}$`);
/** A query names at most this many day tags (the grant's days). */
export const MAX_QUERY_TAGS = 3660;

export function encodeUserRequest(r: UserRequest): Uint8Array {
  return enc(r);
}

function replyMode(o: Record<string, unknown>, w: string): { reply?: 'binary' } {
  if (o.reply === undefined) return {};
  if (o.reply !== 'binary') throw new RangeError(`${w}: field "reply" must be "binary"`);
  return { reply: 'binary' };
}

/** Strict: unknown types, fields or malformed values are RangeErrors naming the field. */
export function decodeUserRequest(b: Uint8Array): UserRequest {
  const w = 'user request';
  const o = parseObject(b, w);
  if (o.type === 'user-query') {
    for (const k of Object.keys(o)) if (!['type', 'grantId', 'firstDay', 'tags', 'from', 'to', 'reply'].includes(k)) throw new RangeError(`${w}: unknown field "${k}"`);
    if (!Array.isArray(o.tags) || o.tags.length < 1 || o.tags.length > MAX_QUERY_TAGS) throw new RangeError(`${w}: field "tags" must hold 1..${MAX_QUERY_TAGS} tags`);
    const tags = o.tags.map((t, i) => {
      if (typeof t !== 'string' || !TAG_HEX.test(t)) throw new RangeError(`${w}: tag ${i} must be ${TAG_LENGTH} bytes of lowercase hex`);
      return t;
    });
    const from = int(o, 'from', w);
    const to = int(o, 'to', w);
    if (to < from) throw new RangeError(`${w}: "to" is before "from"`);
    return { type: 'user-query', grantId: int(o, 'grantId', w), firstDay: int(o, 'firstDay', w, 0xffffffff), tags, from, to, ...replyMode(o, w) };
  }
  if (o.type === 'user-query-page') {
    for (const k of Object.keys(o)) if (!['type', 'access', 'cursor', 'reply'].includes(k)) throw new RangeError(`${w}: unknown field "${k}"`);
    return { type: 'user-query-page', access: str(o, 'access', w, /^[0-9a-f]{32}$/), cursor: int(o, 'cursor', w), ...replyMode(o, w) };
  }
  throw new RangeError(`${w}: unknown type ${JSON.stringify(o.type)}`);
}

const BINARY_REPLY = 0x01;
const SIGNATURE_LENGTH = 48;

/** A reply as JSON (binary fields hex and base64), or binary (module comment) when `binary`. */
export function encodeUserReply(r: UserReply, binary = false): Uint8Array {
  if (!r.ok) return enc(r);
  if (!binary) {
    const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
    const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
    return enc({ ...r, gateways: r.gateways.map((g) => ({ ...g, batches: g.batches.map((b) => ({ seq: b.seq, header: hex(b.header), signature: hex(b.signature), directory: b64(b.directory), anchor: b.anchor, slices: b.slices.map((s) => ({ index: s.index, ciphertext: b64(s.ciphertext) })) })) })) });
  }
  const parts: Uint8Array[] = [];
  const meta = {
    ...r,
    gateways: r.gateways.map((g) => ({
      ...g,
      batches: g.batches.map((b) => {
        if (b.signature.length !== SIGNATURE_LENGTH) throw new RangeError(`batch ${b.seq}: a signature is ${SIGNATURE_LENGTH} bytes`);
        parts.push(b.header, b.signature, b.directory, ...b.slices.map((s) => s.ciphertext));
        return { seq: b.seq, anchor: b.anchor, header: b.header.length, directory: b.directory.length, slices: b.slices.map((s) => [s.index, s.ciphertext.length]) };
      }),
    })),
  };
  const m = Buffer.from(JSON.stringify(meta));
  const head = Buffer.alloc(6);
  head[0] = 0x00;
  head[1] = BINARY_REPLY;
  head.writeUInt32BE(m.length, 2);
  return Buffer.concat([head, m, ...parts]);
}

function parseAnchor(o: Record<string, unknown>, where: string): ServedBatch['anchor'] {
  const a = o.anchor as Record<string, unknown> | null | undefined;
  if (a === undefined || typeof a !== 'object') throw new RangeError(`${where}: field "anchor" missing`);
  return a === null ? null : { txHash: str(a, 'txHash', `${where} anchor`, TX), blockNumber: int(a, 'blockNumber', `${where} anchor`) };
}

function parseBatch(x: unknown, where: string): ServedBatch {
  if (typeof x !== 'object' || x === null) throw new RangeError(`${where}: expected an object`);
  const o = x as Record<string, unknown>;
  if (!Array.isArray(o.slices)) throw new RangeError(`${where}: field "slices" must be a list`);
  const bytes = (v: string, e: 'hex' | 'base64'): Uint8Array => new Uint8Array(Buffer.from(v, e));
  return {
    seq: int(o, 'seq', where),
    header: bytes(str(o, 'header', where, HEX), 'hex'),
    signature: bytes(str(o, 'signature', where, /^[0-9a-f]{96}$/), 'hex'),
    directory: bytes(str(o, 'directory', where, B64), 'base64'),
    anchor: parseAnchor(o, where),
    slices: o.slices.map((s, i) => {
      if (typeof s !== 'object' || s === null) throw new RangeError(`${where} slice ${i}: expected an object`);
      const so = s as Record<string, unknown>;
      return { index: int(so, 'index', `${where} slice ${i}`, 0xffff), ciphertext: bytes(str(so, 'ciphertext', `${where} slice ${i}`, B64), 'base64') };
    }),
  };
}

/** Reads a binary batch's bytes from `body` at `at.o` (advanced); every count checked against what is left. */
function parseBinaryBatch(x: unknown, where: string, body: Uint8Array, at: { o: number }): ServedBatch {
  if (typeof x !== 'object' || x === null) throw new RangeError(`${where}: expected an object`);
  const o = x as Record<string, unknown>;
  const take = (n: number, what: string): Uint8Array => {
    if (at.o + n > body.length) throw new RangeError(`${where}: ${what} (${n} bytes) runs past the end of the reply`);
    const b = body.subarray(at.o, at.o + n);
    at.o += n;
    return b;
  };
  const header = take(int(o, 'header', where, 0xffff), 'header');
  const signature = take(SIGNATURE_LENGTH, 'signature');
  const directory = take(int(o, 'directory', where, 0xffffffff), 'directory');
  if (!Array.isArray(o.slices)) throw new RangeError(`${where}: field "slices" must be a list`);
  const slices = o.slices.map((s, i) => {
    if (!Array.isArray(s) || s.length !== 2) throw new RangeError(`${where} slice ${i}: expected [index, length]`);
    const so = { index: s[0] as unknown, length: s[1] as unknown };
    const index = int(so, 'index', `${where} slice ${i}`, 0xffff);
    return { index, ciphertext: take(int(so, 'length', `${where} slice ${i}`, 0xffffffff), `slice ${i}`) };
  });
  return { seq: int(o, 'seq', where), header, signature, directory, anchor: parseAnchor(o, where), slices };
}

export function decodeUserReply(b: Uint8Array): UserReply {
  const w = 'user reply';
  let o: Record<string, unknown>;
  let batch: (x: unknown, where: string) => ServedBatch = parseBatch;
  let body: Uint8Array | null = null;
  const at = { o: 0 };
  if (b.length > 0 && b[0] === 0x00) {
    if (b.length < 6 || b[1] !== BINARY_REPLY) throw new RangeError(`${w}: binary reply version ${b[1]}, expected ${BINARY_REPLY}`);
    const m = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(2);
    if (6 + m > b.length) throw new RangeError(`${w}: its JSON part runs past the end`);
    o = parseObject(b.subarray(6, 6 + m), w);
    if (o.ok !== true) throw new RangeError(`${w}: a binary reply is an answer`);
    const bytes = b.subarray(6 + m);
    body = bytes;
    batch = (x, where) => parseBinaryBatch(x, where, bytes, at);
  } else o = parseObject(b, w);
  if (o.ok === false) {
    if (!REFUSALS.includes(o.refusal as Refusal)) throw new RangeError(`${w}: unknown refusal ${JSON.stringify(o.refusal)}`);
    if (typeof o.error !== 'string') throw new RangeError(`${w}: field "error" missing`);
    return { ok: false, status: int(o, 'status', w, 599), refusal: o.refusal as Refusal, error: o.error };
  }
  if (o.ok !== true) throw new RangeError(`${w}: field "ok" missing`);
  const a = o.access as Record<string, unknown> | undefined;
  if (typeof a !== 'object' || a === null) throw new RangeError(`${w}: field "access" missing`);
  const access: AccessRef = { id: str(a, 'id', `${w} access`, /^[0-9a-f]{32}$/), grantId: int(a, 'grantId', `${w} access`), from: int(a, 'from', `${w} access`), to: int(a, 'to', `${w} access`), txHash: str(a, 'txHash', `${w} access`, TX), blockNumber: int(a, 'blockNumber', `${w} access`) };
  if (!Array.isArray(o.gateways)) throw new RangeError(`${w}: field "gateways" must be a list`);
  const gateways = o.gateways.map((g, i): ServedGateway => {
    if (typeof g !== 'object' || g === null) throw new RangeError(`${w} gateway ${i}: expected an object`);
    const go = g as Record<string, unknown>;
    if (!Array.isArray(go.batches)) throw new RangeError(`${w} gateway ${i}: field "batches" must be a list`);
    const gatewayId = str(go, 'gatewayId', `${w} gateway ${i}`, /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/);
    return { gatewayId, lo: int(go, 'lo', `${w} gateway ${i}`), hi: int(go, 'hi', `${w} gateway ${i}`), batches: go.batches.map((x, j) => batch(x, `${w} ${gatewayId} batch ${j}`)) };
  });
  if (body && at.o !== body.length) throw new RangeError(`${w}: ${body.length - at.o} bytes after the last batch`);
  const next = o.next === null ? null : int(o, 'next', w);
  return { ok: true, access, cursor: int(o, 'cursor', w), next, total: int(o, 'total', w), gateways };
}
