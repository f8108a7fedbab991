// The gateway's ethers-free registry read (contracts/registry-reader.ts) against ethers' RegistryClient
// on a real anvil chain, and the bytes32 ids (contracts/ids.ts) against ethers' own encoding.
import t from 'tap';
import fc from 'fast-check';
import { ethers } from 'ethers';
import { RegistryClient } from '../contracts/clients';
import { registerUser, rotateKey } from '../contracts/deploy';
import { bytes32ToId, idToBytes32 } from '../contracts/ids';
import { checksumAddress, decodeGetEntry, RegistryReader, registryReaderFor, selector } from '../contracts/registry-reader';
import { blsPopProve, blsPublicKey } from '../protocol/bls';
import { PARTY_ID_PATTERN } from '../protocol/party-id';
import { fixedKey, testChain } from './chain.helpers';

t.test('ids: the same bytes32 as ethers, both ways', async (t) => {
  const idArb = fc.stringMatching(PARTY_ID_PATTERN);
  fc.assert(
    fc.property(idArb, (id) => {
      const b = idToBytes32(id);
      return b === ethers.encodeBytes32String(id) && bytes32ToId(b) === id && ethers.decodeBytes32String(b) === id;
    }),
  );
  t.throws(() => idToBytes32('a'.repeat(32)), RangeError);
  t.throws(() => idToBytes32(''), RangeError);
  t.throws(() => bytes32ToId(`0x${'61'.repeat(32)}`), /null terminator/, 'no terminator: refused as ethers refuses it');
  t.throws(() => bytes32ToId('0x6162'), /invalid bytes32/);
  t.throws(() => bytes32ToId(`0xff${'00'.repeat(31)}`), 'not UTF-8: refused');
  t.equal(bytes32ToId(`0x${'00'.repeat(32)}`), '');
});

t.test('selector and checksummed address as ethers computes them', async (t) => {
  t.equal(`0x${selector('getEntry(bytes32)')}`, ethers.id('getEntry(bytes32)').slice(0, 10));
  for (const a of ['0x0000000000000000000000000000000000000000', '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', '0xffffffffffffffffffffffffffffffffffffffff']) {
    t.equal(checksumAddress(a.slice(2)), ethers.getAddress(a));
  }
});

t.test('getEntry answers: malformed ones are refused, never misread', async (t) => {
  const w = (n: bigint | number): string => BigInt(n).toString(16).padStart(64, '0');
  const good = [w(1), w(1), w(3), w(0xabc), idToBytes32('h').slice(2), w(0), w(7 * 32), w(2), 'beef'.padEnd(64, '0')].join('');
  t.match(decodeGetEntry('g', good), { id: 'g', role: 'gateway', active: true, epoch: 3, hospital: 'h', x25519PublicKey: null });
  t.same(decodeGetEntry('g', good)!.blsPublicKey, Uint8Array.from([0xbe, 0xef]));
  const bad = (i: number, v: string): string => good.slice(0, i * 64) + v + good.slice((i + 1) * 64);
  t.throws(() => decodeGetEntry('g', bad(0, w(256))), /role out of range/);
  t.throws(() => decodeGetEntry('g', bad(1, w(2))), /active/);
  t.throws(() => decodeGetEntry('g', bad(2, w(1n << 32n))), /epoch/);
  t.throws(() => decodeGetEntry('g', bad(3, 'f'.repeat(64))), /address/);
  t.throws(() => decodeGetEntry('g', bad(6, w(9 * 32))), /offset/);
  t.throws(() => decodeGetEntry('g', bad(7, w(64))), /past the end/);
  t.throws(() => decodeGetEntry('g', good.slice(0, 100)), /ABI words/);
  t.throws(() => decodeGetEntry('g', ''), /ABI words/);
  t.equal(decodeGetEntry('g', bad(0, w(0))), undefined, 'role 0: no entry');
});

t.test('RegistryReader reads what RegistryClient (ethers) reads, on anvil', async (t) => {
  const chain = await testChain(t);
  await chain.addGateway('gw-a', 5);
  const provider = new ethers.JsonRpcProvider(chain.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  t.teardown(() => provider.destroy());
  const hosp = await provider.getSigner(1);
  const uk = fixedKey(7);
  await registerUser(hosp, chain.deployment.registry, { id: 'dr-a', hospital: 'h', blsPublicKey: blsPublicKey(uk), pop: blsPopProve(uk), encryptionPublicKey: new Uint8Array(32).fill(3) });
  const k2 = fixedKey(6);
  await rotateKey(hosp, chain.deployment.registry, { id: 'gw-a', blsPublicKey: blsPublicKey(k2), pop: blsPopProve(k2) });
  const viaEthers = new RegistryClient(provider, chain.deployment.registry);
  const reader = new RegistryReader(chain.rpcUrl, chain.deployment.registry);
  for (const id of ['n', 'gw-a', 'dr-a', 'h', 'nobody']) {
    t.same(await reader.getEntry(id), await viaEthers.getEntry(id), `entry ${id}`);
  }
  t.match(await reader.getEntry('gw-a'), { role: 'gateway', epoch: 2, hospital: 'h', active: true });
  const fallback = registryReaderFor(chain.rpcUrl, chain.deployment.registry);
  t.ok(fallback instanceof RegistryReader, 'http: no ethers');
  await t.rejects(new RegistryReader(chain.rpcUrl, '0x' + '12'.repeat(20)).getEntry('n'), /empty answer/, 'no contract there');
  await t.rejects(new RegistryReader('http://127.0.0.1:1', chain.deployment.registry, { timeoutMs: 2000 }).getEntry('n'), 'nothing listening');
  t.throws(() => new RegistryReader('ws://127.0.0.1:1', chain.deployment.registry), /http/);
});
