import t from 'tap';
import { generateOwnerKeyPair, openEnvelope, sealEnvelope } from '../gateway/sealing/envelope';

t.test('an envelope opens with the owner key and only for its own batch slot', async (t) => {
  const owner = await generateOwnerKeyPair();
  const payload = new TextEncoder().encode('{"readings":[1,2,3]}');
  const env = await sealEnvelope(owner.publicKey, 'gw-1', 7, payload);
  t.same(await openEnvelope(owner, 'gw-1', 7, env), payload);
  await t.rejects(openEnvelope(owner, 'gw-1', 8, env), 'another sequence number does not open it');
  await t.rejects(openEnvelope(owner, 'gw-2', 7, env), 'another gateway does not open it');
  const other = await generateOwnerKeyPair();
  await t.rejects(openEnvelope(other, 'gw-1', 7, env), 'another owner does not open it');
  const flipped = env.slice();
  flipped[flipped.length - 1] ^= 1;
  await t.rejects(openEnvelope(owner, 'gw-1', 7, flipped), 'a flipped bit is detected');
  await t.rejects(openEnvelope(owner, 'gw-1', 7, env.slice(0, 20)), 'a truncated envelope is refused');
  t.not(Buffer.from(env).toString('hex').includes(Buffer.from(payload).toString('hex')), 'plaintext does not appear');
});
