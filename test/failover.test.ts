// Failing over between consortium chain nodes on the gateway side: the target list as a field
// engineer writes it, the switch after repeated failures, and the seal & forward node taking its
// targets from an mcps-chain-node configuration and giving them back on close. (The chain node's
// half — a batch another node anchored gets a copy and a receipt, never a second anchor — is tested
// on anvil in ingest-resume.test.ts.)
import t from 'tap';
import { FailoverChainClient, parseChainTargets, type TargetClient } from '../gateway/chain/failover-client';
import { DeviceCredentials } from '../gateway/ingest/device-credentials';
import { RUNTIME_SETTING } from '../gateway/runtime';
import type { SignedReceipt } from '../protocol/submission';
import { nodeRedHelper } from './node-red.helpers';
import { testRuntime } from './gateway-runtime.helpers';

const receipt = (nodeId: string): SignedReceipt => ({ receipt: { v: 1, nodeId, gatewayId: 'gw-1', seq: 1, headerHash: 'h', root: 'r', count: 1, txHash: '0x', blockNumber: 1, status: 'anchored' }, signature: '' });
/** Stand-ins for chain-node clients: fail while `down`, else answer with a receipt. */
const fake = (nodeId: string, state: { down: boolean; calls: number }): TargetClient => ({
  submit: async () => {
    state.calls++;
    if (state.down) throw new Error(`${nodeId} unreachable`);
    return receipt(nodeId);
  },
});

t.test('the target list: "<node id> <url>" per line or comma, every mistake named', async (t) => {
  t.same(parseChainTargets('node-1 https://a.example:7545\n node-2   http://10.0.0.2:7545 \n'), { targets: [{ nodeId: 'node-1', url: 'https://a.example:7545' }, { nodeId: 'node-2', url: 'http://10.0.0.2:7545' }] });
  t.same(parseChainTargets('n1 http://a, n2 http://b'), { targets: [{ nodeId: 'n1', url: 'http://a' }, { nodeId: 'n2', url: 'http://b' }] });
  t.match(parseChainTargets(''), { problem: /no chain node given/ });
  t.match(parseChainTargets('node-1'), { problem: /line 1 "node-1": expected "<node id> <url>"/ });
  t.match(parseChainTargets('node-1 ftp://x'), { problem: /line 1: "ftp:\/\/x" is not an http\(s\) URL/ });
  t.match(parseChainTargets('n1 http://a\nn1 http://b'), { problem: /line 2: node n1 comes twice/ });
  t.match(parseChainTargets('n!1 http://a'), { problem: /"n!1" is not a registry id/ });
});

t.test('switches to the next node after three failures in a row, and around', async (t) => {
  const a = { down: true, calls: 0 };
  const b = { down: false, calls: 0 };
  const logs: string[] = [];
  const c = new FailoverChainClient([{ nodeId: 'a', url: 'http://a', client: fake('a', a) }, { nodeId: 'b', url: 'http://b', client: fake('b', b) }], { log: (_l, m) => logs.push(m) });
  const sub = {} as never;
  const e = { seq: 1, headerHash: 'h', root: 'r' };
  for (let i = 0; i < 3; i++) await t.rejects(c.submit(sub, e), /a unreachable/);
  t.equal(c.current.nodeId, 'b', 'b takes over');
  t.match(logs, [/chain node a \(http:\/\/a\) failed repeatedly \(a unreachable\); switching to b \(http:\/\/b\)/]);
  t.equal((await c.submit(sub, e)).receipt.nodeId, 'b');
  b.down = true;
  a.down = false;
  for (let i = 0; i < 3; i++) await t.rejects(c.submit(sub, e));
  t.equal(c.current.nodeId, 'a', 'and back to a when b fails');
  t.equal(c.counters.switches, 2);
  const one = new FailoverChainClient([{ nodeId: 'a', url: 'http://a', client: fake('a', { down: true, calls: 0 }) }]);
  for (let i = 0; i < 5; i++) await t.rejects(one.submit(sub, e));
  t.equal(one.counters.switches, 0, 'one node: nothing to switch to');
});

t.test('seal & forward takes its chain nodes from an mcps-chain-node configuration and gives them back on close', async (t) => {
  const helper = nodeRedHelper();
  const nodes = ['seal-forward', 'chain-node'].map((n) => require(`../nodes/${n}`) as unknown);
  const T = await testRuntime({ devices: new DeviceCredentials([]), client: { submit: () => new Promise(() => undefined) } });
  t.teardown(() => T.close());
  const built: string[][] = [];
  const defaultClient = T.outbox.client;
  (T.rt.parts as { chainClientFor?: unknown }).chainClientFor = (targets: Array<{ nodeId: string; url: string }>) => {
    built.push(targets.map((x) => x.nodeId));
    return new FailoverChainClient(targets.map((x) => ({ ...x, client: fake(x.nodeId, { down: false, calls: 0 }) })));
  };
  helper.settings({ [RUNTIME_SETTING]: T.rt });
  await new Promise<void>((r) => helper.startServer(r));
  t.teardown(() => new Promise<void>((r) => helper.stopServer(r)));
  await helper.load(nodes, [
    { id: 'cn', type: 'mcps-chain-node', endpoints: 'node-1 http://127.0.0.1:1\nnode-2 http://127.0.0.1:2' },
    { id: 'sf', type: 'mcps-seal-forward', chainNode: 'cn', wires: [[]] },
  ]);
  t.same(built, [['node-1', 'node-2']], 'a client for the configured nodes, in order');
  t.not(T.outbox.client, defaultClient, 'the outbox sends to them');
  t.same(T.rt.chainNode, { nodeId: 'node-1', url: 'http://127.0.0.1:1' });
  await helper.unload();
  t.equal(T.outbox.client, defaultClient, 'closed: back to the gateway configuration’s chain node');

  await helper.load(nodes, [
    { id: 'cn', type: 'mcps-chain-node', endpoints: 'node-1' },
    { id: 'sf', type: 'mcps-seal-forward', chainNode: 'cn', wires: [[]] },
  ]);
  const st = helper.getNode('sf').status.lastCall?.args[0] as { fill: string; text: string };
  t.match(st, { fill: 'red', text: /line 1 "node-1": expected "<node id> <url>"/ }, 'a wrong list turns the node red and says what is wrong');
  t.equal(T.outbox.client, defaultClient, 'and batches keep going to the configured node');
  await helper.unload();
  await helper.load(nodes, [
    { id: 'cn', type: 'mcps-chain-node', endpoints: '${MCPS_UNSET_CHAIN_NODES}' },
    { id: 'sf', type: 'mcps-seal-forward', chainNode: 'cn', wires: [[]] },
  ]);
  t.equal(T.outbox.client, defaultClient, 'an unset variable: the gateway configuration’s chain node');
  await helper.unload();
});
