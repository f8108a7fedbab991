// `mcps admin` as an operator runs it: the real CLI against a real anvil chain, key files on disk,
// identity files printed by the boxes' own commands; every refusal decoded by name with a hint.
import t from 'tap';
import { AnchorClient } from '../contracts/clients';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { startAnvil } from '../contracts/anvil';
import { lastJson, mcps } from './cli.helpers';
import { gatewayKeyPath, loadGatewayIdentity } from '../gateway/identity/identity';
import { nextKeyPath } from '../common/key-rotation';

t.test('admin: deploy, register every kind of party, list, show, rotate, revoke; refusals named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-admin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const anvil = await startAnvil();
  t.teardown(() => anvil.stop());
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true });
  t.teardown(() => provider.destroy());
  const env = { MCPS_RPC_URL: anvil.url, MCPS_DEPLOYMENT: join(dir, 'deployment.json') };
  const run = (args: string[], input?: string) => mcps(args, { cwd: dir, env, ...(input !== undefined ? { input } : {}) });
  const json = async (args: string[]) => lastJson(await run([...args, '--json']));

  // Keys: the consortium admin's account is funded by the chain's own means (here anvil's).
  const consortium = await json(['admin', 'key', 'new', '--key', 'consortium.key']);
  t.match(consortium, { ok: true, address: /^0x[0-9a-fA-F]{40}$/ });
  t.equal(statSync(join(dir, 'consortium.key')).mode & 0o777, 0o600, 'key file is 0600');
  await provider.send('anvil_setBalance', [consortium.address, ethers.toQuantity(ethers.parseEther('1000'))]);
  const hospital = await json(['admin', 'key', 'new', '--key', 'hospital.key']);
  const imported = await run(['admin', 'key', 'import', '--key', 'imported.key'], '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d\n');
  t.equal(imported.code, 0, imported.stderr);
  t.match(imported.stdout, /0x70997970C51812dc3A010C7d01b50e0d17dc79C8/, 'an imported account keeps its address');
  const noFunds = await run(['admin', 'deploy', '--key', 'hospital.key']);
  t.equal(noFunds.code, 1);
  t.match(noFunds.stderr, /no funds for gas/, 'an account without funds is said to be one');

  const deployed = await json(['admin', 'deploy', '--key', 'consortium.key']);
  t.match(deployed, { ok: true, registry: /^0x/, anchor: /^0x/, accessLog: /^0x/, admin: consortium.address });
  t.match(JSON.parse(readFileSync(join(dir, 'deployment.json'), 'utf8')), { registry: deployed.registry, rpcUrl: anvil.url });
  t.match(await json(['admin', 'deploy', '--key', 'consortium.key']), { ok: false, message: /exists/ }, 'a deployment file is not overwritten without --force');
  const trustless = await json(['admin', 'deploy', '--key', 'consortium.key', '--trustless', '--deployment', join(dir, 'trustless.json')]);
  t.match(trustless, { ok: true, trustless: true }, '--trustless deploys a trustless Anchor');
  t.equal(await new AnchorClient(provider, String(trustless.anchor)).trustless(), true, 'the contract says it is trustless');
  t.equal(await new AnchorClient(provider, String(deployed.anchor)).trustless(), false, 'folded is the default');

  t.match(await json(['admin', 'hospital', 'add', 'hospital-a', '--admin', String(hospital.address), '--fund', '5', '--key', 'consortium.key']), { ok: true, hospital: 'hospital-a', funding: { tx: /^0x/ } });
  t.equal(ethers.formatEther(await provider.getBalance(String(hospital.address))), '5.0', '--fund sent the hospital admin 5 ether');

  // A hospital admin cannot add hospitals.
  const notAdmin = await run(['admin', 'hospital', 'add', 'hospital-b', '--admin', String(hospital.address), '--key', 'hospital.key']);
  t.equal(notAdmin.code, 1);
  t.match(notAdmin.stderr, /Registry refused: AccessControlUnauthorizedAccount\(0x[0-9a-fA-F]{40}, CONSORTIUM_ADMIN\)\n  what to do: .*consortium admin/);

  // A chain node and a gateway, from the identity files their own commands print.
  const nodeId = await run(['chain-node', 'identity', '--data', 'node', '--id', 'node-1', '--out', 'node-1.json']);
  t.equal(nodeId.code, 0, nodeId.stderr);
  t.match(JSON.parse(readFileSync(join(dir, 'node-1.json'), 'utf8')), { format: 'mcps-identity/1', role: 'node', id: 'node-1', operator: /^0x/, x25519PublicKey: /^[0-9a-f]{64}$/ });
  t.match(await json(['admin', 'node', 'add', 'node-1.json', '--fund', '1', '--key', 'consortium.key']), { ok: true, node: 'node-1' });
  const gw = await run(['gateway', 'identity', '--data', 'gw', '--id', 'gw-1']);
  t.equal(gw.code, 0, gw.stderr);
  writeFileSync(join(dir, 'gw-1.json'), gw.stdout);
  t.equal(existsSync(gatewayKeyPath(join(dir, 'gw'))), true, 'the gateway key was created on its box');

  const wrongKey = await run(['admin', 'gateway', 'add', 'gw-1.json', '--hospital', 'hospital-a', '--key', 'consortium.key']);
  t.equal(wrongKey.code, 1);
  t.match(wrongKey.stderr, /Registry refused: NotHospitalAdmin\(hospital-a, 0x[0-9a-fA-F]{40}\)\n  what to do: .*hospital admin's key file/, "only the hospital's admin registers its gateways");
  t.match(await json(['admin', 'gateway', 'add', 'gw-1.json', '--hospital', 'hospital-a', '--key', 'hospital.key']), { ok: true, gateway: 'gw-1', hospital: 'hospital-a', registration: { tx: /^0x/, block: Number } });

  // Refusals change nothing on chain: asked side by side.
  const other = JSON.parse(gw.stdout) as Record<string, string>;
  writeFileSync(join(dir, 'gw-2.json'), JSON.stringify({ ...other, id: 'gw-2' }));
  const [again, nowhere, sameKey] = await Promise.all([
    json(['admin', 'gateway', 'add', 'gw-1.json', '--hospital', 'hospital-a', '--key', 'hospital.key']),
    json(['admin', 'gateway', 'add', 'gw-1.json', '--hospital', 'nowhere', '--key', 'hospital.key']),
    json(['admin', 'gateway', 'add', 'gw-2.json', '--hospital', 'hospital-a', '--key', 'hospital.key']),
  ]);
  t.match(again, { ok: false, error: 'AlreadyRegistered', args: ['gw-1'], hint: /mcps admin show gw-1/ }, 'JSON refusal: name, arguments, hint');
  t.match(nowhere, { ok: false, error: 'UnknownHospital', hint: /mcps admin hospital add nowhere/ });
  t.match(sameKey, { ok: false, error: 'KeyAlreadyUsed' }, 'the same key under another id');
  const user = await run(['user', 'identity', '--data', 'dr-lee', '--id', 'dr-lee']);
  const nodeFile = JSON.parse(readFileSync(join(dir, 'node-1.json'), 'utf8')) as Record<string, string>;
  writeFileSync(join(dir, 'forged.json'), JSON.stringify({ ...JSON.parse(user.stdout), proofOfPossession: nodeFile.proofOfPossession }));
  t.match(await json(['admin', 'user', 'add', 'forged.json', '--hospital', 'hospital-a', '--key', 'hospital.key']), { ok: false, error: 'BadProofOfPossession', hint: /identity file/ }, 'the proof of possession is checked on chain');
  t.match(await json(['admin', 'user', 'add', 'gw-1.json', '--hospital', 'hospital-a', '--key', 'hospital.key']), { ok: false, message: /a gateway, not of a user/ }, 'a gateway identity is not a user');
  writeFileSync(join(dir, 'dr-lee.json'), user.stdout);
  t.match(await json(['admin', 'user', 'add', 'dr-lee.json', '--hospital', 'hospital-a', '--key', 'hospital.key']), { ok: true, user: 'dr-lee' });

  // list and show
  const [list, gateways, human, hospitalShown, gwShown, nobody] = await Promise.all([
    json(['admin', 'list']),
    json(['admin', 'list', '--role', 'gateway']),
    run(['admin', 'list']),
    json(['admin', 'show', 'hospital-a']),
    run(['admin', 'show', 'gw-1']),
    json(['admin', 'show', 'nobody']),
  ]);
  t.match(list, { ok: true, parties: [{ id: 'hospital-a', role: 'hospital', account: hospital.address }, { id: 'node-1', role: 'node' }, { id: 'gw-1', role: 'gateway', hospital: 'hospital-a', active: true, epoch: 1 }, { id: 'dr-lee', role: 'user' }] });
  t.same((gateways.parties as Array<{ id: string }>).map((p) => p.id), ['gw-1']);
  t.match(human.stdout, /^ID +ROLE +HOSPITAL +STATUS +EPOCH +ACCOUNT\n/);
  t.match(human.stdout, /gw-1 +gateway +hospital-a +active +1 /);
  t.match(hospitalShown, { hospital: { admin: hospital.address, gateways: ['gw-1'], users: ['dr-lee'] } });
  t.match(gwShown.stdout, /gw-1: gateway of hospital-a, active, key epoch 1/);
  t.match(nobody, { ok: false, message: /no hospital and no party "nobody"/ });

  // Rotation: the box makes its next key; the admin registers it; the box takes it at its next start.
  const next = await run(['gateway', 'identity', '--data', 'gw', '--id', 'gw-1', '--new-key', '--out', 'gw-1.next.json']);
  t.equal(next.code, 0, next.stderr);
  t.match(await json(['admin', 'rotate', 'gw-1', 'gw-1.next.json', '--key', 'hospital.key']), { ok: true, id: 'gw-1', epoch: 2 });
  t.match(await json(['admin', 'rotate', 'gw-1', 'gw-1.json', '--key', 'hospital.key']), { ok: false, error: 'KeyAlreadyUsed' }, 'a retired key cannot come back');
  const registered = ethers.getBytes('0x' + (JSON.parse(readFileSync(join(dir, 'gw-1.next.json'), 'utf8')) as { blsPublicKey: string }).blsPublicKey);
  const promoted = loadGatewayIdentity(join(dir, 'gw'), registered);
  t.same(promoted.publicKey, registered, 'at start the gateway promotes the key the registry lists');
  t.notOk(existsSync(nextKeyPath(gatewayKeyPath(join(dir, 'gw')))), 'no next key left');
  t.match((await run(['admin', 'show', 'gw-1'])).stdout, /key rotated \(epoch 2\)/);

  // Revocation; a node is the consortium's to revoke, and a revoked party stays revoked.
  t.match(await json(['admin', 'revoke', 'node-1', '--key', 'hospital.key']), { ok: false, error: 'AccessControlUnauthorizedAccount' });
  t.match(await json(['admin', 'revoke', 'gw-1', '--key', 'hospital.key']), { ok: true, id: 'gw-1' });
  t.match(await json(['admin', 'revoke', 'gw-1', '--key', 'hospital.key']), { ok: false, error: 'NotActive', hint: /new id/ });
  t.match(await json(['admin', 'show', 'gw-1']), { party: { active: false } });

  // Wrong chain or no deployment: said plainly.
  const [missing, unreachable] = await Promise.all([json(['admin', 'list', '--deployment', 'missing.json']), json(['admin', 'list', '--rpc', 'http://127.0.0.1:1'])]);
  t.match(missing, { ok: false, message: /no deployment file at .*missing\.json/ });
  t.match(unreachable, { ok: false, message: /cannot reach/ });
});
