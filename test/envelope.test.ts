// Epoch keys (gateway/sealing/epoch-keys.ts, envelope.ts): wrapped to the data owner with HPKE, bound
// to the gateway and the epoch; rotated every UTC hour and dropped; a sealed batch opens for the
// owner only.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { EpochKeyOpener, generateOwnerKeyPair, wrapEpochKey } from '../gateway/sealing/envelope';
import { EpochKeyRing } from '../gateway/sealing/epoch-keys';
import { buildSealedBatch } from '../gateway/sealing/seal-build';
import { checkEnvelope, decodeHeader, openBatchAsOwner } from '../protocol/batch';
import { blsKeygen } from '../protocol/bls';
import type { Reading } from '../protocol/reading';

t.test('an epoch key opens with the owner key and only for its own gateway and epoch', async (t) => {
  const owner = await generateOwnerKeyPair();
  const key = new Uint8Array(randomBytes(32));
  const w = await wrapEpochKey(owner.publicKey, 'gw-1', 1000, key);
  t.equal(w.length, 80, 'enc (32) ‖ ciphertext (32 + 16)');
  const opener = new EpochKeyOpener(owner.privateKey);
  t.same(await opener.open('gw-1', 1000, w), key);
  await t.rejects(new EpochKeyOpener(owner.privateKey).open('gw-1', 1001, w), 'another epoch does not open it');
  await t.rejects(new EpochKeyOpener(owner.privateKey).open('gw-2', 1000, w), 'another gateway does not open it');
  const other = await generateOwnerKeyPair();
  await t.rejects(new EpochKeyOpener(other.privateKey).open('gw-1', 1000, w), 'another owner does not open it');
  const flipped = w.slice();
  flipped[79] = flipped[79]! ^ 1;
  await t.rejects(new EpochKeyOpener(owner.privateKey).open('gw-1', 1000, flipped), 'a flipped bit is detected');
  t.not(Buffer.from(w).toString('hex').includes(Buffer.from(key).toString('hex')), 'the key does not appear');
});

t.test('epoch keys rotate on every UTC hour and the old one is dropped', async (t) => {
  const owner = await generateOwnerKeyPair();
  let now = 3_600_000 * 100 + 5;
  const ring = new EpochKeyRing({ gatewayId: 'gw-1', ownerPublicKey: owner.publicKey, now: () => now, random: (n) => new Uint8Array(randomBytes(n)) });
  const a = await ring.current();
  now += 1000;
  t.equal((await ring.current()).id, a.id, 'same hour, same epoch');
  const kept = a.key.slice();
  now = 3_600_000 * 101;
  const b = await ring.current();
  t.not(b.id, a.id, 'a new hour, a new epoch');
  t.notSame(b.key, kept);
  await new Promise((r) => setImmediate(r));
  t.ok(a.key.every((x) => x === 0), 'the previous key is wiped');
  t.same(await new EpochKeyOpener(owner.privateKey).open('gw-1', b.id, b.wrapped), b.key);
});

t.test('a sealed batch opens for the owner, and its readings are all there', async (t) => {
  const owner = await generateOwnerKeyPair();
  const tagKey = new Uint8Array(randomBytes(32));
  const readings: Reading[] = Array.from({ length: 12 }, (_, i) => ({ deviceId: `d${i % 4}`, patient: `p-${i % 4}`, kind: 'heart_rate', mdc: '147842', loinc: '8867-4', value: 70 + i, unit: '/min', deviceTime: null, receivedAt: 1_764_000_000_000 + i, deviceSeq: i, source: 'mqtt' }));
  const item = await buildSealedBatch({ gatewayId: 'gw-1', seq: 1, prevHash: new Uint8Array(32), readings, sealedAt: 1_764_000_001_000, watermark: 1_764_000_000_500 }, { blsSecretKey: blsKeygen(randomBytes(48)), ownerPublicKey: owner.publicKey, patientTagKey: tagKey });
  const header = decodeHeader(Uint8Array.from(Buffer.from(item.submission.header, 'hex')));
  const envelope = Uint8Array.from(Buffer.from(item.submission.envelope, 'base64'));
  const { directory } = checkEnvelope(header, envelope);
  t.equal(directory.slices.length, 4, 'four patients, four slices');
  const epochKey = await new EpochKeyOpener(owner.privateKey).open('gw-1', directory.epochId, directory.wrappedEpochKey);
  t.same(openBatchAsOwner(header, envelope, epochKey, tagKey).map((r) => r.deviceSeq).sort((a, b) => a - b), readings.map((r) => r.deviceSeq));
  for (const r of readings) t.notOk(Buffer.from(envelope).includes(Buffer.from(r.patient)), `pseudonym ${r.patient} does not appear in what the node stores`);
});
