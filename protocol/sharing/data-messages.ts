/**
 * What a data user and a chain node say inside a handshake session (role user): a query for one
 * patient's slices over a time range under an on-chain grant, its continuation pages, and the
 * node's answer or refusal. JSON, parsed strictly; binary fields are hex (hashes, tags, headers,
 * signatures) or base64 (directories, ciphertexts). docs/sharing.md describes the flow.
 *
 *   query    {type: "user-query", grantId, firstDay, tags: [hex32…], from, to}
 *   page     {type: "user-query-page", access, cursor}
 *   reply    {ok: true, access: {id, grantId, from, to, txHash, blockNumber}, cursor, next, total,
 *             gateways: [{gatewayId, lo, hi, batches: [{seq, header, signature, directory, anchor, slices}]}]}
 *   refusal  {ok: false, status, refusal, error}
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
  | { readonly type: 'user-query'; readonly grantId: number; readonly firstDay: number; readonly tags: readonly string[]; readonly from: number; readonly to: number }
  | { readonly type: 'user-query-page'; readonly access: string; readonly cursor: number };

/** Why the node refused: a fixed set (they are metric labels too). */
export const REFUSALS = ['no-grant', 'wrong-user', 'expired', 'revoked', 'unknown-user', 'revoked-user', 'out-of-range', 'bad-tags', 'not-recorded', 'bad-request', 'no-access-log', 'unknown-access', 'unavailable'] as const;
export type Refusal = (typeof REFUSALS)[number];

export interface ServedSlice {
  /** Index of the slice in the batch directory. */
  readonly index: number;
  /** base64 of the slice ciphertext */
  readonly ciphertext: string;
}

export interface ServedBatch {
  readonly seq: number;
  /** hex of the encoded header */
  readonly header: string;
  /** hex of the gateway's BLS signature over the header hash */
  readonly signature: string;
  /** base64 of the batch directory */
  readonly directory: string;
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

/** Strict: unknown types, fields or malformed values are RangeErrors naming the field. */
export function decodeUserRequest(b: Uint8Array): UserRequest {
  const w = 'user request';
  const o = parseObject(b, w);
  if (o.type === 'user-query') {
    for (const k of Object.keys(o)) if (!['type', 'grantId', 'firstDay', 'tags', 'from', 'to'].includes(k)) throw new RangeError(`${w}: unknown field "${k}"`);
    if (!Array.isArray(o.tags) || o.tags.length < 1 || o.tags.length > MAX_QUERY_TAGS) throw new RangeError(`${w}: field "tags" must hold 1..${MAX_QUERY_TAGS} tags`);
    const tags = o.tags.map((t, i) => {
      if (typeof t !== 'string' || !TAG_HEX.test(t)) throw new RangeError(`${w}: tag ${i} must be ${TAG_LENGTH} bytes of lowercase hex`);
      return t;
    });
    const from = int(o, 'from', w);
    const to = int(o, 'to', w);
    if (to < from) throw new RangeError(`${w}: "to" is before "from"`);
    return { type: 'user-query', grantId: int(o, 'grantId', w), firstDay: int(o, 'firstDay', w, 0xffffffff), tags, from, to };
  }
  if (o.type === 'user-query-page') {
    for (const k of Object.keys(o)) if (!['type', 'access', 'cursor'].includes(k)) throw new RangeError(`${w}: unknown field "${k}"`);
    return { type: 'user-query-page', access: str(o, 'access', w, /^[0-9a-f]{32}$/), cursor: int(o, 'cursor', w) };
  }
  throw new RangeError(`${w}: unknown type ${JSON.stringify(o.type)}`);
}

export function encodeUserReply(r: UserReply): Uint8Array {
  return enc(r);
}

function parseBatch(x: unknown, where: string): ServedBatch {
  if (typeof x !== 'object' || x === null) throw new RangeError(`${where}: expected an object`);
  const o = x as Record<string, unknown>;
  const a = o.anchor as Record<string, unknown> | null | undefined;
  if (a === undefined || typeof a !== 'object') throw new RangeError(`${where}: field "anchor" missing`);
  if (!Array.isArray(o.slices)) throw new RangeError(`${where}: field "slices" must be a list`);
  return {
    seq: int(o, 'seq', where),
    header: str(o, 'header', where, HEX),
    signature: str(o, 'signature', where, /^[0-9a-f]{96}$/),
    directory: str(o, 'directory', where, B64),
    anchor: a === null ? null : { txHash: str(a, 'txHash', `${where} anchor`, TX), blockNumber: int(a, 'blockNumber', `${where} anchor`) },
    slices: o.slices.map((s, i) => {
      if (typeof s !== 'object' || s === null) throw new RangeError(`${where} slice ${i}: expected an object`);
      const so = s as Record<string, unknown>;
      return { index: int(so, 'index', `${where} slice ${i}`, 0xffff), ciphertext: str(so, 'ciphertext', `${where} slice ${i}`, B64) };
    }),
  };
}

export function decodeUserReply(b: Uint8Array): UserReply {
  const w = 'user reply';
  const o = parseObject(b, w);
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
    return { gatewayId, lo: int(go, 'lo', `${w} gateway ${i}`), hi: int(go, 'hi', `${w} gateway ${i}`), batches: go.batches.map((x, j) => parseBatch(x, `${w} ${gatewayId} batch ${j}`)) };
  });
  const next = o.next === null ? null : int(o, 'next', w);
  return { ok: true, access, cursor: int(o, 'cursor', w), next, total: int(o, 'total', w), gateways };
}
