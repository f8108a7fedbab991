/**
 * Patient tags: how a batch names its patients without naming them (docs/protocol.md, "Batch layout").
 *
 *   day(t)            = floor(t / 86 400 000)                  (UTC day of a receive time, ms)
 *   tag(P, d)         = HMAC-SHA256(K_tag, "mcps/patient-tag/v2" ‖ u32be(d) ‖ utf8(P))
 *   scope(P)          = HMAC-SHA256(K_tag, "mcps/patient-scope/v2" ‖ utf8(P))
 *   tagsHash(d0, T)   = SHA-256("mcps/grant-tags/v2" ‖ u32be(d0) ‖ u32be(|T|) ‖ T[0] ‖ … ‖ T[|T|-1])
 *
 * K_tag is the hospital's patient tag key (32 bytes), held by the data owner and its gateways only.
 * A chain node sees tags but cannot link one to a pseudonym (it would need K_tag), nor the tags of
 * one patient on two days to each other. A grant names the patient on chain only by scope(P) (the
 * owner's audits) and tagsHash over the grant's days (a node checks a user's query against it).
 */
import { ProtocolError } from '../errors';
import { hmacSha256, sha256, utf8 } from '../hash';

export const DAY_MS = 86_400_000;
export const TAG_LENGTH = 32;
const TAG_LABEL = utf8('mcps/patient-tag/v2');
const SCOPE_LABEL = utf8('mcps/patient-scope/v2');
const TAGS_LABEL = utf8('mcps/grant-tags/v2');
/** A grant covers at most this many days (a node reads the whole tag list of a query). */
export const MAX_GRANT_DAYS = 3660;

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function checkTagKey(k: Uint8Array): void {
  if (!(k instanceof Uint8Array) || k.length !== 32) throw new ProtocolError('tag.key-length', 'the patient tag key must be 32 bytes');
}

function checkPseudonym(p: string): Uint8Array {
  if (typeof p !== 'string' || p.length === 0 || p.length > 64) throw new ProtocolError('tag.patient', 'a patient pseudonym is 1..64 characters');
  return utf8(p);
}

/** The UTC day number of a time in ms since the epoch. */
export function dayOf(ms: number): number {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new ProtocolError('tag.time', `time ${ms} must be a non-negative integer (ms)`);
  return Math.floor(ms / DAY_MS);
}

export function patientTag(tagKey: Uint8Array, pseudonym: string, day: number): Uint8Array {
  checkTagKey(tagKey);
  if (!Number.isInteger(day) || day < 0 || day > 0xffffffff) throw new ProtocolError('tag.day', `day ${day}`);
  return hmacSha256(tagKey, TAG_LABEL, u32(day), checkPseudonym(pseudonym));
}

export function patientScope(tagKey: Uint8Array, pseudonym: string): Uint8Array {
  checkTagKey(tagKey);
  return hmacSha256(tagKey, SCOPE_LABEL, checkPseudonym(pseudonym));
}

/** The days a range [from, to] (ms, inclusive) touches: first day and how many. */
export function rangeDays(from: number, to: number): { firstDay: number; days: number } {
  if (to < from) throw new ProtocolError('tag.range', `range ends (${to}) before it starts (${from})`);
  const firstDay = dayOf(from);
  const days = dayOf(to) - firstDay + 1;
  if (days > MAX_GRANT_DAYS) throw new ProtocolError('tag.range', `a range of ${days} days is longer than ${MAX_GRANT_DAYS}`);
  return { firstDay, days };
}

/** The patient's tags for every day of [from, to], in day order. */
export function rangeTags(tagKey: Uint8Array, pseudonym: string, from: number, to: number): { firstDay: number; tags: Uint8Array[] } {
  const { firstDay, days } = rangeDays(from, to);
  return { firstDay, tags: Array.from({ length: days }, (_, i) => patientTag(tagKey, pseudonym, firstDay + i)) };
}

export function tagsHash(firstDay: number, tags: readonly Uint8Array[]): Uint8Array {
  if (!Number.isInteger(firstDay) || firstDay < 0 || firstDay > 0xffffffff) throw new ProtocolError('tag.day', `day ${firstDay}`);
  for (const t of tags) if (!(t instanceof Uint8Array) || t.length !== TAG_LENGTH) throw new ProtocolError('tag.length', `a tag is ${TAG_LENGTH} bytes`);
  return sha256(TAGS_LABEL, u32(firstDay), u32(tags.length), ...tags);
}
