// A sharing world on real parts: anvil with the contracts, hospital "h" (its admin, owner key and
// patient tag key), chain node "node-1" running over HTTP with the AccessLog configured, gateway
// "gw-1" submitting real batches through the gateway's client, and data users registered with BLS
// and encryption keys. Everything stopped by the test's teardown.
import { minedReceipt } from '../contracts/mined-receipt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ethers } from 'ethers';
import { x25519 } from '@noble/curves/ed25519.js';
import { ChainRegistry } from '../contracts/chain-registry';
import { AccessLogClient, RegistryClient } from '../contracts/clients';
import { registerGateway, registerNode, registerUser, setOwnerKey, type Deployment } from '../contracts/deploy';
import { loadChainNodeIdentity } from '../chain-node/identity';
import { runChainNode, type RunningChainNode } from '../chain-node/main';
import { ChainNodeClient } from '../gateway/chain/chain-client';
import { generateOwnerKeyPair, wrapEpochKey, type OwnerKeyPair } from '../gateway/sealing/envelope';
import { buildBatch, encodeHeader, headerHash } from '../protocol/batch';
import { blsKeygen, blsPopProve, blsPublicKey, blsSign } from '../protocol/bls';
import type { Reading } from '../protocol/reading';
import { grantAccess } from '../owner/grants';
import { chainWithHospital } from './chain.helpers';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export interface TestUser {
  readonly id: string;
  readonly blsSecretKey: Uint8Array;
  readonly encryptionSecretKey: Uint8Array;
}

export interface ShareWorld {
  readonly dir: string;
  readonly rpcUrl: string;
  readonly provider: ethers.JsonRpcProvider;
  readonly deployment: Deployment;
  readonly hospitalAdmin: ethers.Signer;
  /** The consortium's admin (registers and revokes chain nodes). */
  readonly consortiumAdmin: ethers.Signer;
  readonly node: RunningChainNode;
  readonly owner: OwnerKeyPair;
  readonly tagKey: Uint8Array;
  readonly accessLog: AccessLogClient;
  registry(): ChainRegistry;
  addUser(id: string): Promise<TestUser>;
  /** Seals `readings` as the next batch of gw-1 and submits it through the gateway's client. */
  submit(readings: Reading[], o?: { sealedAt?: number; watermark?: number }): Promise<number>;
  /** Seals each list as the next batches of gw-1 and submits them in one request: the node folds them into one anchor transaction (one group, only its head on chain). */
  submitTogether(batches: Reading[][]): Promise<number[]>;
  grant(user: string, patient: string, from: number, to: number, expiresInS?: number): Promise<number>;
}

export function reading(patient: string, receivedAt: number, seq: number, value = 97): Reading {
  return { deviceId: `dev-${patient}`, patient, kind: 'spo2', mdc: '150456', loinc: '2708-6', value, unit: '%', deviceTime: null, receivedAt, deviceSeq: seq, source: 'serial' };
}

export async function shareWorld(t: { teardown(fn: () => unknown): void }): Promise<ShareWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-share-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { anvil, provider, admin, hosp, d } = await chainWithHospital(t);
  const owner = await generateOwnerKeyPair();
  await setOwnerKey(hosp, d.registry, 'h', owner.publicKey);
  const nid = loadChainNodeIdentity(join(dir, 'node'));
  await minedReceipt(await admin.sendTransaction({ to: nid.operatorAddress, value: ethers.parseEther('10') }));
  await registerNode(admin, d.registry, { id: 'node-1', operator: nid.operatorAddress, blsPublicKey: nid.bls.publicKey, pop: nid.bls.proofOfPossession, x25519PublicKey: nid.x25519PublicKey });
  const gsk = blsKeygen(new Uint8Array(randomBytes(48)));
  await registerGateway(hosp, d.registry, { id: 'gw-1', hospital: 'h', blsPublicKey: blsPublicKey(gsk), pop: blsPopProve(gsk) });
  const node = await runChainNode({ dataDir: join(dir, 'node'), nodeId: 'node-1', host: '127.0.0.1', port: 0, chain: { rpcUrl: anvil.url, registry: d.registry, anchor: d.anchor, accessLog: d.accessLog }, userPageBytes: 1 }, () => undefined);
  t.teardown(() => node.stop());
  const registry = (): ChainRegistry => new ChainRegistry(new RegistryClient(provider, d.registry));
  const gw = new ChainNodeClient({ url: node.url, nodeId: 'node-1', selfId: 'gw-1', blsSecretKey: gsk, registry: registry() });
  const tagKey = new Uint8Array(randomBytes(32));
  const epochId = Date.now();
  const epochKey = new Uint8Array(randomBytes(32));
  const epoch = { id: epochId, key: epochKey, wrapped: await wrapEpochKey(owner.publicKey, 'gw-1', epochId, epochKey) };
  let prev: Uint8Array = new Uint8Array(32);
  let seq = 0;
  const seal = (readings: Reading[], o: { sealedAt?: number; watermark?: number } = {}) => {
    seq++;
    const last = Math.max(...readings.map((r) => r.receivedAt));
    const built = buildBatch({ gatewayId: 'gw-1', seq, prevHash: prev, readings, tagKey, epoch, sealedAt: o.sealedAt ?? last, watermark: o.watermark ?? last });
    const hh = headerHash(built.header);
    prev = hh;
    return { sub: { v: 2 as const, gatewayId: 'gw-1', header: hex(encodeHeader(built.header)), headerSignature: hex(blsSign(gsk, hh)), envelope: Buffer.from(built.envelope).toString('base64') }, expect: { seq, headerHash: hex(hh), root: hex(built.header.root) } };
  };
  const accessLog = new AccessLogClient(hosp, d.accessLog);
  return {
    dir,
    rpcUrl: anvil.url,
    provider,
    deployment: d,
    hospitalAdmin: hosp,
    consortiumAdmin: admin,
    node,
    owner,
    tagKey,
    accessLog,
    registry,
    addUser: async (id) => {
      const blsSecretKey = blsKeygen(new Uint8Array(randomBytes(48)));
      const encryptionSecretKey = x25519.utils.randomSecretKey();
      await registerUser(hosp, d.registry, { id, hospital: 'h', blsPublicKey: blsPublicKey(blsSecretKey), pop: blsPopProve(blsSecretKey), encryptionPublicKey: x25519.getPublicKey(encryptionSecretKey) });
      return { id, blsSecretKey, encryptionSecretKey };
    },
    submit: async (readings, o = {}) => {
      const b = seal(readings, o);
      await gw.submit(b.sub, b.expect);
      return b.expect.seq;
    },
    submitTogether: async (lists) => {
      const items = lists.map((r) => seal(r));
      const results = await gw.submitMany(items);
      for (const r of results) if (r instanceof Error) throw r;
      return items.map((i) => i.expect.seq);
    },
    grant: async (user, patient, from, to, expiresInS = 3600) => {
      const now = (await provider.getBlock('latest'))!.timestamp;
      return (await grantAccess(accessLog, tagKey, { hospital: 'h', user, patient, from, to, expiry: now + expiresInS })).grantId;
    },
  };
}
