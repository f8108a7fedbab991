// Which of Node-RED's core nodes the gateway loads (editor.coreNodes): the everyday ones by default,
// every one the flow uses, all of them on request; checked on the list Node-RED itself has and on a
// real embedded Node-RED (its admin API's node list, its log).
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coreNodesExcludes, DEFAULT_CORE_NODES, flowNodeTypes, listCoreNodeSets, unknownCoreNodes } from '../gateway/host/core-nodes';
import { startNodeRed } from '../gateway/host/node-red-host';
import { parseGatewayConfig } from '../gateway/config';
import { DeviceCredentials } from '../gateway/ingest/device-credentials';
import { testRuntime } from './gateway-runtime.helpers';

const sets = listCoreNodeSets();

t.test('the core node sets as Node-RED finds them, with their types', async (t) => {
  const by = new Map(sets.map((s) => [s.set, s]));
  t.same(by.get('httprequest'), { file: '21-httprequest.js', set: 'httprequest', types: ['http request'] });
  t.same(by.get('function')?.types, ['function']);
  t.same(by.get('link')?.types, ['link in', 'link out', 'link call']);
  for (const name of [...DEFAULT_CORE_NODES, 'unknown', 'global-config']) t.ok(by.has(name), `${name} is a core node set`);
});

t.test('what is left out: by default the heavy ones; never what the flow uses; nothing with "all"', async (t) => {
  const none = coreNodesExcludes(DEFAULT_CORE_NODES, sets, new Set());
  for (const f of ['21-httprequest.js', '10-function.js', '70-JSON.js', '10-mqtt.js', '70-HTML.js', '80-template.js']) t.ok(none.includes(f), `${f} left out by default`);
  for (const f of ['21-debug.js', '20-inject.js', '98-unknown.js', '91-global-config.js', '15-change.js', '10-switch.js', '60-link.js']) t.notOk(none.includes(f), `${f} loaded by default`);
  const used = coreNodesExcludes(DEFAULT_CORE_NODES, sets, new Set(['tab', 'mcps-batch', 'function', 'mqtt in']));
  t.notOk(used.includes('10-function.js'), 'a function node in the flow: its set is loaded');
  t.notOk(used.includes('10-mqtt.js'), 'an mqtt in node in the flow: its set is loaded');
  t.notOk(used.includes('05-tls.js') || used.includes('06-httpproxy.js'), 'with the TLS and proxy config nodes it offers');
  t.same(coreNodesExcludes('all', sets, new Set()), [], '"all": the stock palette');
  const listed = coreNodesExcludes(['JSON', 'http request'], sets, new Set());
  t.notOk(listed.includes('70-JSON.js') || listed.includes('21-httprequest.js'), 'a list names sets or node types, in any case');
  t.ok(listed.includes('21-debug.js'), 'a list replaces the default');
  t.notOk(listed.includes('98-unknown.js'), 'Node-RED\'s own placeholder is always loaded');
  t.same(unknownCoreNodes(['functon', 'json', 'http request'], sets), ['functon'], 'a misspelt name is found');
});

t.test('the config takes "all" or a list', async (t) => {
  const base = { dataDir: '/d', gatewayId: 'gw', mqtt: { host: '127.0.0.1' }, chainNode: { url: 'https://n:7545', nodeId: 'n' }, chain: { rpcUrl: 'http://x', registry: '0x' + '1'.repeat(40) }, ownerPublicKey: 'a'.repeat(64) };
  t.equal(parseGatewayConfig({ ...base, editor: { host: '127.0.0.1', port: 1880, coreNodes: 'all' } }).editor.coreNodes, 'all');
  t.same(parseGatewayConfig({ ...base, editor: { host: '127.0.0.1', port: 1880, coreNodes: ['function'] } }).editor.coreNodes, ['function']);
  t.throws(() => parseGatewayConfig({ ...base, editor: { host: '127.0.0.1', port: 1880, coreNodes: 'some' } }), /\/editor\/coreNodes/);
});

t.test('a real Node-RED loads the default sets and the flow\'s, and runs the flow', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-core-nodes-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const userDir = join(dir, 'node-red');
  mkdirSync(userDir);
  // An engineer's flow with a function and a json node wired in (not in the default set).
  const flow = [
    { id: 'tab1', type: 'tab', label: 'ward' },
    { id: 'in1', type: 'inject', z: 'tab1', once: true, onceDelay: 0.1, repeat: '', payloadType: 'str', payload: '{"a":1}', wires: [['js1']] },
    { id: 'js1', type: 'json', z: 'tab1', action: '', property: 'payload', wires: [['fn1']] },
    { id: 'fn1', type: 'function', z: 'tab1', func: 'msg.payload.b = 2;\nreturn msg;', outputs: 1, wires: [['dbg1']] },
    { id: 'dbg1', type: 'debug', z: 'tab1', active: true, complete: 'payload', wires: [] },
  ];
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flow));
  t.same([...flowNodeTypes(join(userDir, 'flows.json'))].sort(), ['debug', 'function', 'inject', 'json', 'tab']);
  const T = await testRuntime({ devices: new DeviceCredentials([]), client: { submit: () => new Promise(() => undefined) } });
  const logs: string[] = [];
    const red = await startNodeRed({ userDir, host: '127.0.0.1', port: 0, editor: { username: 'admin', password: 'a-test-password-1' }, credentialSecret: 'x'.repeat(32), runtime: T.rt, logLevel: 'info', log: (_l, m) => void logs.push(m) });
  t.teardown(async () => {
    await red.stop();
    T.close();
  });
  t.ok(red.flowsRunning(), 'the flows run');
  // The runtime's node list, as the editor's palette gets it (GET /nodes); read in-process, as an
  // editor login would leave Node-RED's week-long token timer running in this test process.
  const RED = require('node-red') as { nodes: { getNodeList(): Array<{ id: string; types: string[] }> } };
  const list = RED.nodes.getNodeList();
  const ids = new Set(list.map((s) => s.id));
  for (const id of ['node-red/debug', 'node-red/inject', 'node-red/change', 'node-red/function', 'node-red/JSON']) t.ok(ids.has(id), `${id} in the palette`);
  for (const id of ['node-red/httprequest', 'node-red/mqtt', 'node-red/HTML', 'node-red/template']) t.notOk(ids.has(id), `${id} not loaded`);
  t.ok(list.some((s) => s.types.includes('mcps-batch')), 'our nodes are loaded');
  t.same(logs.filter((m) => /missing|unknown type/i.test(m)), [], 'no missing node types');
});
