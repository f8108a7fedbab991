// The chain node's data API for users over real HTTP with a real anvil: a granted query returns
// exactly the patient's slices of the batches the user needs, the access is recorded on chain in
// the transaction the reply names, and every refusal (no grant, wrong user, out of range, bad tags,
// revoked, expired, revoked user) is explicit, counted, and releases nothing.
import t from 'tap';
import tap from 'tap';
import { decodeDirectory } from '../protocol/batch';
import { rangeTags } from '../protocol/sharing/tags';
import { revokeParty } from '../contracts/deploy';
import { nobleSigner } from '../protocol/bls';
import { AccessRefused, DataNodeClient } from '../data-user/node-client';
import { reading, shareWorld } from './share.helpers';

const BASE = Date.UTC(2026, 0, 10, 8, 0, 0);

t.test('data API', async (t) => {
  const w = await shareWorld(t);
  // Six one-minute batches, each with ten readings of each of three patients.
  for (let k = 0; k < 6; k++) {
    const rs = [];
    for (let i = 0; i < 10; i++) for (const p of ['p-a', 'p-b', 'p-c']) rs.push(reading(p, BASE + k * 60_000 + i * 1000, k * 10 + i));
    await w.submit(rs);
  }
  const drA = await w.addUser('dr-a');
  const drB = await w.addUser('dr-b');
  const client = (u: { id: string; blsSecretKey: Uint8Array }): DataNodeClient => new DataNodeClient({ url: w.node.url, nodeId: 'node-1', userId: u.id, blsSecretKey: u.blsSecretKey, registry: w.registry() });
  const from = BASE + 60_000;
  const to = BASE + 3 * 60_000 + 9000;
  const grantId = await w.grant('dr-a', 'p-a', from, to);
  const tagsOf = (p: string): { firstDay: number; tags: string[] } => {
    const r = rangeTags(w.tagKey, p, from, to);
    return { firstDay: r.firstDay, tags: r.tags.map((x) => Buffer.from(x).toString('hex')) };
  };
  const a = client(drA);

  t.test('granted query', async (t) => {
    const progress: Array<[number, number]> = [];
    const ans = await a.query({ grantId, ...tagsOf('p-a'), from, to }, (d, n) => progress.push([d, n]));
    t.equal(ans.gateways.length, 1);
    const g = ans.gateways[0]!;
    t.same([g.lo, g.hi], [1, 5], 'from the last batch sealed before the range to the first whose watermark is after it');
    t.same(g.batches.map((b) => b.seq), [1, 2, 3, 4, 5]);
    const aTags = new Set(tagsOf('p-a').tags);
    let slices = 0;
    for (const b of g.batches) {
      const dir = decodeDirectory(b.directory);
      t.equal(dir.slices.length, 3, 'the directory names three patient-days');
      for (const s of b.slices) {
        t.ok(aTags.has(Buffer.from(dir.slices[s.index]!.tag).toString('hex')), `batch ${b.seq}: only p-a's slice is served`);
        slices++;
      }
    }
    t.equal(slices, 3, 'p-a\'s slices of the three batches inside the range');
    t.same(progress[progress.length - 1], [5, 5]);
    // On chain, in the transaction the reply names.
    const events = await w.accessLog.accessEvents(w.deployment.deployBlock);
    const mine = events.filter((e) => e.txHash === ans.access.txHash);
    t.equal(mine.length, 1);
    t.match(mine[0], { grantId, fromTime: from, toTime: to, recorded: true });
    t.equal(w.node.userAccesses.served, 1);
  });

  t.test('pages', async (t) => {
    // A second query over part of the grant, answered page by page (the node's page budget is one
    // batch in this world): the same batches, in order.
    const pages: number[] = [];
    const ans = await a.query({ grantId, ...tagsOf('p-a'), from: from + 60_000, to }, (d) => pages.push(d));
    t.same(ans.gateways[0]!.batches.map((b) => b.seq), [2, 3, 4, 5]);
    t.same(pages, [1, 2, 3, 4], 'one batch per page');
  });

  t.test("a data user's handshake is signed with mcl-wasm, as a gateway's; a noble-signed one is served alike", async (t) => {
    t.equal((await a.signer()).name, 'mcl-wasm', 'the default signer');
    const viaNoble = new DataNodeClient({ url: w.node.url, nodeId: 'node-1', userId: drA.id, blsSecretKey: drA.blsSecretKey, registry: w.registry(), signer: nobleSigner });
    const [x, y] = [await a.query({ grantId, ...tagsOf('p-a'), from, to }), await viaNoble.query({ grantId, ...tagsOf('p-a'), from, to })];
    t.same(y.gateways, x.gateways, 'the same answer whichever library signed the handshake');
  });

  const refused = async (t: { equal: typeof tap.equal }, p: Promise<unknown>, refusal: string): Promise<void> => {
    const denied = w.node.userAccesses.denied;
    const err = await p.then(() => null, (e: unknown) => e);
    t.equal(err instanceof AccessRefused ? err.refusal : String(err), refusal, `refused: ${refusal}`);
    t.equal(w.node.userAccesses.denied, denied + 1, `${refusal} counted`);
  };

  t.test('refusals', async (t) => {
    await refused(t, a.query({ grantId: 999, ...tagsOf('p-a'), from, to }), 'no-grant');
    await refused(t, client(drB).query({ grantId, ...tagsOf('p-a'), from, to }), 'wrong-user');
    await refused(t, a.query({ grantId, ...tagsOf('p-a'), from: from - 1, to }), 'out-of-range');
    await refused(t, a.query({ grantId, ...tagsOf('p-b'), from, to }), 'bad-tags');
    const g2 = await w.grant('dr-a', 'p-a', from, to);
    await w.accessLog.revoke(g2);
    await refused(t, a.query({ grantId: g2, ...tagsOf('p-a'), from, to }), 'revoked');
    const g3 = await w.grant('dr-a', 'p-a', from, to, 60);
    await w.provider.send('evm_increaseTime', [120]);
    await w.provider.send('evm_mine', []);
    await refused(t, a.query({ grantId: g3, ...tagsOf('p-a'), from, to }), 'expired');
    // Revoked in the registry while its session is alive: the node reads the registry afresh.
    await revokeParty(w.hospitalAdmin, w.deployment.registry, 'dr-a');
    await refused(t, a.query({ grantId, ...tagsOf('p-a'), from, to }), 'revoked-user');
    // Nothing of these reached the chain as an access.
    const events = await w.accessLog.accessEvents(w.deployment.deployBlock);
    t.equal(events.length, 4, 'only the four served queries are recorded');
  });
});
