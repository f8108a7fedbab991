// Sharing on the real stack (anvil, the chain node and the gateway as processes, the simulator, the
// hospital's key service), driven through the `mcps data` commands a newcomer types (README,
// "Sharing data"): refused without a grant; granted fetch returns exactly the patient's readings of
// the range (compared with the simulator's send log); no reading of another patient reaches the
// user (checked on the bytes received); the file verifies against the chain alone, a changed one
// does not; accesses are on chain (audit); revocation stops fetching; `mcps up`'s share summary.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { startStack, USER_ID } from '../cli/stack';
import { readSendLog } from '../device-sim/send-log';
import { lastJson, mcps } from './cli.helpers';
import type { ShareBundle } from '../data-user/bundle';
import { fetchShare } from '../data-user/fetch';
import { chainView } from '../data-user/chain-view';
import { loadUserKeys } from '../data-user/keys';
import { ChainRegistry } from '../contracts/chain-registry';
import { RegistryClient } from '../contracts/clients';
import { noblePairing } from '../protocol/handshake';
import { decodeUserReply } from '../protocol/sharing/data-messages';
import { decodeDirectory, decodeSlicePayload } from '../protocol/batch';
import { openSlice, sliceKey } from '../protocol/sharing/slice-keys';
import { EpochKeyOpener } from '../gateway/sealing/envelope';

t.test('sharing on the local stack', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-share-stack-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const startedAt = Date.now() - 1000;
  const stack = await startStack({ data, editorPort: 0, mqttPort: 0, nodePort: 0, mqttRatePerS: 5, mqttDevices: 3, serial: false });
  t.teardown(() => stack.stop());
  await new Promise((r) => setTimeout(r, 5000));
  const drained = await stack.drain();
  t.ok(drained.drained, 'everything sent is anchored');
  const from = new Date(startedAt).toISOString();
  const to = new Date().toISOString();
  const out = join(data, 'p1.json');
  const P = 'p-0001';
  const fetchArgs = (file: string, extra: string[] = []): string[] => ['data', 'fetch', '--data', data, '--as', USER_ID, '--patient', P, '--from', from, '--to', to, '--out', file, '--json', ...extra];

  const before = await mcps(fetchArgs(out));
  t.equal(before.code, 1, 'refused without a grant');
  t.match(lastJson(before), { ok: false, refusal: 'no-grant' });
  t.notOk(existsSync(out), 'nothing written');

  const granted = await mcps(['data', 'grant', '--data', data, '--user', USER_ID, '--patient', P, '--from', from, '--to', to, '--json']);
  t.equal(granted.code, 0, granted.stderr);
  const grant = lastJson(granted) as { grant: number; tx: string };
  t.ok(Number.isInteger(grant.grant));

  const fetched = await mcps(fetchArgs(out));
  t.equal(fetched.code, 0, fetched.stdout + fetched.stderr);
  const f = lastJson(fetched) as { verified: boolean; readings: number; foreign: number; gaps: string[]; problems: string[] };
  t.same([f.verified, f.foreign, f.gaps, f.problems], [true, 0, [], []]);
  const bundle = JSON.parse(readFileSync(out, 'utf8')) as ShareBundle;
  const key = (x: { deviceId: string; deviceSeq: number; kind: string }): string => `${x.deviceId}/${x.deviceSeq}/${x.kind}`;
  const sent = readSendLog(stack.sendLogPath).filter((e) => e.acked && e.patient === P).map(key).sort();
  t.ok(sent.length > 10, `the simulator sent ${sent.length} readings of ${P}`);
  t.same(bundle.readings.map(key).sort(), sent, 'exactly the patient\'s readings the simulator sent');
  t.ok(bundle.readings.every((r) => r.patient === P));

  t.test('no reading of another patient reaches the user (the bytes received)', async (t) => {
    const provider = new ethers.JsonRpcProvider(stack.rpcUrl, undefined, { staticNetwork: true });
    t.teardown(() => provider.destroy());
    const user = loadUserKeys(join(data, 'users', USER_ID), USER_ID);
    const r = await fetchShare({ user, node: { id: 'node-1', url: stack.nodeUrl }, owner: { url: stack.ownerServiceUrl, hospital: 'hospital-a' }, deployment: stack.deployment, provider, chain: chainView(provider, stack.deployment), registry: new ChainRegistry(new RegistryClient(provider, stack.deployment.registry)), pairing: noblePairing, patient: P, from: Date.parse(from), to: Date.parse(to), grantId: grant.grant });
    t.equal(r.bundle.report.verified, true);
    // Open every ciphertext that came over the wire with the OWNER's keys: all of them are P's.
    const epochKeys = new EpochKeyOpener(stack.owner.privateKey);
    let slices = 0;
    let readings = 0;
    for (const raw of r.rawReplies) {
      const reply = decodeUserReply(raw);
      if (!reply.ok) continue;
      for (const g of reply.gateways) {
        for (const b of g.batches) {
          const dir = decodeDirectory(b.directory);
          for (const s of b.slices) {
            const e = dir.slices[s.index]!;
            const k = sliceKey(await epochKeys.open(g.gatewayId, dir.epochId, dir.wrappedEpochKey), { gatewayId: g.gatewayId, seq: b.seq, tag: e.tag, day: e.day, count: e.count, firstReceivedAt: e.firstReceivedAt, lastReceivedAt: e.lastReceivedAt });
            for (const rb of decodeSlicePayload(openSlice(k, g.gatewayId, b.seq, e.tag, s.ciphertext))) {
              const x = JSON.parse(Buffer.from(rb).toString('utf8')) as { patient: string };
              t.equal(x.patient, P);
              readings++;
            }
            slices++;
          }
        }
      }
    }
    t.ok(slices > 0 && readings >= sent.length, `${slices} slices, ${readings} readings received, all ${P}'s`);
  });

  t.test('the file verifies against the chain alone; a changed one does not', async (t) => {
    const v = await mcps(['data', 'verify', out, '--data', data, '--json']);
    t.equal(v.code, 0, v.stdout + v.stderr);
    t.match(lastJson(v), { verified: true, readings: sent.length });
    const bad = JSON.parse(readFileSync(out, 'utf8')) as { readings: Array<{ value: number }> };
    bad.readings[0]!.value += 1;
    const badPath = join(data, 'bad.json');
    writeFileSync(badPath, JSON.stringify(bad));
    const v2 = await mcps(['data', 'verify', badPath, '--rpc', stack.rpcUrl, '--json']);
    t.equal(v2.code, 1);
    t.match(lastJson(v2), { verified: false });
    // csv: the table and its proof; a changed row is caught.
    const csv = join(data, 'p1.csv');
    const fc = await mcps(fetchArgs(csv, ['--format', 'csv']));
    t.equal(fc.code, 0, fc.stderr);
    t.ok(existsSync(`${csv}.proof.json`));
    t.equal((await mcps(['data', 'verify', csv, '--data', data])).code, 0);
    const rows = readFileSync(csv, 'utf8').split('\n');
    rows.splice(1, 1);
    writeFileSync(csv, rows.join('\n'));
    const vc = await mcps(['data', 'verify', csv, '--data', data, '--json']);
    t.equal(vc.code, 1, 'a removed row is detected');
  });

  t.test('accesses on chain; revocation stops fetching', async (t) => {
    const a = await mcps(['data', 'audit', '--data', data, '--patient', P, '--json']);
    t.equal(a.code, 0, a.stderr);
    const audit = lastJson(a) as { grants: unknown[]; accesses: Array<{ user: string; recorded: boolean; grant: number }> };
    t.ok(audit.accesses.filter((x) => x.recorded && x.user === USER_ID && x.grant === grant.grant).length >= 3, 'every fetch is an access on chain');
    const human = await mcps(['data', 'audit', '--data', data, '--user', USER_ID]);
    t.match(human.stdout, /user-1 under grant \d+/);
    const rv = await mcps(['data', 'revoke', '--data', data, '--grant', String(grant.grant), '--json']);
    t.equal(rv.code, 0, rv.stderr);
    const after = await mcps(fetchArgs(join(data, 'after.json'), ['--grant', String(grant.grant)]));
    t.equal(after.code, 1);
    t.match(lastJson(after), { ok: false, refusal: 'revoked' });
  });

  t.test('the share summary of mcps up', async (t) => {
    const s = await stack.share();
    t.match(s, { verified: true, foreign: 0, refused_without_grant: true });
    t.equal(s.fetched, s.expected, `fetched ${s.fetched} = expected ${s.expected} from the send log`);
    t.ok(s.accesses_on_chain >= 1);
  });
});
