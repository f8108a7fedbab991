// Our nodes inside a gateway runtime, under node-red-node-test-helper: decode → batch → seal &
// forward with the real journal, sealer and outbox (SQLite in a temp directory). Checked for every
// node: each input message is completed (done) exactly once, errors go through done(err), receipts
// come out, and a redeploy leaves no listeners behind on the runtime.
import t from 'tap';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';
import { RUNTIME_SETTING } from '../gateway/runtime';
import { encodeDf7Packet } from '../device-sim/devices/nonin-df7-encoder';
import type { BatchSubmission, SignedReceipt } from '../protocol/submission';
import { nodeRedHelper } from './node-red.helpers';
import { testRuntime } from './gateway-runtime.helpers';

const helper = nodeRedHelper();
// Node-RED's hook registry: onComplete fires once per done() call (Node-RED does not guard doubles).
const hooks = (require('@node-red/util') as { hooks: { add(name: string, fn: (ev: { msg: { _msgid: string }; error?: unknown; node: { id: string } }) => void): void; remove(name: string): void } }).hooks;
const nodes = ['decode', 'batch', 'seal-forward', 'anchor-status', 'mqtt-device'].map((n) => require(`../nodes/${n}`) as unknown);

const json = (seq: number, over: Record<string, unknown> = {}): string => JSON.stringify({ v: 1, deviceId: 'temp-bed1', patient: 'p-1', seq, kind: 'body_temp', value: 36.6, unit: 'Cel', time: 1_764_000_000_000 + seq, ...over });

t.test('decode → batch → seal & forward in a gateway runtime: journaled, sealed, receipted, each message done once', async (t) => {
  const submitted: BatchSubmission[] = [];
  // Stand-in for the chain node (the real one, over HTTP with the handshake, is tested in
  // chain-node-api and stack tests): it answers each submission with a receipt at once.
  const client = {
    submit: async (sub: BatchSubmission, e: { seq: number; headerHash: string; root: string }): Promise<SignedReceipt> => {
      submitted.push(sub);
      return { receipt: { v: 1, nodeId: 'n', gatewayId: sub.gatewayId, seq: e.seq, headerHash: e.headerHash, root: e.root, count: 0, txHash: `0x${'ab'.repeat(32)}`, blockNumber: 1, status: 'anchored' }, signature: '00' };
    },
  };
  const T = await testRuntime({ devices: new DeviceCredentials([{ id: 'temp-bed1', patient: 'p-1', passwordHash: hashPassword('x') }]), client });
  t.teardown(() => T.close());
  const { rt, journal } = T;
  helper.settings({ [RUNTIME_SETTING]: rt });
  await new Promise<void>((r) => helper.startServer(r));
  t.teardown(() => new Promise<void>((r) => helper.stopServer(r)));

  const completions = new Map<string, number>();
  const errors: string[] = [];
  hooks.add('onComplete.mcpstest', (ev) => {
    const k = `${ev.node.id}/${ev.msg._msgid}`;
    completions.set(k, (completions.get(k) ?? 0) + 1);
    if (ev.error) errors.push(`${ev.node.id}: ${String(ev.error)}`);
  });
  t.teardown(() => hooks.remove('onComplete.mcpstest'));

  const flow = [
    { id: 'dec', type: 'mcps-decode', format: 'mcps-json', wires: [['bat'], ['refused']] },
    { id: 'df7', type: 'mcps-decode', format: 'nonin-df7', deviceId: 'oxi-1', patient: 'p-1', wires: [['bat'], ['refused']] },
    { id: 'bat', type: 'mcps-batch', maxCount: 2, maxAgeMs: 60000, wires: [['seal']] },
    { id: 'seal', type: 'mcps-seal-forward', wires: [['receipts']] },
    { id: 'as', type: 'mcps-anchor-status', wires: [['anchored'], ['failed']] },
    { id: 'receipts', type: 'helper' },
    { id: 'anchored', type: 'helper' },
    { id: 'failed', type: 'helper' },
    { id: 'refused', type: 'helper' },
  ];
  await helper.load(nodes, flow);
  const got = { receipts: 0, anchored: 0, refused: [] as string[] };
  helper.getNode('receipts').on('input', () => got.receipts++);
  helper.getNode('anchored').on('input', () => got.anchored++);
  helper.getNode('refused').on('input', (m) => got.refused.push(String((m as { error: string }).error)));

  const dec = helper.getNode('dec');
  dec.receive({ topic: 'mcps/devices/temp-bed1/readings', payload: Buffer.from(json(1)) });
  dec.receive({ topic: 'mcps/devices/temp-bed1/readings', payload: json(2) });
  dec.receive({ topic: 'mcps/devices/temp-bed1/readings', payload: JSON.parse(json(3)) as unknown });
  dec.receive({ topic: 'mcps/devices/temp-bed1/readings', payload: json(4, { unit: 'F' }) });
  // A Nonin packet cut in two messages: two readings (SpO2 and pulse rate) after the second part.
  const packet = Buffer.from(encodeDf7Packet({ spo2: 97, pulseRate: 64, pleth: Array(25).fill(1000) }));
  const df7 = helper.getNode('df7');
  df7.receive({ topic: 'tty1', payload: packet.subarray(0, 60) });
  df7.receive({ topic: 'tty1', payload: packet.subarray(60) });
  df7.receive({ topic: 'tty1', payload: 'not bytes' });

  for (let i = 0; i < 100 && got.receipts < 2; i++) await new Promise((r) => setTimeout(r, 50));
  helper.getNode('bat').receive({ flush: true });
  for (let i = 0; i < 100 && got.receipts < 3; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(rt.metrics.readingsIn, 5, 'five valid readings journaled (three JSON, two from the Nonin packet)');
  t.equal(got.refused.length, 2, 'two refused inputs on output 2');
  t.match(got.refused.join('\n'), /unit "F" for body_temp/);
  t.match(got.refused.join('\n'), /not-bytes/, 'a string where bytes belong (the helper shows message keys)');
  t.equal(submitted.length, 3, 'three batches (2 + 2 + 1 on flush) sealed and submitted');
  t.equal(got.receipts, 3, 'a receipt per batch on the seal node');
  t.equal(got.anchored, 3, 'and on the anchor-status node');
  t.equal(journal.unsealedCount, 0, 'every journaled reading was sealed');
  t.same(errors, [], 'no done(err)');
  const doubles = [...completions].filter(([, n]) => n !== 1);
  t.same(doubles, [], 'no message completed twice');
  t.equal([...completions.keys()].filter((k) => k.startsWith('dec/')).length, 4, 'decode: each of its 4 messages completed');
  t.equal([...completions.keys()].filter((k) => k.startsWith('df7/')).length, 3, 'decode (Nonin): each of its 3 messages completed');
  t.equal([...completions.keys()].filter((k) => k.startsWith('bat/')).length, 6, 'batch: 5 readings and the flush completed');
  t.equal([...completions.keys()].filter((k) => k.startsWith('seal/')).length, 3, 'seal: each batch completed');

  // Bad input to the seal node is reported through done(err), once.
  helper.getNode('seal').receive({ payload: 'nope' });
  helper.getNode('bat').receive({ payload: { not: 'a reading' } });
  await new Promise((r) => setTimeout(r, 100));
  t.equal(errors.length, 2, 'both refusals reach Catch nodes through done(err)');

  // Redeploys leave nothing behind on the runtime.
  const listeners = (): number => (['flush', 'receipt', 'failure', 'mqtt-reading', 'mqtt-rejected'] as const).reduce((n, e) => n + rt.listenerCount(e), 0);
  const base = listeners();
  t.ok(base > 0, 'while deployed, the nodes listen to the runtime');
  for (let i = 0; i < 10; i++) {
    await helper.unload();
    await helper.load(nodes, flow);
  }
  t.equal(listeners(), base, 'ten redeploys later the same number of listeners');
  await helper.unload();
  t.equal(listeners(), 0, 'after the flow is removed, none');
});

t.test('mqtt device, output "group": one message per journal commit, taken whole by batch, sealed with every journal id', async (t) => {
  const submitted: BatchSubmission[] = [];
  const client = {
    submit: async (sub: BatchSubmission, e: { seq: number; headerHash: string; root: string }): Promise<SignedReceipt> => {
      submitted.push(sub);
      return { receipt: { v: 1, nodeId: 'n', gatewayId: sub.gatewayId, seq: e.seq, headerHash: e.headerHash, root: e.root, count: 0, txHash: `0x${'ab'.repeat(32)}`, blockNumber: 1, status: 'anchored' }, signature: '00' };
    },
  };
  const devices = new DeviceCredentials([
    { id: 'temp-bed1', patient: 'p-1', passwordHash: hashPassword('x') },
    { id: 'temp-bed2', patient: 'p-2', passwordHash: hashPassword('x') },
  ]);
  const T = await testRuntime({ devices, client });
  t.teardown(() => T.close());
  const { rt, journal } = T;
  // The node only needs to know an embedded broker exists; readings are handed to the runtime's
  // broker hook (ingestMqtt) directly, as the broker does (the broker itself: journal-ingest tests).
  rt.attachBroker({} as Parameters<typeof rt.attachBroker>[0]);
  helper.settings({ [RUNTIME_SETTING]: rt });
  await new Promise<void>((r) => helper.startServer(r));
  t.teardown(() => new Promise<void>((r) => helper.stopServer(r)));
  await helper.load(nodes, [
    { id: 'all', type: 'mcps-mqtt-device', topic: 'mcps/devices/+/readings', output: 'group', wires: [['bat', 'groups'], []] },
    { id: 'one', type: 'mcps-mqtt-device', topic: 'mcps/devices/temp-bed2/readings', output: 'group', wires: [['groups2'], []] },
    { id: 'each', type: 'mcps-mqtt-device', topic: 'mcps/devices/+/readings', wires: [['singles'], []] },
    { id: 'bat', type: 'mcps-batch', maxCount: 4, maxAgeMs: 60000, wires: [['seal']] },
    { id: 'seal', type: 'mcps-seal-forward', wires: [[]] },
    { id: 'groups', type: 'helper' },
    { id: 'groups2', type: 'helper' },
    { id: 'singles', type: 'helper' },
  ]);
  type Group = { payload: Array<{ deviceSeq: number; deviceId: string }>; journalIds: number[]; count: number };
  const groups: Group[] = [];
  const groups2: Group[] = [];
  let singles = 0;
  helper.getNode('groups').on('input', (m) => groups.push(m as Group));
  helper.getNode('groups2').on('input', (m) => groups2.push(m as Group));
  helper.getNode('singles').on('input', () => singles++);
  const body = (dev: string, seq: number): Buffer => Buffer.from(json(seq, { deviceId: dev, patient: dev === 'temp-bed1' ? 'p-1' : 'p-2' }));
  // Six readings in one turn: one journal commit.
  await Promise.all([1, 2, 3, 4, 5, 6].map((seq) => rt.ingestMqtt(`mcps/devices/temp-bed${seq % 2 ? 1 : 2}/readings`, `temp-bed${seq % 2 ? 1 : 2}`, body(`temp-bed${seq % 2 ? 1 : 2}`, seq))));
  for (let i = 0; i < 100 && (groups.length < 1 || submitted.length < 1); i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(groups.length, 1, 'one message for the commit');
  t.same(groups[0]!.payload.map((r) => r.deviceSeq), [1, 2, 3, 4, 5, 6], 'every reading, in arrival order');
  t.equal(groups[0]!.count, 6);
  t.equal(groups[0]!.journalIds.length, 6, 'with their journal ids');
  t.same(groups2[0]!.payload.map((r) => r.deviceId), ['temp-bed2', 'temp-bed2', 'temp-bed2'], 'a node for one device gets only its readings');
  t.equal(singles, 6, 'output "reading" still sends one message each');
  t.equal(submitted.length, 1, 'batch closed at 4 within the group and sealed');
  helper.getNode('bat').receive({ flush: true });
  for (let i = 0; i < 100 && submitted.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(journal.unsealedCount, 0, 'the whole group was sealed, the journal is empty');
  const bat = helper.getNode('bat');
  let sent = 0;
  helper.getNode('seal').on('input', () => sent++);
  bat.receive({ payload: [{ deviceId: 'x', kind: 'body_temp', value: 1 }, { nope: 1 }] });
  bat.receive({ payload: [{ deviceId: 'x', kind: 'body_temp', value: 1 }], journalIds: [1, 2] });
  helper.getNode('bat').receive({ flush: true });
  await new Promise((r) => setTimeout(r, 100));
  t.equal(sent, 0, 'a group with a bad element or mismatched ids is refused whole');
});
