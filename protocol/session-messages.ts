/**
 * What travels inside a handshake session between a gateway and a chain node: one request and one
 * reply per record, as JSON. A reply always comes back sealed, refusals included, so only the
 * session's peer learns why a batch was refused.
 */
import type { BatchSubmission, SignedReceipt } from './submission';
import { parseSignedReceipt, parseSubmission } from './submission';

/**
 * `submit-batches`: consecutive batches of the gateway's outbox in one record (1..MAX_BATCHES_PER_REQUEST,
 * in sequence order), so the node can fold several of a gateway's batches into one anchor
 * transaction; the reply lists one result per batch, in the same order.
 */
export type SessionRequest = { readonly type: 'submit-batch'; readonly submission: BatchSubmission } | { readonly type: 'submit-batches'; readonly submissions: readonly BatchSubmission[] };

export type BatchResult = { readonly ok: true; readonly receipt: SignedReceipt } | { readonly ok: false; readonly status: number; readonly error: string };

export type SessionReply = BatchResult | { readonly ok: true; readonly results: readonly BatchResult[] };

export const MAX_BATCHES_PER_REQUEST = 32;

const enc = (x: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(x));

function parseJson(b: Uint8Array, what: string): Record<string, unknown> {
  let x: unknown;
  try {
    x = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
  } catch (err) {
    throw new RangeError(`${what}: not JSON (${(err as Error).message})`);
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new RangeError(`${what}: expected an object`);
  return x as Record<string, unknown>;
}

export function encodeSessionRequest(r: SessionRequest): Uint8Array {
  return enc(r);
}

export function decodeSessionRequest(b: Uint8Array): SessionRequest {
  const o = parseJson(b, 'session request');
  if (o.type === 'submit-batches') {
    const list = o.submissions;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCHES_PER_REQUEST) throw new RangeError(`session request: "submissions" must list 1..${MAX_BATCHES_PER_REQUEST} batches`);
    return { type: 'submit-batches', submissions: list.map((x, i) => {
      try {
        return parseSubmission(x);
      } catch (err) {
        throw new RangeError(`session request: batch ${i}: ${(err as Error).message}`);
      }
    }) };
  }
  if (o.type !== 'submit-batch') throw new RangeError(`session request: unknown type ${JSON.stringify(o.type)}`);
  return { type: 'submit-batch', submission: parseSubmission(o.submission) };
}

export function encodeSessionReply(r: SessionReply): Uint8Array {
  return enc(r);
}

function parseResult(o: Record<string, unknown>): BatchResult {
  if (o.ok === true) return { ok: true, receipt: parseSignedReceipt(o.receipt) };
  if (o.ok === false && Number.isInteger(o.status) && typeof o.error === 'string') return { ok: false, status: o.status as number, error: o.error };
  throw new RangeError('session reply: malformed');
}

export function decodeSessionReply(b: Uint8Array): SessionReply {
  const o = parseJson(b, 'session reply');
  if (o.ok === true && 'results' in o) {
    if (!Array.isArray(o.results) || o.results.length === 0 || o.results.length > MAX_BATCHES_PER_REQUEST) throw new RangeError('session reply: malformed results');
    return { ok: true, results: o.results.map((r: unknown) => {
      if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new RangeError('session reply: malformed result');
      return parseResult(r as Record<string, unknown>);
    }) };
  }
  return parseResult(o);
}
