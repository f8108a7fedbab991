// TLS on the other listeners, with real clients: the chain node's API over HTTPS (a gateway's client
// trusting the consortium CA submits a batch and gets its receipt; one that does not trust it is
// refused), the monitoring listener over HTTPS, MLLP over TLS; plaintext off loopback refused.
import { minedReceipt } from '../contracts/mined-receipt';
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { ethers } from 'ethers';
import { Registry } from 'prom-client';
import { ChainRegistry } from '../contracts/chain-registry';
import { RegistryClient } from '../contracts/clients';
import { registerGateway, registerNode, registerUser } from '../contracts/deploy';
import { x25519 } from '@noble/curves/ed25519.js';
import { DataNodeClient } from '../data-user/node-client';
import { OwnerClient } from '../data-user/owner-client';
import { shareContext } from '../data-user/context';
import { loadChainNodeIdentity } from '../chain-node/identity';
import { runChainNode } from '../chain-node/main';
import { ChainNodeClient } from '../gateway/chain/chain-client';
import { generateOwnerKeyPair, wrapEpochKey } from '../gateway/sealing/envelope';
import { buildBatch, encodeHeader, headerHash } from '../protocol/batch';
import { blsKeygen, blsPopProve, blsPublicKey, blsSign } from '../protocol/bls';
import { startMonitoringServer } from '../common/monitoring-server';
import { loadTlsMaterial } from '../common/tls';
import { startMllpListener } from '../gateway/ingest/hl7/mllp-listener';
import { mllpFrame, MllpDecoder } from '../gateway/ingest/hl7/mllp';
import { ensureCa, issueServerCertificate, serverFilesIn } from '../cli/tls/certificates';
import { AccessLogClient } from '../contracts/clients';
import { startKeyService } from '../owner/key-service';
import { runOwnerService } from '../owner/serve';
import { chainWithHospital } from './chain.helpers';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'mcps-tls-svc-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const made = new Map<string, Promise<{ ca: string; cert: string; key: string }>>();
function pki(name: string): Promise<{ ca: string; cert: string; key: string }> {
  const make = async (): Promise<{ ca: string; cert: string; key: string }> => {
    const { ca } = await ensureCa(join(dir, name), `${name} CA`);
    const s = await issueServerCertificate(ca, ['localhost', '127.0.0.1'], serverFilesIn(join(dir, name)));
    return { ca: ca.files.cert, ...s };
  };
  if (!made.has(name)) made.set(name, make());
  return made.get(name)!;
}

function httpsGet(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

t.test('chain node API over HTTPS: the gateway submits with the consortium CA; untrusted clients refused', async (t) => {
  const consortium = await pki('consortium');
  const data = join(dir, 'node-data');
  const { anvil, provider, admin, hosp, d } = await chainWithHospital(t);
  const nodeId = loadChainNodeIdentity(data);
  await minedReceipt(await admin.sendTransaction({ to: nodeId.operatorAddress, value: ethers.parseEther('10') }));
  await registerNode(admin, d.registry, { id: 'node-1', operator: nodeId.operatorAddress, blsPublicKey: nodeId.bls.publicKey, pop: nodeId.bls.proofOfPossession, x25519PublicKey: nodeId.x25519PublicKey });
  const gsk = blsKeygen(new Uint8Array(randomBytes(48)));
  await registerGateway(hosp, d.registry, { id: 'gw-1', hospital: 'h', blsPublicKey: blsPublicKey(gsk), pop: blsPopProve(gsk) });
  const chain = { rpcUrl: anvil.url, registry: d.registry, anchor: d.anchor };

  const refused = await runChainNode({ dataDir: data, nodeId: 'node-1', host: '0.0.0.0', port: 0, chain }, () => undefined).then(() => null, (e: Error) => e.message);
  t.match(refused, /the chain node API \(host\) would listen on 0.0.0.0 without TLS.*allowPlaintext/, 'a plaintext API on the network is refused');

  const logs: string[] = [];
  const node = await runChainNode({ dataDir: data, nodeId: 'node-1', host: '127.0.0.1', port: 0, chain, tls: { cert: consortium.cert, key: consortium.key }, metrics: { host: '127.0.0.1', port: 0 } }, (_l, m) => logs.push(m));
  t.teardown(() => node.stop());
  t.match(node.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the API is https');
  t.match(node.metricsUrl, /^https:\/\//, 'so is the monitoring listener');
  const ca = readFileSync(consortium.ca);
  t.equal((await httpsGet(`${node.url}/v1/health`, ca)).status, 200, 'health over HTTPS with the CA');
  t.equal((await httpsGet(`${node.metricsUrl}/healthz`, ca)).status, 200, 'monitoring over HTTPS with the CA');
  await t.rejects(httpsGet(`${node.url}/v1/health`), /self[- ]signed|unable to (get|verify)/i, 'a client without the consortium CA refuses the node');

  const owner = await generateOwnerKeyPair();
  const epoch = { id: Date.now(), key: new Uint8Array(randomBytes(32)), wrapped: await wrapEpochKey(owner.publicKey, 'gw-1', Date.now(), new Uint8Array(32)) };
  const built = buildBatch({ gatewayId: 'gw-1', seq: 1, prevHash: new Uint8Array(32), readings: [{ deviceId: 'd', patient: 'p', kind: 'spo2', mdc: '150456', loinc: '2708-6', value: 97, unit: '%', deviceTime: null, receivedAt: 1, deviceSeq: 1, source: 'serial' }], tagKey: new Uint8Array(32).fill(1), epoch, sealedAt: Date.now(), watermark: 0 });
  const hh = headerHash(built.header);
  const sub = { v: 2 as const, gatewayId: 'gw-1', header: hex(encodeHeader(built.header)), headerSignature: hex(blsSign(gsk, hh)), envelope: Buffer.from(built.envelope).toString('base64') };
  const expect = { seq: 1, headerHash: hex(hh), root: hex(built.header.root) };
  const registry = (): ChainRegistry => new ChainRegistry(new RegistryClient(provider, d.registry));

  const untrusting = new ChainNodeClient({ url: node.url, nodeId: 'node-1', selfId: 'gw-1', blsSecretKey: gsk, registry: registry() });
  await t.rejects(untrusting.submit(sub, expect), /unreachable/, 'a gateway that does not trust the node\'s CA does not talk to it');
  const wrongCa = new ChainNodeClient({ url: node.url, nodeId: 'node-1', selfId: 'gw-1', blsSecretKey: gsk, registry: registry(), ca: readFileSync((await pki('elsewhere')).ca) });
  await t.rejects(wrongCa.submit(sub, expect), /unreachable: .*(self[- ]signed|unable to (get|verify)|certificate)/i, 'nor one trusting another CA');
  const client = new ChainNodeClient({ url: node.url, nodeId: 'node-1', selfId: 'gw-1', blsSecretKey: gsk, registry: registry(), ca });
  const r = await client.submit(sub, expect);
  t.match(r.receipt, { seq: 1, gatewayId: 'gw-1', status: 'anchored' }, 'over HTTPS: handshake, batch, receipt');

  // The hospital's key service (issue 14) over HTTPS with the hospital's certificate.
  const hospitalTls = await pki('hospital');
  const keys = await startKeyService({ hospital: 'h', owner, tagKey: new Uint8Array(32).fill(1), registry: new RegistryClient(provider, d.registry), accessLog: new AccessLogClient(provider, d.accessLog), provider, host: '127.0.0.1', port: 0, log: () => undefined, tls: loadTlsMaterial(hospitalTls) });
  t.teardown(() => keys.close());
  t.match(keys.url, /^https:\/\//, 'the key service is https');
  t.equal((await httpsGet(`${keys.url}/v1/health`, readFileSync(hospitalTls.ca))).status, 200, 'key service health over HTTPS with the hospital CA');
  await t.rejects(httpsGet(`${keys.url}/v1/health`), /self[- ]signed|unable to (get|verify)/i, 'refused without it');

  // A data user (mcps data …) reaches both through the CA it is given (--ca, or <data>/tls/ca.pem).
  const usk = blsKeygen(new Uint8Array(randomBytes(48)));
  const uenc = x25519.utils.randomSecretKey();
  await registerUser(hosp, d.registry, { id: 'dr-x', hospital: 'h', blsPublicKey: blsPublicKey(usk), pop: blsPopProve(usk), encryptionPublicKey: x25519.getPublicKey(uenc) });
  const userNode = (caFile?: Buffer): DataNodeClient => new DataNodeClient({ url: node.url, nodeId: 'node-1', userId: 'dr-x', blsSecretKey: usk, registry: registry(), ...(caFile ? { ca: caFile } : {}) });
  const query = { grantId: 0, firstDay: 20_000, tags: ['00'.repeat(32)], from: 0, to: 1 };
  await t.rejects(userNode().query(query), /unreachable: .*give the CA that signed it with --ca FILE/, 'a data user without the consortium CA is told to give it');
  await t.rejects(userNode(ca).query(query), { name: 'AccessRefused', refusal: 'no-access-log' }, 'with it: handshake and sealed query over HTTPS (this node has no AccessLog configured, so it refuses the query)');
  const ownerKeys = (caFile?: Buffer): OwnerClient => new OwnerClient({ url: keys.url, hospital: 'h', ownerPublicKey: owner.publicKey, userId: 'dr-x', blsSecretKey: usk, encryptionSecretKey: uenc, ...(caFile ? { ca: caFile } : {}) });
  await t.rejects(ownerKeys().tags(0, 'p'), /unreachable: .*--ca FILE/, 'the key service without the hospital CA');
  await t.rejects(ownerKeys(readFileSync(hospitalTls.ca)).tags(0, 'p'), { name: 'KeyRefused' }, 'with it: the sealed request reaches the key service (no grant 0 on chain: refused)');
  // Where `mcps data` finds the CA: --ca FILE, else the local stack's <data>/tls/ca.pem.
  const stackData = join(dir, 'stack-data');
  mkdirSync(join(stackData, 'run'), { recursive: true });
  writeFileSync(join(stackData, 'run', 'deployment.json'), JSON.stringify({ ...d, rpcUrl: anvil.url }));
  t.equal(shareContext({ data: stackData }).ca, null, 'no CA for a stack without TLS');
  mkdirSync(join(stackData, 'tls'));
  writeFileSync(join(stackData, 'tls', 'ca.pem'), ca);
  t.same(shareContext({ data: stackData }).ca, ca, '<data>/tls/ca.pem with --data DIR');
  t.same(shareContext({ data: stackData, ca: hospitalTls.ca }).ca, readFileSync(hospitalTls.ca), '--ca FILE first');
  t.throws(() => shareContext({ data: stackData, ca: join(dir, 'nope.pem') }), /--ca .*nope\.pem/, 'a missing --ca file is named');

  const ownerRefused = await runOwnerService({ hospital: 'h', ownerDir: join(dir, 'owner'), host: '0.0.0.0', port: 0, chain: { rpcUrl: anvil.url, registry: d.registry, accessLog: d.accessLog } }, () => undefined).then(() => null, (e: Error) => e.message);
  t.match(ownerRefused, /the key service \(host\) would listen on 0\.0\.0\.0 without TLS/, 'a plaintext key service on the network is refused');
});

t.test('the monitoring listener over HTTPS', async (t) => {
  const box = await pki('box');
  const m = await startMonitoringServer({ host: '127.0.0.1', port: 0, registry: new Registry(), readiness: async () => [{ name: 'x', ok: true, detail: 'fine' }], tls: loadTlsMaterial(box) });
  t.teardown(() => m.close());
  t.match(m.url, /^https:\/\/127\.0\.0\.1:/);
  const r = await httpsGet(`${m.url}/readyz`, readFileSync(box.ca));
  t.equal(r.status, 200);
  t.match(r.body, /"ready"/);
});

t.test('MLLP over TLS: a monitor trusting the hospital CA gets its ACK', async (t) => {
  const box = await pki('box');
  const got: string[] = [];
  const l = await startMllpListener({ host: '127.0.0.1', port: 0, tls: loadTlsMaterial(box), onMessage: async (frame) => (got.push(frame.toString()), 'MSH|^~\\&|GW||MON||20260101||ACK|1|P|2.6\rMSA|AA|1') });
  t.teardown(() => l.close());
  const sock = tlsConnect({ host: '127.0.0.1', port: l.port, ca: readFileSync(box.ca) });
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', resolve);
    sock.once('error', reject);
  });
  t.ok(sock.authorized, 'the gateway certificate verifies');
  const dec = new MllpDecoder();
  const ack = new Promise<string>((resolve) =>
    sock.on('data', (c: Buffer) => {
      for (const ev of dec.push(c)) if (ev.type === 'frame') resolve(ev.data.toString());
    }),
  );
  sock.write(mllpFrame('MSH|^~\\&|MON||GW||20260101||ORU^R01|1|P|2.6'));
  t.match(await ack, /MSA\|AA\|1/, 'ACK over TLS');
  t.same(got, ['MSH|^~\\&|MON||GW||20260101||ORU^R01|1|P|2.6']);
  sock.destroy();
  const plain = tlsConnect({ host: '127.0.0.1', port: l.port });
  await t.rejects(new Promise((resolve, reject) => (plain.once('secureConnect', resolve), plain.once('error', reject))), /self[- ]signed|unable to (get|verify)/i, 'a monitor not trusting the CA refuses');
  plain.destroy();
});
