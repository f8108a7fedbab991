/**
 * Resource ids and fullUrls derived from what a resource stands for, so the same reading always maps
 * to the same Observation id: posting a Bundle again (a retry after a timeout, a replayed queue) updates
 * in place instead of duplicating. The id is a UUID laid out per RFC 9562 version 8 (custom) whose bits
 * are the first 122 bits of SHA-256 over a name; it is a valid FHIR id and a valid urn:uuid.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export function nameUuid(name: string): string {
  const b = sha256(new TextEncoder().encode(name)).slice(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80; // version 8
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
  const h = bytesToHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** How a resource refers to another: urn:uuid inside a Bundle, "Type/id" when standing alone. */
export type ReferenceStyle = 'urn' | 'relative';

export function referenceTo(type: string, id: string, style: ReferenceStyle): string {
  return style === 'urn' ? `urn:uuid:${id}` : `${type}/${id}`;
}
