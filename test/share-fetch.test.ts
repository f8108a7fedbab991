// Fetch, verify and decrypt end to end on real parts (anvil, the chain node's HTTP API with the
// handshake, the owner's key service over HTTP): the user gets exactly the patient's readings of
// the range and nothing of the other patients, every check passes and the file re-verifies against
// the chain alone; the key service releases nothing without a grant, to another user, for another
// patient, or after revocation; a tampered slice, directory (proof) or header, or a withheld batch,
// is detected by fetch and by verify.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKeyService } from '../owner/key-service';
import { AccessLogClient, RegistryClient } from '../contracts/clients';
import { fetchShare, type FetchInput } from '../data-user/fetch';
import { chainView } from '../data-user/chain-view';
import { verifyBundle } from '../data-user/verify-bundle';
import { KeyRefused } from '../data-user/owner-client';
import { noblePairing, type PairingBackend } from '../protocol/handshake';
import { reading, shareWorld } from './share.helpers';
import type { Reading } from '../protocol/reading';
import type { ShareBundle } from '../data-user/bundle';
import { decodeDirectoryPrefix } from '../protocol/batch';
import { patientTag } from '../protocol/sharing/tags';
import { BatchStore } from '../chain-node/batch-store';

const BASE = Date.UTC(2026, 0, 10, 23, 58, 0); // the range crosses midnight: two day tags

t.test('fetch, verify, decrypt', async (t) => {
  const w = await shareWorld(t);
  const sent: Reading[] = [];
  const lists: Reading[][] = [];
  for (let k = 0; k < 6; k++) {
    const rs: Reading[] = [];
    for (let i = 0; i < 10; i++) for (const p of ['p-a', 'p-b', 'p-c']) rs.push(reading(p, BASE + k * 60_000 + i * 1000, k * 10 + i, 90 + i));
    sent.push(...rs);
    lists.push(rs);
  }
  // Batches 1 and 2 alone; 3..6 in one request, folded into one anchor transaction where only
  // batch 6's header hash is on chain: the user's checks link 3..5 to it through the headers.
  for (const rs of lists.slice(0, 2)) await w.submit(rs);
  await w.submitTogether(lists.slice(2));
  const keys = await startKeyService({ hospital: 'h', owner: w.owner, tagKey: w.tagKey, registry: new RegistryClient(w.provider, w.deployment.registry), accessLog: new AccessLogClient(w.provider, w.deployment.accessLog), provider: w.provider, host: '127.0.0.1', port: 0, log: () => undefined });
  t.teardown(() => keys.close());
  const drA = await w.addUser('dr-a');
  const drB = await w.addUser('dr-b');
  const from = BASE + 60_000 + 5000;
  const to = BASE + 4 * 60_000 + 4000;
  const grantId = await w.grant('dr-a', 'p-a', from, to);
  const chain = chainView(w.provider, w.deployment);
  const input = (u: typeof drA, over: Partial<FetchInput> = {}): FetchInput => ({ user: { id: u.id, blsSecretKey: u.blsSecretKey, encryptionSecretKey: u.encryptionSecretKey }, node: { id: 'node-1', url: w.node.url }, owner: { url: keys.url, hospital: 'h' }, deployment: w.deployment, provider: w.provider, chain, registry: w.registry(), pairing: noblePairing, patient: 'p-a', from, to, ...over });
  const key = (r: Reading): string => `${r.deviceId}/${r.deviceSeq}/${r.receivedAt}/${r.value}`;
  const expected = sent.filter((r) => r.patient === 'p-a' && r.receivedAt >= from && r.receivedAt <= to).map(key).sort();

  let bundle: ShareBundle;
  t.test('granted fetch', async (t) => {
    const r = await fetchShare(input(drA));
    bundle = r.bundle;
    t.same(r.bundle.report.gaps, []);
    t.same(r.bundle.report.problems, []);
    t.equal(r.bundle.report.verified, true);
    t.equal(r.bundle.report.foreign, 0);
    t.same(r.bundle.readings.map(key).sort(), expected, 'exactly the patient\'s readings of the range');
    t.equal(expected.length, 30);
    t.same(r.bundle.tags.tags.length, 2, 'two day tags (the range crosses midnight)');
    const run = r.bundle.proof.gateways.find((g) => g.gatewayId === 'gw-1')!;
    t.same([run.lo, run.hi], [1, 6], "batch 5's watermark bounds the range; the node goes on to batch 6, the head its group was anchored with, whose header links 5 (and 3, 4) to the chain");
    t.ok(keys.counters.released > 0, 'slice keys released');
    const again = await verifyBundle(JSON.parse(JSON.stringify(r.bundle)) as ShareBundle, chain, noblePairing);
    t.same(again, r.bundle.report, 'the file verifies against the chain alone');
  });

  t.test('key service refusals release nothing', async (t) => {
    const released = keys.counters.released;
    const tags = keys.counters.tags;
    const refusal = async (p: Promise<unknown>): Promise<string> => p.then(() => 'none', (e: unknown) => (e instanceof KeyRefused ? e.refusal : String(e)));
    t.equal(await refusal(fetchShare(input(drA, { patient: 'p-b' }))), 'wrong-patient', 'a grant for another patient');
    t.equal(await refusal(fetchShare(input(drB))), 'no-grant', 'no grant of dr-b (found none on chain)');
    t.equal(await refusal(fetchShare(input(drB, { grantId }))), 'wrong-user', 'dr-a\'s grant presented by dr-b');
    const g2 = await w.grant('dr-a', 'p-a', from, to);
    await w.accessLog.revoke(g2);
    t.equal(await refusal(fetchShare(input(drA, { grantId: g2 }))), 'revoked');
    // Without --grant the client finds the grants itself: a user whose only grant for the patient
    // was revoked is told "revoked", not "no grant"; a revoked grant for another patient is no grant.
    const drC = await w.addUser('dr-c');
    const gOther = await w.grant('dr-c', 'p-b', from, to);
    await w.accessLog.revoke(gOther);
    t.equal(await refusal(fetchShare(input(drC))), 'no-grant', "only a revoked grant for another patient");
    const gC = await w.grant('dr-c', 'p-a', from, to);
    await w.accessLog.revoke(gC);
    t.equal(await refusal(fetchShare(input(drC))), 'revoked', "the patient's grant was revoked");
    t.equal(await refusal(fetchShare(input(drC, { patient: 'p-c' }))), 'no-grant', 'no grant at all for p-c');
    t.equal(keys.counters.released, released, 'no slice key released');
    t.equal(keys.counters.tags, tags, 'no tags released');
  });

  const gwDir = join(w.dir, 'node', 'batches', 'gw-1');
  const storePath = (seq: number): string => join(gwDir, `${String(seq).padStart(12, '0')}.json`);
  const store = new BatchStore(join(w.dir, 'node', 'batches'));
  // Rewrites a stored batch in the store's earlier format (format 2: one JSON file, envelope inline), changed.
  const tamper = async (seq: number, change: (b: { submission: { header: string; envelope: string } }) => void): Promise<ShareBundle> => {
    const p = storePath(seq);
    const orig = readFileSync(p, 'utf8');
    const b = JSON.parse(JSON.stringify(store.get('gw-1', seq))) as { submission: { header: string; envelope: string } };
    change(b);
    writeFileSync(p, JSON.stringify(b));
    try {
      return (await fetchShare(input(drA))).bundle;
    } finally {
      writeFileSync(p, orig);
    }
  };
  const flip = (b64: string, at: number): string => {
    const x = Buffer.from(b64, 'base64');
    x[at < 0 ? x.length + at : at]! ^= 1;
    return x.toString('base64');
  };

  t.test('the store reads its earlier format (one JSON file per batch)', async (t) => {
    const b = await tamper(3, () => undefined);
    t.equal(b.report.verified, true);
    t.same(b.readings.map(key).sort(), expected);
  });

  t.test('fetch detects a tampered slice', async (t) => {
    // One byte of p-a's slice ciphertext in batch 3, in the envelope file the node reads by offset.
    const meta = JSON.parse(readFileSync(storePath(3), 'utf8')) as { envelope: { file: string } };
    const envPath = join(gwDir, meta.envelope.file);
    const orig = readFileSync(envPath);
    const { directory, length } = decodeDirectoryPrefix(orig);
    let o = length;
    for (const e of directory.slices) {
      if (Buffer.from(e.tag).equals(Buffer.from(patientTag(w.tagKey, 'p-a', e.day)))) break;
      o += e.ciphertextLength;
    }
    const bad = Buffer.from(orig);
    bad[o + 3]! ^= 1;
    writeFileSync(envPath, bad);
    let b: ShareBundle;
    try {
      b = (await fetchShare(input(drA))).bundle;
    } finally {
      writeFileSync(envPath, orig);
    }
    t.equal(b.report.verified, false);
    t.match(b.report.problems.join('\n'), /gateway gw-1 batch 3 slice \d+: the ciphertext does not hash to its directory entry/);
  });
  t.test('fetch detects a tampered proof (directory)', async (t) => {
    const b = await tamper(3, (s) => (s.submission.envelope = flip(s.submission.envelope, 200)));
    t.equal(b.report.verified, false);
    t.match(b.report.problems.join('\n'), /batch 3: its directory does not hash to the header's directory hash/);
  });
  t.test('fetch detects a tampered header', async (t) => {
    const b = await tamper(4, (s) => {
      const h = Buffer.from(s.submission.header, 'hex');
      h[h.length - 40]! ^= 1; // inside the watermark field
      s.submission.header = h.toString('hex');
    });
    t.equal(b.report.verified, false);
    t.match(b.report.problems.join('\n'), /batch 4: batch 5 does not name it as previous: its header hash is not the one anchored on chain/, 'batch 4 is inside a folded group: the next header shows it was altered');
  });
  t.test('fetch detects a withheld batch', async (t) => {
    const p = storePath(3);
    const orig = readFileSync(p, 'utf8');
    const { rmSync } = await import('node:fs');
    rmSync(p);
    try {
      const b = (await fetchShare(input(drA))).bundle;
      t.equal(b.report.verified, false);
      t.match(b.report.gaps.join('\n'), /gateway gw-1: batches 3 of the announced run 2\.\.6 were not delivered|batch/);
    } finally {
      writeFileSync(p, orig);
    }
  });

  t.test('one signature check vouches for a run that links up; a bad head signature is found', async (t) => {
    // noble's pairing, counting the signatures it is asked to check.
    let checks = 0;
    const counting: PairingBackend = { name: 'noble (counted)', verifyBatch: (items, random) => ((checks += items.length), noblePairing.verifyBatch(items, random)) };
    const withSig = async (seq: number | null): Promise<ReturnType<typeof verifyBundle>> => {
      const copy = JSON.parse(JSON.stringify(bundle)) as ShareBundle;
      if (seq !== null) {
        const b = copy.proof.gateways[0]!.batches.find((x) => x.seq === seq)! as { signature: string };
        // Another valid-looking signature: the same gateway's signature of another header.
        b.signature = copy.proof.gateways[0]!.batches.find((x) => x.seq !== seq)!.signature;
      }
      checks = 0;
      return verifyBundle(copy, chain, counting);
    };
    const run = bundle.proof.gateways[0]!;
    t.same([run.lo, run.hi], [1, 6]);
    const honest = await withSig(null);
    t.equal(honest.verified, true);
    t.equal(checks, 1, 'batches 1..6 link up: only batch 6, the newest, is checked with a pairing');
    const badHead = await withSig(6);
    t.equal(badHead.verified, false);
    t.match(badHead.problems.join('\n'), /gateway gw-1 batch 6: the header is not signed by a key the registry lists for gw-1/);
    t.notMatch(badHead.problems.join('\n'), /batch [1-5]: the header is not signed/, 'the headers below a failed head are checked each by its own signature, and pass');
    t.equal(checks, 6);
    // A signature below the head is not what authenticates its header (the signed successor names
    // the header's hash): the bundle still verifies, and says nothing of that byte string.
    const badMiddle = await withSig(3);
    t.equal(badMiddle.verified, true);
    t.equal(checks, 1);
  });

  t.test('verify detects a tampered or trimmed file', async (t) => {
    const alter = async (f: (b: { readings: Reading[]; proof: ShareBundle['proof'] }) => void): Promise<ReturnType<typeof verifyBundle>> => {
      const copy = JSON.parse(JSON.stringify(bundle)) as ShareBundle & { readings: Reading[] };
      f(copy);
      return verifyBundle(copy, chain, noblePairing);
    };
    const v1 = await alter((b) => ((b.readings[0] as { value: number }).value += 1));
    t.equal(v1.verified, false);
    t.match(v1.problems.join('\n'), /not in its proven slices/);
    const v2 = await alter((b) => {
      const s = b.proof.gateways[0]!.batches.find((x) => x.slices.length > 0)!.slices[0]!;
      const l = s.leaves.find((x) => 'reading' in x) as { reading: { value: number } };
      l.reading.value += 1;
    });
    t.equal(v2.verified, false);
    t.match(v2.problems.join('\n'), /do not hash to the slice root/);
    const v3 = await alter((b) => {
      (b.proof.gateways[0] as unknown as { batches: unknown[] }).batches.splice(2, 1);
    });
    t.equal(v3.verified, false);
    t.match(v3.gaps.join('\n'), /were not delivered/);
    const v4 = await alter((b) => b.readings.pop());
    t.equal(v4.verified, false);
    const v5 = await alter((b) => {
      const x = b.proof.gateways[0]!.batches[1]! as { header: string };
      x.header = x.header.slice(0, -2) + (x.header.endsWith('00') ? '01' : '00');
    });
    t.equal(v5.verified, false);
  });
});
