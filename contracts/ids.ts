/**
 * Party ids on chain: readable strings of 1..31 ASCII characters stored as bytes32 (right-padded),
 * so events and storage can be read back as the ids operators typed. The syntax is the handshake's
 * (protocol/party-id.ts), so every id that travels on the wire can be looked up here.
 *
 * Same encoding as ethers' encodeBytes32String / decodeBytes32String (the tests compare them), done
 * here so that the gateway, which reads the registry without ethers, does not load it for this.
 */
import { isPartyId } from '../protocol/party-id';

export function idToBytes32(id: string): string {
  if (!isPartyId(id)) throw new RangeError(`id "${id}" must be 1..31 characters of [A-Za-z0-9._-]`);
  return `0x${Buffer.from(id, 'latin1').toString('hex').padEnd(64, '0')}`;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The string in a bytes32 (0x + 64 hex): up to its first zero byte; the last byte must be zero. */
export function bytes32ToId(b: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(b)) throw new TypeError(`invalid bytes32 value ${JSON.stringify(b.slice(0, 70))}`);
  const bytes = Buffer.from(b.slice(2), 'hex');
  if (bytes[31] !== 0) throw new Error('invalid bytes32 string - no null terminator');
  const end = bytes.indexOf(0);
  return strictUtf8.decode(bytes.subarray(0, end));
}
