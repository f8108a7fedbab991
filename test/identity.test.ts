// The gateway identity a flow is for, against the gateway it runs on and the registry entry of its
// key: the checks, and what the seal & forward node does with them.
import t from 'tap';
import { identityMismatch, registrationState } from '../gateway/identity/identity-check';
import { DeviceCredentials } from '../gateway/ingest/device-credentials';
import { RUNTIME_SETTING } from '../gateway/runtime';
import type { RegistryRecord } from '../protocol/handshake/registry';
import { nodeRedHelper } from './node-red.helpers';
import { testRuntime } from './gateway-runtime.helpers';

const key = Uint8Array.from({ length: 96 }, (_, i) => i);
const other = Uint8Array.from({ length: 96 }, (_, i) => 95 - i);
const self = { gatewayId: 'gw-1', publicKey: key, registry: '0x' + 'ab'.repeat(20) };
const rec = (over: Partial<RegistryRecord> = {}): RegistryRecord => ({ id: 'gw-1', role: 'gateway', epoch: 1, status: 'active', blsPublicKey: key, ...over });

t.test('registration states and mismatches', async (t) => {
  t.same(registrationState(rec(), self), { state: 'registered', epoch: 1 });
  t.same(registrationState(undefined, self), { state: 'not-registered' });
  t.same(registrationState(rec({ blsPublicKey: other, epoch: 2 }), self), { state: 'other-key', epoch: 2 });
  t.same(registrationState(rec({ status: 'revoked' }), self), { state: 'revoked', epoch: 1 });
  t.same(registrationState(rec({ role: 'node' }), self), { state: 'not-a-gateway' });
  t.same(identityMismatch({ gatewayId: 'gw-1', registry: self.registry.toUpperCase().replace('0X', '0x') }, self), [], 'addresses compare without case');
  t.same(identityMismatch({ gatewayId: '', registry: '' }, self), [], 'unset: nothing to compare');
  t.same(identityMismatch({ gatewayId: 'gw-2', registry: '0x' + 'cd'.repeat(20) }, self), ['the flow is for gateway "gw-2", this gateway is "gw-1"', `the flow names registry 0x${'cd'.repeat(20)}, this gateway uses ${self.registry}`]);
});

t.test('seal & forward with a gateway identity: refuses another gateway’s flow, shows the registration', async (t) => {
  const helper = nodeRedHelper();
  const nodes = ['seal-forward', 'gateway-identity'].map((n) => require(`../nodes/${n}`) as unknown);
  const T = await testRuntime({ devices: new DeviceCredentials([]), client: { submit: () => new Promise(() => undefined) } });
  t.teardown(() => T.close());
  // Stand-in for the on-chain registry (the real one is read in the stack test).
  let entry: RegistryRecord | undefined = rec();
  (T.rt.parts as { identity?: unknown }).identity = { ...self, lookup: async () => entry };
  helper.settings({ [RUNTIME_SETTING]: T.rt });
  await new Promise<void>((r) => helper.startServer(r));
  t.teardown(() => new Promise<void>((r) => helper.stopServer(r)));
  const flow = (gatewayId: string) => [
    { id: 'id', type: 'mcps-gateway-identity', gatewayId, registry: self.registry },
    { id: 'sf', type: 'mcps-seal-forward', identity: 'id', wires: [[]] },
  ];
  const lastStatus = async (): Promise<{ fill: string; text: string }> => {
    await new Promise((r) => setTimeout(r, 700)); // statuses are throttled to two a second
    return helper.getNode('sf').status.lastCall?.args[0] as { fill: string; text: string };
  };

  await helper.load(nodes, flow('gw-1'));
  t.match(await lastStatus(), { fill: 'yellow', text: /identity\.registered/ }, 'this gateway, its key registered');
  await helper.unload();

  entry = rec({ blsPublicKey: other, epoch: 2 });
  await helper.load(nodes, flow('gw-1'));
  t.match(await lastStatus(), { fill: 'red', text: /identity\.other-key/ }, 'the registry holds another key: red, named');
  await helper.unload();

  await helper.load(nodes, flow('gw-7'));
  t.match(helper.getNode('sf').status.lastCall?.args[0], { fill: 'red', text: /the flow is for gateway "gw-7", this gateway is "gw-1"/ });
  const err = await new Promise<unknown>((resolve) => {
    const n = helper.getNode('sf') as unknown as { receive(m: unknown): void; on(e: string, f: (x: unknown) => void): void };
    n.on('call:error', (call) => resolve(call));
    n.receive({ payload: [{}] });
    setTimeout(() => resolve(null), 500);
  });
  t.ok(err, 'and refuses its input through done(err)');
  await helper.unload();

  await helper.load(nodes, [{ id: 'id', type: 'mcps-gateway-identity', gatewayId: 'not an id!', registry: '0x12' }, { id: 'sf', type: 'mcps-seal-forward', identity: 'id', wires: [[]] }]);
  t.match(helper.getNode('sf').status.lastCall?.args[0], { fill: 'red', text: /gateway id "not an id!" is not a registry id; registry "0x12" is not a contract address/ });
  await helper.unload();
});
