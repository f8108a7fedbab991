/**
 * Key release between a data user and the data owner's key service (docs/sharing.md). Pure: keys,
 * clocks and randomness are the caller's.
 *
 *   inner   = JSON {v: 1, kind: "tags" | "keys", user, grantId, patient, time, nonce, accessTx?, slices?}
 *   signed  = {request: base64(inner), signature: hex(BLS-Sign(user key, keyRequestMessage(inner)))}
 *   body    = HPKE-Seal(owner key, info = "mcps/key-request/v1", JSON(signed))       (POST /v1/keys)
 *   answer  = HPKE-Seal(user's registered encryption key, info = keyReleaseInfo(inner), JSON {ok: true, …})
 *
 * The request is sealed to the owner so nobody on the way learns the patient's pseudonym; it is
 * signed with the user's registered BLS key so the owner knows who asks; the answer is sealed to
 * the user's registered encryption key, bound to this request, so only that user can read it and
 * an old answer cannot be passed off for a new request. "tags" asks for the patient's day tags over
 * the grant (the user needs them to query a chain node); "keys" asks for the slice keys of slices
 * a chain node delivered under a recorded access (accessTx), each named by what its batch's
 * directory says about it.
 */
import { sha256, utf8 } from '../hash';

export const KEY_REQUEST_INFO = utf8('mcps/key-request/v1');
const KEY_REQUEST_LABEL = utf8('mcps/key-request/v1/signed');
const KEY_RELEASE_LABEL = utf8('mcps/key-release/v1');

export interface SliceKeyRequest {
  readonly gatewayId: string;
  readonly seq: number;
  readonly epochId: number;
  /** hex, 80 bytes: the directory's wrapped epoch key */
  readonly wrappedEpochKey: string;
  /** hex, 32 bytes */
  readonly tag: string;
  readonly day: number;
  readonly count: number;
  readonly first: number;
  readonly last: number;
}

export interface KeyRequest {
  readonly v: 1;
  readonly kind: 'tags' | 'keys';
  readonly user: string;
  readonly grantId: number;
  readonly patient: string;
  /** ms since the epoch (the service refuses requests more than 5 minutes off its clock) */
  readonly time: number;
  /** hex, 16 random bytes (the service refuses a nonce it has seen) */
  readonly nonce: string;
  /** "keys": the AccessLog transaction that recorded the access the slices were served under */
  readonly accessTx?: string;
  readonly slices?: readonly SliceKeyRequest[];
}

export const KEY_REFUSALS = ['bad-request', 'stale', 'replay', 'unknown-user', 'revoked-user', 'bad-signature', 'no-grant', 'wrong-user', 'revoked', 'expired', 'wrong-patient', 'no-access-recorded', 'not-covered', 'unavailable'] as const;
export type KeyRefusal = (typeof KEY_REFUSALS)[number];

export type KeyAnswer =
  | { readonly ok: true; readonly firstDay?: number; readonly tags?: readonly string[]; readonly keys?: readonly string[] }
  | { readonly ok: false; readonly refusal: KeyRefusal; readonly error: string };

/** What the user signs: a hash of the exact request bytes under a label of its own. */
export function keyRequestMessage(inner: Uint8Array): Uint8Array {
  return sha256(KEY_REQUEST_LABEL, inner);
}

/** The HPKE info of an answer: bound to the request it answers. */
export function keyReleaseInfo(inner: Uint8Array): Uint8Array {
  return new Uint8Array([...KEY_RELEASE_LABEL, ...sha256(inner)]);
}

const HEX = (n: number): RegExp => new RegExp(`^[0-9a-f]{${n * 2}}$`);
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;
/** A keys request names at most this many slices. */
export const MAX_SLICES_PER_REQUEST = 50_000;

function int(o: Record<string, unknown>, k: string, w: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k];
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max) throw new RangeError(`${w}: field "${k}" must be an integer 0..${max}`);
  return v as number;
}

function str(o: Record<string, unknown>, k: string, w: string, re: RegExp): string {
  const v = o[k];
  if (typeof v !== 'string' || !re.test(v)) throw new RangeError(`${w}: field "${k}" is malformed`);
  return v;
}

export function encodeKeyRequest(r: KeyRequest): Uint8Array {
  return utf8(JSON.stringify(r));
}

/** Strict parse of the inner request; RangeError naming the field. */
export function decodeKeyRequest(b: Uint8Array): KeyRequest {
  const w = 'key request';
  let x: unknown;
  try {
    x = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
  } catch (err) {
    throw new RangeError(`${w}: not JSON (${(err as Error).message})`);
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new RangeError(`${w}: expected an object`);
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['v', 'kind', 'user', 'grantId', 'patient', 'time', 'nonce', 'accessTx', 'slices'].includes(k)) throw new RangeError(`${w}: unknown field "${k}"`);
  if (o.v !== 1) throw new RangeError(`${w}: version ${JSON.stringify(o.v)}, expected 1`);
  if (o.kind !== 'tags' && o.kind !== 'keys') throw new RangeError(`${w}: field "kind" must be "tags" or "keys"`);
  if (typeof o.patient !== 'string' || o.patient.length < 1 || o.patient.length > 64) throw new RangeError(`${w}: field "patient" must be 1..64 characters`);
  const base = { v: 1 as const, kind: o.kind as 'tags' | 'keys', user: str(o, 'user', w, ID), grantId: int(o, 'grantId', w), patient: o.patient, time: int(o, 'time', w), nonce: str(o, 'nonce', w, HEX(16)) };
  if (o.kind === 'tags') return base;
  const accessTx = str(o, 'accessTx', w, /^0x[0-9a-f]{64}$/);
  if (!Array.isArray(o.slices) || o.slices.length < 1 || o.slices.length > MAX_SLICES_PER_REQUEST) throw new RangeError(`${w}: field "slices" must hold 1..${MAX_SLICES_PER_REQUEST} slices`);
  const slices = o.slices.map((s, i): SliceKeyRequest => {
    const sw = `${w} slice ${i}`;
    if (typeof s !== 'object' || s === null) throw new RangeError(`${sw}: expected an object`);
    const so = s as Record<string, unknown>;
    return { gatewayId: str(so, 'gatewayId', sw, ID), seq: int(so, 'seq', sw), epochId: int(so, 'epochId', sw), wrappedEpochKey: str(so, 'wrappedEpochKey', sw, HEX(80)), tag: str(so, 'tag', sw, HEX(32)), day: int(so, 'day', sw, 0xffffffff), count: int(so, 'count', sw, 0xffffffff), first: int(so, 'first', sw), last: int(so, 'last', sw) };
  });
  return { ...base, accessTx, slices };
}

export function decodeKeyAnswer(b: Uint8Array): KeyAnswer {
  const x = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b)) as Record<string, unknown>;
  if (x.ok === false) {
    if (!KEY_REFUSALS.includes(x.refusal as KeyRefusal) || typeof x.error !== 'string') throw new RangeError('key answer: malformed refusal');
    return { ok: false, refusal: x.refusal as KeyRefusal, error: x.error };
  }
  if (x.ok !== true) throw new RangeError('key answer: field "ok" missing');
  const out: { ok: true; firstDay?: number; tags?: string[]; keys?: string[] } = { ok: true };
  if (x.firstDay !== undefined) out.firstDay = int(x, 'firstDay', 'key answer', 0xffffffff);
  for (const k of ['tags', 'keys'] as const) {
    if (x[k] === undefined) continue;
    const v = x[k];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && HEX(32).test(s))) throw new RangeError(`key answer: field "${k}" must be a list of 32-byte hex strings`);
    out[k] = v as string[];
  }
  return out;
}
