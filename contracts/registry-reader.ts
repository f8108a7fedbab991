/**
 * The gateway's read of the Registry contract: `getEntry(bytes32)` as one JSON-RPC `eth_call` over
 * HTTP(S), its answer decoded here. The gateway reads the registry and nothing else on chain (the
 * chain node anchors; the gateway signs no transaction), so it does without ethers: ethers' code
 * and tables cost the gateway about 4 MB of heap for this one call (docs/raspberry-pi.md). The
 * answer is the same RegistryEntry that contracts/clients.ts RegistryClient (ethers) gives; the
 * tests read the same entries both ways. An RPC URL that is not http(s) goes through ethers as
 * before (registryReaderFor), ethers loaded only then.
 *
 * The ABI decoding is strict, as ethers' is: every head word in range for its type, the dynamic
 * `bytes` inside the answer, the bytes32 id strings null-terminated UTF-8.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { RegistryClient, RegistryEntry } from './clients';
import { bytes32ToId, idToBytes32 } from './ids';

/** What ChainRegistry needs of a registry client. */
export type RegistryEntrySource = Pick<RegistryClient, 'getEntry'>;

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The 4-byte function selector of a Solidity signature, as hex without 0x. */
export function selector(signature: string): string {
  return hex(keccak_256(utf8(signature)).subarray(0, 4));
}

const GET_ENTRY = selector('getEntry(bytes32)');
const ROLES = { 1: 'gateway', 2: 'node', 3: 'user' } as const;
const ZERO32 = '0'.repeat(64);

/** An address in its EIP-55 mixed-case form (what ethers returns). */
export function checksumAddress(addr40: string): string {
  const lower = addr40.toLowerCase();
  const h = hex(keccak_256(utf8(lower)));
  let out = '0x';
  for (let i = 0; i < 40; i++) out += parseInt(h[i]!, 16) >= 8 ? lower[i]!.toUpperCase() : lower[i]!;
  return out;
}

/**
 * Decodes getEntry's return data (hex without 0x): (uint8 role, bool active, uint32 epoch, address
 * operator, bytes32 hospital, bytes32 x25519Key, bytes blsKey). Undefined for role 0 (no entry).
 */
export function decodeGetEntry(id: string, data: string): RegistryEntry | undefined {
  if (!/^([0-9a-f]{64})+$/i.test(data) || data.length < 8 * 64) throw new Error(`getEntry answer is not ABI words (${data.length / 2} bytes)`);
  const word = (i: number): string => data.slice(i * 64, i * 64 + 64);
  const uint = (i: number, bits: number, what: string): number => {
    const v = BigInt(`0x${word(i)}`);
    if (v >= 1n << BigInt(bits)) throw new Error(`getEntry answer: ${what} out of range`);
    return Number(v);
  };
  const roleN = uint(0, 8, 'role');
  const activeN = uint(1, 8, 'active');
  if (activeN > 1) throw new Error('getEntry answer: active is not a bool');
  const epoch = uint(2, 32, 'epoch');
  const op = word(3);
  if (!op.startsWith('0'.repeat(24))) throw new Error('getEntry answer: operator is not an address');
  const offset = uint(6, 32, 'blsKey offset');
  if (offset % 32 !== 0 || offset < 7 * 32 || offset / 32 >= data.length / 64) throw new Error('getEntry answer: blsKey offset out of range');
  const len = uint(offset / 32, 32, 'blsKey length');
  const start = (offset + 32) * 2;
  if (start + len * 2 > data.length) throw new Error('getEntry answer: blsKey runs past the end');
  const blsPublicKey = Uint8Array.from(Buffer.from(data.slice(start, start + len * 2), 'hex'));
  const role = ROLES[roleN as 1 | 2 | 3];
  if (!role) return undefined;
  const hospital = word(4);
  const x = Uint8Array.from(Buffer.from(word(5), 'hex'));
  return {
    id,
    role,
    active: activeN === 1,
    epoch,
    operator: checksumAddress(op.slice(24)),
    hospital: hospital === ZERO32 ? '' : bytes32ToId(`0x${hospital}`),
    x25519PublicKey: role === 'node' ? x : null,
    encryptionPublicKey: role === 'user' ? x : null,
    blsPublicKey,
  };
}

export interface RegistryReaderOptions {
  /** Per call (default 30 s). */
  timeoutMs?: number;
}

/** Registry.getEntry over JSON-RPC (http or https), without ethers. */
export class RegistryReader implements RegistryEntrySource {
  #id = 0;

  constructor(readonly rpcUrl: string, readonly address: string, readonly opts: RegistryReaderOptions = {}) {
    if (!/^https?:\/\//.test(rpcUrl)) throw new Error(`RegistryReader: ${rpcUrl} is not an http(s) URL`);
    if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new Error(`RegistryReader: ${address} is not an address`);
  }

  async getEntry(id: string): Promise<RegistryEntry | undefined> {
    const data = `0x${GET_ENTRY}${idToBytes32(id).slice(2)}`;
    const body = JSON.stringify({ jsonrpc: '2.0', id: ++this.#id, method: 'eth_call', params: [{ to: this.address, data }, 'latest'] });
    const res = await fetch(this.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`eth_call getEntry at ${this.rpcUrl}: HTTP ${res.status} ${text.slice(0, 200)}`);
    let answer: { result?: unknown; error?: { message?: unknown } };
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      throw new Error(`eth_call getEntry at ${this.rpcUrl}: not JSON (${text.slice(0, 100)})`);
    }
    if (answer.error) throw new Error(`eth_call getEntry at ${this.rpcUrl}: ${String(answer.error.message ?? 'error')}`);
    if (typeof answer.result !== 'string' || !answer.result.startsWith('0x')) throw new Error(`eth_call getEntry at ${this.rpcUrl}: no result`);
    // "0x": no contract at the address (ethers: "could not decode result data").
    if (answer.result === '0x') throw new Error(`eth_call getEntry at ${this.rpcUrl}: empty answer (is ${this.address} the Registry?)`);
    return decodeGetEntry(id, answer.result.slice(2));
  }

  /** Nothing held open (fetch's connections are pooled by Node); for symmetry with a provider. */
  destroy(): void {}
}

/**
 * A registry reader for `rpcUrl`: RegistryReader for http(s), else ethers' JsonRpcProvider and
 * RegistryClient as before, loaded only then. `destroy` releases the provider when there is one.
 */
export function registryReaderFor(rpcUrl: string, address: string): RegistryEntrySource & { destroy(): void } {
  if (/^https?:\/\//.test(rpcUrl)) return new RegistryReader(rpcUrl, address);
  const { ethers } = require('ethers') as typeof import('ethers');
  const { RegistryClient: Client } = require('./clients') as typeof import('./clients');
  const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  const client = new Client(provider, address);
  return { getEntry: (id) => client.getEntry(id), destroy: () => provider.destroy() };
}
