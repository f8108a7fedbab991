/**
 * The one syntax of a party id (gateway, node, user, hospital), shared by the handshake's wire
 * encoding and the on-chain registry (contracts/ids.ts): 1..31 ASCII characters, the first a letter
 * or digit, the rest letters, digits, '.', '_' or '-'. An id the wire accepts can always be looked
 * up on chain, so a malformed id is refused when it is decoded, never deeper in the node.
 */
export const PARTY_ID_MAX_LEN = 31;
export const PARTY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;

export function isPartyId(id: string): boolean {
  return PARTY_ID_PATTERN.test(id);
}
