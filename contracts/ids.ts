/**
 * Party ids on chain: readable strings of 1..31 ASCII characters stored as bytes32 (right-padded),
 * so events and storage can be read back as the ids operators typed. The syntax is the handshake's
 * (protocol/party-id.ts), so every id that travels on the wire can be looked up here.
 */
import { ethers } from 'ethers';
import { isPartyId } from '../protocol/party-id';

export function idToBytes32(id: string): string {
  if (!isPartyId(id)) throw new RangeError(`id "${id}" must be 1..31 characters of [A-Za-z0-9._-]`);
  return ethers.encodeBytes32String(id);
}

export function bytes32ToId(b: string): string {
  return ethers.decodeBytes32String(b);
}
