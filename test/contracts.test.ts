// The registry and anchor contracts on a real anvil chain.
import { minedReceipt } from '../contracts/mined-receipt';
import t from 'tap';
import fc from 'fast-check';
import { ethers } from 'ethers';
import { startAnvil } from '../contracts/anvil';
import { AccessLogClient, AnchorClient, AnchorRevert, RegistryClient } from '../contracts/clients';
import { patientScope, rangeTags, tagsHash } from '../protocol/sharing/tags';
import { deployContracts, readAnchors, resolveAnchors, registerGateway, registerHospital, registerNode, registerUser, setOwnerKey } from '../contracts/deploy';
import { idToBytes32 } from '../contracts/ids';
import { loadArtifact } from '../contracts/artifacts';
import { blsKeygen, blsPopProve, blsPublicKey, blsSign } from '../protocol/bls';
import { g1ToEip2537, g2ToEip2537 } from '../contracts/eip2537';

const key = (b: number): { pk: Uint8Array; pop: Uint8Array } => {
  const sk = blsKeygen(new Uint8Array(48).fill(b));
  return { pk: blsPublicKey(sk), pop: blsPopProve(sk) };
};
const h = (s: string): Uint8Array => ethers.getBytes(ethers.id(s));

async function revertName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AnchorRevert) return err.errorName;
    const e = err as { revert?: { name: string }; data?: string };
    if (e.revert?.name) return e.revert.name;
    const data = e.data;
    if (typeof data === 'string') {
      for (const name of ['Registry', 'Anchor', 'AccessLog'] as const) {
        const parsed = new ethers.Interface(loadArtifact(name).abi).parseError(data);
        if (parsed) return parsed.name;
      }
    }
    return `undecoded: ${String(err)}`;
  }
  return 'no revert';
}

t.test('registry and anchors on anvil', async (t) => {
  const anvil = await startAnvil();
  t.teardown(() => anvil.stop());
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 100 });
  t.teardown(() => provider.destroy());
  const [admin, hospAdmin, operator, stranger] = await Promise.all([0, 1, 2, 3].map((i) => provider.getSigner(i)));
  const d = await deployContracts(admin!);
  const reg = new ethers.Contract(d.registry, loadArtifact('Registry').abi, admin);

  const node = key(1);
  const gw = key(2);
  const gw2 = key(3);
  await registerHospital(admin!, d.registry, 'hospital-a', await hospAdmin!.getAddress());
  await registerNode(admin!, d.registry, { id: 'node-1', operator: await operator!.getAddress(), blsPublicKey: node.pk, pop: node.pop, x25519PublicKey: new Uint8Array(32).fill(9) });
  await registerGateway(hospAdmin!, d.registry, { id: 'gw-1', hospital: 'hospital-a', blsPublicKey: gw.pk, pop: gw.pop });
  await registerGateway(hospAdmin!, d.registry, { id: 'gw-2', hospital: 'hospital-a', blsPublicKey: gw2.pk, pop: gw2.pop });

  const rc = new RegistryClient(provider, d.registry);
  t.match(await rc.getEntry('gw-1'), { id: 'gw-1', role: 'gateway', hospital: 'hospital-a', epoch: 1, active: true });
  t.same((await rc.getEntry('gw-1'))!.blsPublicKey, gw.pk, 'key read back');
  t.match(await rc.getEntry('node-1'), { role: 'node', operator: await operator!.getAddress(), active: true });
  t.same((await rc.getEntry('node-1'))!.x25519PublicKey, new Uint8Array(32).fill(9));
  t.equal(await rc.getEntry('nobody'), undefined, 'unknown id reads as undefined');

  t.test('registration refusals', async (t) => {
    const k = key(7);
    t.equal(await revertName(registerHospital(stranger!, d.registry, 'hospital-b', await stranger!.getAddress())), 'AccessControlUnauthorizedAccount', 'only a consortium admin registers hospitals');
    t.equal(await revertName(registerGateway(stranger!, d.registry, { id: 'gw-x', hospital: 'hospital-a', blsPublicKey: k.pk, pop: k.pop })), 'NotHospitalAdmin', "only the hospital's admin registers its gateways");
    t.equal(await revertName(registerGateway(hospAdmin!, d.registry, { id: 'gw-1', hospital: 'hospital-a', blsPublicKey: k.pk, pop: k.pop })), 'AlreadyRegistered', 'duplicate id');
    t.equal(await revertName(registerGateway(hospAdmin!, d.registry, { id: 'gw-y', hospital: 'hospital-a', blsPublicKey: gw.pk, pop: gw.pop })), 'KeyAlreadyUsed', 'duplicate key');
    const other = key(9);
    const raw = (reg.connect(hospAdmin!) as ethers.Contract).getFunction('registerGateway');
    const gid = idToBytes32('gw-z');
    const hid = idToBytes32('hospital-a');
    t.equal(await revertName(registerGateway(hospAdmin!, d.registry, { id: 'gw-z', hospital: 'hospital-a', blsPublicKey: k.pk, pop: other.pop })), 'BadProofOfPossession', "another key's proof of possession");
    const sk7 = blsKeygen(new Uint8Array(48).fill(7));
    t.equal(await revertName(registerGateway(hospAdmin!, d.registry, { id: 'gw-z', hospital: 'hospital-a', blsPublicKey: k.pk, pop: blsSign(sk7, k.pk) })), 'BadProofOfPossession', 'a signature over the key under the signature DST is not a proof of possession');
    t.equal(await revertName(raw.send(gid, hid, g2ToEip2537(k.pk), new Uint8Array(128))), 'IdentityKey', 'the identity as proof');
    t.equal(await revertName(raw.send(gid, hid, new Uint8Array(256), new Uint8Array(128))), 'IdentityKey', 'the identity as key and proof (would pass a naive pairing check)');
    t.equal(await revertName(raw.send(gid, hid, g2ToEip2537(k.pk).slice(0, 255), g1ToEip2537(k.pop))), 'BadKeyEncoding', 'wrong encoding length');
    const offCurve = g2ToEip2537(k.pk);
    offCurve[255]! ^= 1;
    t.equal(await revertName(raw.send(gid, hid, offCurve, g1ToEip2537(k.pop))), 'BadProofOfPossession', 'a point off the curve');
    const gas = await raw.estimateGas(gid, hid, g2ToEip2537(k.pk), g1ToEip2537(k.pop));
    t.comment(`gas of a gateway registration with on-chain PoP verification: ${gas}`);
    t.same((await rc.getEntry('gw-1'))!.blsPublicKey, gw.pk, 'the contract derives the same compressed key noble gives');
    t.equal(await revertName(registerGateway(hospAdmin!, d.registry, { id: 'gw-z', hospital: 'nowhere', blsPublicKey: k.pk, pop: k.pop })), 'UnknownHospital');
    t.equal(await revertName(registerNode(stranger!, d.registry, { id: 'node-x', operator: await stranger!.getAddress(), blsPublicKey: k.pk, pop: k.pop, x25519PublicKey: new Uint8Array(32) })), 'AccessControlUnauthorizedAccount', 'only a consortium admin registers nodes');
  });

  const anchorsAsNode = new AnchorClient(operator!, d.anchor);
  const zero = new Uint8Array(32);
  const batch = (gatewayId: string, seq: number, prevHash: Uint8Array) => ({ gatewayId, seq, prevHash, headerHash: h(`${gatewayId}/${seq}`), root: h(`root ${gatewayId}/${seq}`), count: 100 });

  t.test('anchoring follows each gateway\'s hash chain', async (t) => {
    const r1 = await anchorsAsNode.anchor(batch('gw-1', 1, zero));
    t.match(r1.txHash, /^0x[0-9a-f]{64}$/);
    const rcpt = await provider.getTransactionReceipt(r1.txHash);
    t.comment(`gas of one anchor(): ${rcpt!.gasUsed} (first batch of a gateway, cold storage)`);
    const r2 = await anchorsAsNode.anchor(batch('gw-1', 2, h('gw-1/1')));
    t.comment(`gas of one anchor(): ${(await provider.getTransactionReceipt(r2.txHash))!.gasUsed} (steady state)`);
    t.same(await anchorsAsNode.head('gw-1'), { seq: 2, headerHash: h('gw-1/2') });
    const found = await anchorsAsNode.findAnchored('gw-1', 2);
    t.same(found && { headerHash: found.headerHash, txHash: found.txHash }, { headerHash: h('gw-1/2'), txHash: r2.txHash }, 'the batch is found with its transaction');
    t.equal(await anchorsAsNode.findAnchored('gw-1', 3), null);
    t.equal(await revertName(anchorsAsNode.anchor(batch('gw-1', 4, h('gw-1/3')))), 'BadSequence', 'a gap is refused');
    t.equal(await revertName(anchorsAsNode.anchor(batch('gw-1', 2, h('gw-1/1')))), 'BadSequence', 'a rewrite is refused');
    t.equal(await revertName(anchorsAsNode.anchor(batch('gw-1', 3, h('gw-1/9')))), 'WrongPrevHash', 'a wrong previous hash is refused');
    t.equal(await revertName(new AnchorClient(stranger!, d.anchor).anchor(batch('gw-2', 1, zero))), 'NotANode', 'only a registered node anchors');
    t.equal(await revertName(anchorsAsNode.anchor(batch('gw-unknown', 1, zero))), 'GatewayNotActive', 'unknown gateway');
    const events = resolveAnchors(await readAnchors(provider, d.anchor, d.deployBlock));
    t.same(events.map((e) => `${e.gatewayId}#${e.seq}`), ['gw-1#1', 'gw-1#2'], 'events rebuild the chain');
    t.equal(events[1]!.prevHeaderHash, Buffer.from(h('gw-1/1')).toString('hex'));
  });

  t.test('one folded transaction across two gateways', async (t) => {
    const items = [batch('gw-1', 3, h('gw-1/2')), batch('gw-2', 1, zero), ...Array.from({ length: 8 }, (_, i) => batch('gw-2', i + 2, h(`gw-2/${i + 1}`)))];
    const r = await anchorsAsNode.anchorFolded(items);
    t.comment(`gas of anchorFolded(10): ${r.gasUsed}, ${Number(r.gasUsed) / 10} per batch`);
    t.same(await anchorsAsNode.head('gw-2'), { seq: 9, headerHash: h('gw-2/9') });
    t.same(await anchorsAsNode.head('gw-1'), { seq: 3, headerHash: h('gw-1/3') });
  });

  t.test('revocation stops anchoring for that gateway', async (t) => {
    const k = key(8);
    await registerGateway(hospAdmin!, d.registry, { id: 'gw-r', hospital: 'hospital-a', blsPublicKey: k.pk, pop: k.pop });
    await anchorsAsNode.anchor(batch('gw-r', 1, zero));
    await minedReceipt(await (reg.connect(hospAdmin!) as ethers.Contract).getFunction('revoke').send(idToBytes32('gw-r')));
    t.match(await rc.getEntry('gw-r'), { active: false });
    t.equal(await revertName(anchorsAsNode.anchor(batch('gw-r', 2, h('gw-r/1')))), 'GatewayNotActive');
  });

  t.test('key rotation: a new epoch with a new key, proven; the old key is gone', async (t) => {
    const k1 = key(30);
    const k2 = key(31);
    await registerGateway(hospAdmin!, d.registry, { id: 'gw-rot', hospital: 'hospital-a', blsPublicKey: k1.pk, pop: k1.pop });
    const rot = (reg.connect(hospAdmin!) as ethers.Contract).getFunction('rotateKey');
    t.equal(await revertName(rot.send(idToBytes32('gw-rot'), g2ToEip2537(k2.pk), g1ToEip2537(k1.pop), ethers.ZeroHash)), 'BadProofOfPossession', 'the new key must be proven');
    t.equal(await revertName((reg.connect(stranger!) as ethers.Contract).getFunction('rotateKey').send(idToBytes32('gw-rot'), g2ToEip2537(k2.pk), g1ToEip2537(k2.pop), ethers.ZeroHash)), 'NotHospitalAdmin', "only the gateway's hospital rotates its key");
    const rcpt = await minedReceipt(await rot.send(idToBytes32('gw-rot'), g2ToEip2537(k2.pk), g1ToEip2537(k2.pop), ethers.ZeroHash));
    t.equal(reg.interface.parseLog(rcpt!.logs[0]!)?.name, 'KeyRotated');
    t.match(await rc.getEntry('gw-rot'), { epoch: 2, active: true });
    t.same((await rc.getEntry('gw-rot'))!.blsPublicKey, k2.pk);
    t.equal(await revertName(rot.send(idToBytes32('gw-rot'), g2ToEip2537(k1.pk), g1ToEip2537(k1.pop), ethers.ZeroHash)), 'KeyAlreadyUsed', 'a retired key cannot come back');
  });

  t.test('a revoked node can no longer anchor', async (t) => {
    const k = key(40);
    const [, , , , , op2] = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => provider.getSigner(i)));
    await registerNode(admin!, d.registry, { id: 'node-2', operator: await op2!.getAddress(), blsPublicKey: k.pk, pop: k.pop, x25519PublicKey: new Uint8Array(32).fill(2) });
    const asNode2 = new AnchorClient(op2!, d.anchor);
    await asNode2.anchor(batch('gw-2', 10, h('gw-2/9')));
    t.equal(await revertName((reg.connect(hospAdmin!) as ethers.Contract).getFunction('revoke').send(idToBytes32('node-2'))), 'AccessControlUnauthorizedAccount', 'only a consortium admin revokes a node');
    await minedReceipt(await reg.getFunction('revoke').send(idToBytes32('node-2')));
    t.equal(await revertName(asNode2.anchor(batch('gw-2', 11, h('gw-2/10')))), 'NotANode');
  });

  t.test('property: of random submission orders, exactly the in-order chain is accepted', async (t) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 12 }), async (order) => {
        const id = `gw-p${run++}`;
        const k = key(100 + run);
        await registerGateway(hospAdmin!, d.registry, { id, hospital: 'hospital-a', blsPublicKey: k.pk, pop: k.pop });
        let expected = 1;
        for (const seq of order) {
          const prev = seq === 1 ? zero : h(`${id}/${seq - 1}`);
          const res = await anchorsAsNode.anchor(batch(id, seq, prev)).then(() => 'ok', (e: unknown) => (e instanceof AnchorRevert ? e.errorName : String(e)));
          if (seq === expected) {
            if (res !== 'ok') return false;
            expected++;
          } else if (res !== 'BadSequence') {
            return false;
          }
        }
        return (await anchorsAsNode.head(id)).seq === expected - 1;
      }),
      { numRuns: 15 },
    );
    t.pass('only in-order submissions were accepted');
  });

  t.test('EIP-2537 BLS12-381 precompiles answer on this anvil (Prague)', async (t) => {
    // BLS12_G1ADD (0x0b) of two points at infinity is the point at infinity: 128 zero bytes. Without
    // the precompile the address is an empty account and the call returns no bytes.
    const out = await provider.call({ to: '0x000000000000000000000000000000000000000b', data: '0x' + '00'.repeat(256) });
    t.equal(out, '0x' + '00'.repeat(128));
  });
});

t.test('registry: users carry an encryption key, hospitals an owner key', async (t) => {
  const anvil = await startAnvil();
  t.teardown(() => anvil.stop());
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 100 });
  t.teardown(() => provider.destroy());
  const [admin, hospAdmin, stranger] = await Promise.all([0, 1, 3].map((i) => provider.getSigner(i)));
  const d = await deployContracts(admin!);
  await registerHospital(admin!, d.registry, 'hospital-a', await hospAdmin!.getAddress());
  const reg = new ethers.Contract(d.registry, loadArtifact('Registry').abi, hospAdmin);
  const rc = new RegistryClient(provider, d.registry);
  const uk = key(50);
  const enc = new Uint8Array(32).fill(0x5e);
  await registerUser(hospAdmin!, d.registry, { id: 'dr-lee', hospital: 'hospital-a', blsPublicKey: uk.pk, pop: uk.pop, encryptionPublicKey: enc });
  const e = await rc.getEntry('dr-lee');
  t.match(e, { role: 'user', hospital: 'hospital-a', epoch: 1, active: true, x25519PublicKey: null });
  t.same(e!.encryptionPublicKey, enc, 'the encryption key is read back');
  const uk2 = key(51);
  t.equal(await revertName(reg.getFunction('registerUser').send(idToBytes32('dr-no'), idToBytes32('hospital-a'), g2ToEip2537(uk2.pk), g1ToEip2537(uk2.pop), ethers.ZeroHash)), 'MissingKey', 'a user without an encryption key is refused');
  // Rotation replaces both keys of a user; a zero encryption key is refused.
  const uk3 = key(52);
  t.equal(await revertName(reg.getFunction('rotateKey').send(idToBytes32('dr-lee'), g2ToEip2537(uk3.pk), g1ToEip2537(uk3.pop), ethers.ZeroHash)), 'MissingKey');
  await minedReceipt(await reg.getFunction('rotateKey').send(idToBytes32('dr-lee'), g2ToEip2537(uk3.pk), g1ToEip2537(uk3.pop), ethers.hexlify(new Uint8Array(32).fill(0x77))));
  t.same((await rc.getEntry('dr-lee'))!.encryptionPublicKey, new Uint8Array(32).fill(0x77));
  t.same((await rc.keyHistory('dr-lee')).map((k) => k.epoch), [1, 2], 'the key history from the events');
  // The hospital's owner key: only its admin publishes it.
  t.equal(await rc.ownerKey('hospital-a'), null);
  t.equal(await revertName((reg.connect(stranger!) as ethers.Contract).getFunction('setOwnerKey').send(idToBytes32('hospital-a'), ethers.hexlify(new Uint8Array(32).fill(1)))), 'NotHospitalAdmin');
  await setOwnerKey(hospAdmin!, d.registry, 'hospital-a', new Uint8Array(32).fill(0x0e));
  t.same(await rc.ownerKey('hospital-a'), new Uint8Array(32).fill(0x0e));
  t.same(await rc.gatewaysOf('hospital-a'), [], 'no gateways yet');
});

t.test('access log: grants, revocation, and accesses recorded by nodes', async (t) => {
  const anvil = await startAnvil();
  t.teardown(() => anvil.stop());
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 100 });
  t.teardown(() => provider.destroy());
  const [admin, hospAdmin, operator, stranger, otherHospAdmin] = await Promise.all([0, 1, 2, 3, 4].map((i) => provider.getSigner(i)));
  const d = await deployContracts(admin!);
  await registerHospital(admin!, d.registry, 'hospital-a', await hospAdmin!.getAddress());
  await registerHospital(admin!, d.registry, 'hospital-b', await otherHospAdmin!.getAddress());
  const nk = key(21);
  await registerNode(admin!, d.registry, { id: 'node-1', operator: await operator!.getAddress(), blsPublicKey: nk.pk, pop: nk.pop, x25519PublicKey: new Uint8Array(32).fill(1) });
  const uk = key(22);
  await registerUser(hospAdmin!, d.registry, { id: 'dr-lee', hospital: 'hospital-a', blsPublicKey: uk.pk, pop: uk.pop, encryptionPublicKey: new Uint8Array(32).fill(3) });

  const tagKey = new Uint8Array(32).fill(9);
  const from = 1_764_000_000_000;
  const to = 1_764_086_400_000;
  const tags = rangeTags(tagKey, 'p-0001', from, to);
  const g = (over: Partial<Parameters<AccessLogClient['grant']>[0]> = {}) => ({ hospital: 'hospital-a', user: 'dr-lee', patientScope: patientScope(tagKey, 'p-0001'), tagsHash: tagsHash(tags.firstDay, tags.tags), fromTime: from, toTime: to, expiry: now + 3600, ...over });
  const asOwner = new AccessLogClient(hospAdmin!, d.accessLog);
  const now = (await provider.getBlock('latest'))!.timestamp;
  const { grantId: id } = await asOwner.grant(g());
  t.equal(id, 0);
  t.match(await asOwner.getGrant(id), { hospital: 'hospital-a', user: 'dr-lee', patientScope: ethers.hexlify(patientScope(tagKey, 'p-0001')), tagsHash: ethers.hexlify(tagsHash(tags.firstDay, tags.tags)), fromTime: from, toTime: to, revoked: false, validNow: true });

  t.equal(await revertName(new AccessLogClient(otherHospAdmin!, d.accessLog).grant(g({ fromTime: 0, toTime: 1 }))), 'NotHospitalAdmin', 'only the owner grants');
  t.equal(await revertName(asOwner.grant(g({ user: 'nobody' }))), 'UnknownUser', 'only registered users');
  t.equal(await revertName(asOwner.grant(g({ fromTime: 5, toTime: 1 }))), 'BadRange');
  t.equal(await revertName(asOwner.grant(g({ expiry: now - 1 }))), 'BadRange', 'an already expired grant');

  const asNode = new AccessLogClient(operator!, d.accessLog);
  const tx = await asNode.recordAccess({ grantId: id, fromTime: from, toTime: from + 1000 });
  const rcpt = await provider.getTransactionReceipt(tx);
  const ev = asNode.contract.interface.parseLog(rcpt!.logs[0]!);
  t.equal(ev?.name, 'Accessed');
  t.equal(ev?.args[0], await operator!.getAddress(), 'the event names the node');
  t.equal(await revertName(asNode.recordAccess({ grantId: id, fromTime: from - 1, toTime: from })), 'GrantNotValid', 'a range outside the grant is not recorded');
  t.equal(await revertName(new AccessLogClient(stranger!, d.accessLog).recordAccess({ grantId: id, fromTime: from, toTime: from })), 'NotANode', 'only nodes record accesses');
  t.equal(await revertName(new AccessLogClient(stranger!, d.accessLog).recordAccesses([{ grantId: id, fromTime: from, toTime: from }])), 'NotANode');

  // Batched: many accesses in one transaction; one under an invalid grant is refused alone.
  const { grantId: id3 } = await asOwner.grant(g());
  await asOwner.revoke(id3);
  const batch = [
    { grantId: id, fromTime: from, toTime: to },
    { grantId: id3, fromTime: from, toTime: to },
    { grantId: 99, fromTime: from, toTime: to },
    { grantId: id, fromTime: from + 5, toTime: from + 6 },
  ];
  const res = await asNode.recordAccesses(batch);
  t.same(res.recorded, [true, false, false, true], 'recorded, revoked, unknown, recorded');
  t.comment(`gas for 4 accesses in one transaction: ${res.gasUsed}`);
  const events = await asNode.accessEvents();
  t.same(events.map((e) => [e.grantId, e.recorded]), [[0, true], [0, true], [0, true], [1, false], [99, false]], 'every access, recorded or refused, is in the events (per transaction: the recorded, then the refused)');
  t.ok(events.every((e) => e.node === ethers.getAddress(e.node)));

  t.equal(await revertName(new AccessLogClient(stranger!, d.accessLog).revoke(id)), 'NotHospitalAdmin', 'only the owner revokes');
  await asOwner.revoke(id);
  t.match(await asOwner.getGrant(id), { revoked: true, validNow: false });
  t.equal(await revertName(asNode.recordAccess({ grantId: id, fromTime: from, toTime: from })), 'GrantNotValid', 'no access under a revoked grant');
  const { grantId: id2 } = await asOwner.grant(g({ expiry: now + 100 }));
  await provider.send('evm_increaseTime', [200]);
  await provider.send('evm_mine', []);
  t.match(await asOwner.getGrant(id2), { validNow: false }, 'expired');
  t.equal(await revertName(asNode.recordAccess({ grantId: id2, fromTime: from, toTime: from })), 'GrantNotValid', 'no access after expiry');
  t.equal(await revertName(asNode.recordAccess({ grantId: 99, fromTime: from, toTime: from })), 'UnknownGrant');
  // A revoked user's grants are no longer valid (getGrant), though the grant itself is not revoked.
  const { grantId: id4 } = await asOwner.grant(g());
  await minedReceipt(await (new ethers.Contract(d.registry, loadArtifact('Registry').abi, hospAdmin) as ethers.Contract).getFunction('revoke').send(idToBytes32('dr-lee')));
  t.match(await asOwner.getGrant(id4), { revoked: false, validNow: false }, 'the user is revoked');
  const grants = await asOwner.grantEvents();
  t.same(grants.map((x) => [x.grantId, x.revokedIn !== undefined]), [[0, true], [1, true], [2, false], [3, false]], 'grants and revocations from the events');
});
