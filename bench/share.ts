/**
 * bench/share: a data user fetches, verifies and decrypts one patient-day — 86,400 readings at 1/s —
 * spread over the batches of a ward (default: 8 patients at 1 reading/s each, batches closed at 1000
 * readings as the default flow's batch node does, so ~125 of the patient's readings per batch and
 * ~690 batches), on real parts: anvil, the chain node's data API over HTTP behind the handshake, the
 * hospital's key service over HTTP, the access recorded on chain. The batches are sealed with the
 * gateway's code (buildBatch, hourly epoch keys wrapped to the owner), signed with the gateway's key,
 * anchored folded by the node's operator, and stored as the node stores them (receipts signed).
 *
 * Baseline, in the same run: the data owner opening the same slices locally (epoch key unwrapped,
 * slice key derived, decrypted, slice root checked) — no network, no chain checks, no key release.
 * Then gas per recorded access: recordAccesses with 1..64 accesses per transaction, and accesses
 * group-committed by the node when 32 users query at once.
 *
 *   npm run bench -- share [--patients N] [--batch N] [--users N]
 * Last line: exactly the keys issue 14 names, {"readings", "fetch_verify_decrypt_s",
 * "readings_verified_per_s", "gas_per_access", "accesses_per_tx"}; the other figures (CPU, bytes
 * per reading, the owner's local open and the ratio to it, gas at 1..64 per transaction) are in the table.
 */
import { minedReceipt } from '../contracts/mined-receipt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ethers } from 'ethers';
import { x25519 } from '@noble/curves/ed25519.js';
import { startAnvil } from '../contracts/anvil';
import { ChainRegistry } from '../contracts/chain-registry';
import { AccessLogClient, AnchorClient, RegistryClient } from '../contracts/clients';
import { deployContracts, registerGateway, registerHospital, registerNode, registerUser, setOwnerKey } from '../contracts/deploy';
import { rpcProvider } from '../contracts/rpc-provider';
import { loadChainNodeIdentity } from '../chain-node/identity';
import { runChainNode } from '../chain-node/main';
import { BatchStore } from '../chain-node/batch-store';
import { EpochKeyOpener, generateOwnerKeyPair, wrapEpochKey } from '../gateway/sealing/envelope';
import { buildBatch, checkEnvelope, decodeHeader, encodeHeader, headerHash, openAndCheckSlice, type EpochKey } from '../protocol/batch';
import { blsKeygen, blsPopProve, blsPublicKey, blsSign } from '../protocol/bls';
import { receiptMessage, type BatchReceipt } from '../protocol/submission';
import { patientTag } from '../protocol/sharing/tags';
import { sliceKey } from '../protocol/sharing/slice-keys';
import type { Reading } from '../protocol/reading';
import { startKeyService } from '../owner/key-service';
import { grantAccess, grantCommitments } from '../owner/grants';
import { fetchShare } from '../data-user/fetch';
import { chainView } from '../data-user/chain-view';
import { DataNodeClient } from '../data-user/node-client';
import { mclPairing } from '../common/mcl-pairing';

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} ${args[i + 1]}: a positive integer`);
  return v;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const DAY = Date.UTC(2026, 0, 10);

export async function main(args: string[]): Promise<void> {
  const patients = arg(args, 'patients', 8);
  const batchSize = arg(args, 'batch', 1000);
  const users = arg(args, 'users', 32);
  const dir = mkdtempSync(join(tmpdir(), 'mcps-bench-share-'));
  const anvil = await startAnvil();
  // The user's and the key service's provider, as theirs (data-user/context.ts, owner/serve.ts).
  const provider = rpcProvider(anvil.url, 50);
  const out = (s: string): boolean => process.stderr.write(s);
  try {
    const [admin, hosp] = await Promise.all([0, 1].map((i) => provider.getSigner(i)));
    const d = await deployContracts(admin!);
    await registerHospital(admin!, d.registry, 'h', await hosp!.getAddress());
    const owner = await generateOwnerKeyPair();
    await setOwnerKey(hosp!, d.registry, 'h', owner.publicKey);
    const nodeDir = join(dir, 'node');
    const nid = loadChainNodeIdentity(nodeDir);
    await minedReceipt(await admin!.sendTransaction({ to: nid.operatorAddress, value: ethers.parseEther('100') }));
    await registerNode(admin!, d.registry, { id: 'node-1', operator: nid.operatorAddress, blsPublicKey: nid.bls.publicKey, pop: nid.bls.proofOfPossession, x25519PublicKey: nid.x25519PublicKey });
    const gsk = blsKeygen(new Uint8Array(randomBytes(48)));
    await registerGateway(hosp!, d.registry, { id: 'gw-ward', hospital: 'h', blsPublicKey: blsPublicKey(gsk), pop: blsPopProve(gsk) });
    const usk = blsKeygen(new Uint8Array(randomBytes(48)));
    const uenc = x25519.utils.randomSecretKey();
    await registerUser(hosp!, d.registry, { id: 'dr-x', hospital: 'h', blsPublicKey: blsPublicKey(usk), pop: blsPopProve(usk), encryptionPublicKey: x25519.getPublicKey(uenc) });
    const tagKey = new Uint8Array(randomBytes(32));

    // The ward's day, sealed as the gateway seals it: one epoch key per UTC hour, batches of batchSize.
    out(`sealing a day of ${patients} patients at 1 reading/s in batches of ${batchSize} … `);
    const t0 = performance.now();
    const store = new BatchStore(join(nodeDir, 'batches'));
    const anchorer = new AnchorClient(new ethers.NonceManager(nid.operator.connect(provider)), d.anchor, d.deployBlock);
    const epochs = new Map<number, EpochKey>();
    const epochOf = async (t: number): Promise<EpochKey> => {
      const h = Math.floor(t / 3_600_000);
      let e = epochs.get(h);
      if (!e) {
        const id = h * 3_600_000;
        const key = new Uint8Array(randomBytes(32));
        epochs.set(h, (e = { id, key, wrapped: await wrapEpochKey(owner.publicKey, 'gw-ward', id, key) }));
      }
      return e;
    };
    let prev: Uint8Array = new Uint8Array(32);
    let seq = 0;
    let pending: Array<{ seq: number; sub: { v: 2; gatewayId: string; header: string; headerSignature: string; envelope: string }; req: { gatewayId: string; seq: number; prevHash: Uint8Array; headerHash: Uint8Array; root: Uint8Array; count: number } }> = [];
    const flushAnchors = async (): Promise<void> => {
      if (pending.length === 0) return;
      const tx = await anchorer.anchorFolded(pending.map((p) => p.req));
      pending.forEach((p, i) => {
        const receipt: BatchReceipt = { v: 1, nodeId: 'node-1', gatewayId: 'gw-ward', seq: p.seq, headerHash: hex(p.req.headerHash), root: hex(p.req.root), count: p.req.count, txHash: tx.txHash, blockNumber: tx.blockNumber, status: 'anchored', fold: tx.folds[i]! };
        store.put('gw-ward', p.seq, { submission: p.sub, receipt: { receipt, signature: hex(blsSign(nid.bls.secretKey, receiptMessage(receipt))) } });
      });
      pending = [];
    };
    let buf: Reading[] = [];
    const seal = async (): Promise<void> => {
      seq++;
      const last = buf[buf.length - 1]!.receivedAt;
      const built = buildBatch({ gatewayId: 'gw-ward', seq, prevHash: prev, readings: buf, tagKey, epoch: await epochOf(buf[0]!.receivedAt), sealedAt: last, watermark: last });
      const hh = headerHash(built.header);
      pending.push({ seq, sub: { v: 2, gatewayId: 'gw-ward', header: hex(encodeHeader(built.header)), headerSignature: hex(blsSign(gsk, hh)), envelope: Buffer.from(built.envelope).toString('base64') }, req: { gatewayId: 'gw-ward', seq, prevHash: prev, headerHash: hh, root: built.header.root, count: built.header.count } });
      prev = hh;
      buf = [];
      if (pending.length >= 50) await flushAnchors();
    };
    for (let s = 0; s < 86_400; s++) {
      const t = DAY + s * 1000;
      // A batch holds one epoch's readings (the gateway closes a batch when its epoch key changes hands at the hour).
      if (buf.length > 0 && Math.floor(buf[0]!.receivedAt / 3_600_000) !== Math.floor(t / 3_600_000)) await seal();
      for (let p = 0; p < patients; p++) {
        buf.push({ deviceId: `mon-${p}`, patient: `p-${String(p + 1).padStart(4, '0')}`, kind: 'heart_rate', mdc: '147842', loinc: '8867-4', value: 60 + ((s * 7 + p * 13) % 40), unit: '/min', deviceTime: t, receivedAt: t + p, deviceSeq: s, source: 'mqtt' });
        if (buf.length >= batchSize) await seal();
      }
    }
    if (buf.length > 0) await seal();
    await flushAnchors();
    const setupS = (performance.now() - t0) / 1000;
    out(`${seq} batches, ${(patients * 86_400).toLocaleString('en-US')} readings in ${setupS.toFixed(1)} s\n`);

    const node = await runChainNode({ dataDir: nodeDir, nodeId: 'node-1', host: '127.0.0.1', port: 0, chain: { rpcUrl: anvil.url, registry: d.registry, anchor: d.anchor, accessLog: d.accessLog } }, () => undefined);
    const keys = await startKeyService({ hospital: 'h', owner, tagKey, registry: new RegistryClient(provider, d.registry), accessLog: new AccessLogClient(provider, d.accessLog), provider, host: '127.0.0.1', port: 0, log: () => undefined });
    try {
      const P = 'p-0001';
      const from = DAY;
      const to = DAY + 86_400_000 - 1;
      const al = new AccessLogClient(hosp!, d.accessLog);
      const now = (await provider.getBlock('latest'))!.timestamp;
      const grantId = (await grantAccess(al, tagKey, { hospital: 'h', user: 'dr-x', patient: P, from, to, expiry: now + 86_400 })).grantId;

      // Baseline: the owner opens P's slices locally.
      const b0 = performance.now();
      const opener = new EpochKeyOpener(owner.privateKey);
      let baselineReadings = 0;
      for (const s of store.sequences('gw-ward')) {
        const b = store.meta('gw-ward', s)!;
        const header = decodeHeader(Uint8Array.from(Buffer.from(b.submission.header, 'hex')));
        const env = store.readEnvelope('gw-ward', s, [[0, b.envelopeLength]])[0]!;
        const { directory, ciphertexts } = checkEnvelope(header, env);
        const ek = await opener.open('gw-ward', directory.epochId, directory.wrappedEpochKey);
        directory.slices.forEach((e, i) => {
          if (!Buffer.from(e.tag).equals(Buffer.from(patientTag(tagKey, P, e.day)))) return;
          const k = sliceKey(ek, { gatewayId: 'gw-ward', seq: s, tag: e.tag, day: e.day, count: e.count, firstReceivedAt: e.firstReceivedAt, lastReceivedAt: e.lastReceivedAt });
          baselineReadings += openAndCheckSlice(k, 'gw-ward', s, e, ciphertexts[i]!, directory.version).readings.length;
        });
      }
      const baselineS = (performance.now() - b0) / 1000;

      // The data user: fetch, verify, decrypt.
      const pairing = await mclPairing();
      const stages: Record<string, number> = {};
      const f0 = performance.now();
      const c0 = process.cpuUsage();
      const r = await fetchShare({
        user: { id: 'dr-x', blsSecretKey: usk, encryptionSecretKey: uenc },
        node: { id: 'node-1', url: node.url },
        owner: { url: keys.url, hospital: 'h' },
        deployment: d,
        provider,
        chain: chainView(provider, d),
        registry: new ChainRegistry(new RegistryClient(provider, d.registry)),
        pairing,
        patient: P,
        from,
        to,
        grantId,
        onProgress: (stage, done, total) => {
          if (done === total && stages[stage] === undefined) stages[stage] = (performance.now() - f0) / 1000;
          if (stage === 'keys' && done === 0) stages['checked'] = (performance.now() - f0) / 1000;
        },
      });
      const fetchS = (performance.now() - f0) / 1000;
      const cpu = process.cpuUsage(c0);
      // Node, key service and user share this process: its CPU time is the work of all three (anvil aside).
      const fetchCpuS = (cpu.user + cpu.system) / 1e6;
      if (!r.bundle.report.verified) throw new Error(`the fetch did not verify: ${[...r.bundle.report.gaps, ...r.bundle.report.problems].slice(0, 5).join('; ')}`);
      const readings = r.bundle.readings.length;

      // Gas per recorded access.
      const grants: number[] = [];
      for (let i = 0; i < 64; i++) grants.push((await grantAccess(al, tagKey, { hospital: 'h', user: 'dr-x', patient: `p-${String((i % patients) + 1).padStart(4, '0')}`, from, to, expiry: now + 86_400 })).grantId);
      const op = new AccessLogClient(new ethers.NonceManager(nid.operator.connect(provider)), d.accessLog);
      // Through the node first (it signs with the operator's key; the direct calls below come after, so their nonces do not clash): `users` queries at once, group-committed by the node's recorder.
      const before = new Set((await op.accessEvents(d.deployBlock)).map((e) => e.txHash));
      const reg = new ChainRegistry(new RegistryClient(provider, d.registry));
      const clients = Array.from({ length: users }, () => new DataNodeClient({ url: node.url, nodeId: 'node-1', userId: 'dr-x', blsSecretKey: usk, registry: reg }));
      await Promise.all(
        clients.map((c, i) => {
          const g = grants[i % grants.length]!;
          const p = `p-${String(((i % grants.length) % patients) + 1).padStart(4, '0')}`;
          const com = grantCommitments(tagKey, p, from, to);
          const start = from + i * 60_000;
          return c.query({ grantId: g, firstDay: com.firstDay, tags: com.tags.map(hex), from: start, to: start + 59_999 });
        }),
      );
      const nodeEvents = (await op.accessEvents(d.deployBlock)).filter((e) => !before.has(e.txHash) && e.recorded);
      const txs = [...new Set(nodeEvents.map((e) => e.txHash))];
      let nodeGas = 0;
      for (const h of txs) nodeGas += Number((await provider.getTransactionReceipt(h))!.gasUsed);
      const gasPerAccess = nodeGas / nodeEvents.length;
      const accessesPerTx = nodeEvents.length / txs.length;

      // … and recordAccesses directly with the operator's key (1..64 per transaction, distinct grants).
      const gasRows: Array<[number, number]> = [];
      for (const k of [1, 8, 32, 64]) {
        const rr = await op.recordAccesses(grants.slice(0, k).map((g) => ({ grantId: g, fromTime: from, toTime: from + 60_000 })));
        gasRows.push([k, Number(rr.gasUsed) / k]);
      }
      const rows: Array<[string, string]> = [
        ['ward', `${patients} patients at 1 reading/s, batches of ${batchSize}: ${seq} batches in the day`],
        ['patient-day', `${readings.toLocaleString('en-US')} readings of ${P} in ${r.bundle.report.batches} batches, ${r.bundle.report.slices} slices`],
        ['bytes received', `${(r.bytesReceived / 1e6).toFixed(1)} MB (${(r.bytesReceived / readings).toFixed(0)} B per reading)`],
        ['fetch + verify + decrypt', `${fetchS.toFixed(2)} s → ${Math.round(readings / fetchS).toLocaleString('en-US')} readings/s (CPU of node + key service + user: ${fetchCpuS.toFixed(2)} s)`],
        ['  answer received (node: grant, access on chain, pages)', `${(stages.fetch ?? 0).toFixed(2)} s`],
        ['  checked against the chain (anchors, signatures, runs)', `${((stages.checked ?? 0) - (stages.fetch ?? 0)).toFixed(2)} s`],
        ['  key release + decrypt + slice roots', `${(fetchS - (stages.checked ?? 0)).toFixed(2)} s`],
        ['baseline: owner opens the same slices locally', `${baselineS.toFixed(2)} s (${baselineReadings.toLocaleString('en-US')} readings) → user path ${(fetchS / baselineS).toFixed(1)}× the owner's local open`],
        ...gasRows.map(([k, g]): [string, string] => [`recordAccesses, ${k} per tx`, `${Math.round(g).toLocaleString('en-US')} gas per access`]),
        [`${users} users at once through the node`, `${nodeEvents.length} accesses in ${txs.length} transactions: ${accessesPerTx.toFixed(1)} per tx, ${Math.round(gasPerAccess).toLocaleString('en-US')} gas per access`],
      ];
      const w = Math.max(...rows.map(([k]) => k.length));
      process.stdout.write(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n');
      process.stdout.write(
        JSON.stringify({
          readings,
          fetch_verify_decrypt_s: Number(fetchS.toFixed(3)),
          readings_verified_per_s: Math.round(readings / fetchS),
          gas_per_access: Math.round(gasPerAccess),
          accesses_per_tx: Number(accessesPerTx.toFixed(1)),
        }) + '\n',
      );
    } finally {
      await keys.close();
      await node.stop();
    }
  } finally {
    provider.destroy();
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
