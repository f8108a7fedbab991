/**
 * Party ids on chain: readable strings of 1..31 ASCII characters stored as bytes32 (right-padded),
 * so events and storage can be read back as the ids operators typed.
 */
import { ethers } from 'ethers';

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;

export function idToBytes32(id: string): string {
  if (!ID.test(id)) throw new RangeError(`id "${id}" must be 1..31 characters of [A-Za-z0-9._-]`);
  return ethers.encodeBytes32String(id);
}

export function bytes32ToId(b: string): string {
  return ethers.decodeBytes32String(b);
}
