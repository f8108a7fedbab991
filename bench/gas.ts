/**
 * bench/gas: gas per anchored reading, on a real anvil chain (Prague, so EIP-7623's calldata floor
 * applies), in one run:
 *   - folded: the Anchor contract the chain node uses (contracts/Anchor.sol): per gateway group its
 *     ends in calldata (first seq, count, previous hash, head hash; the batches between are linked
 *     by their headers off chain), one fold root per transaction, one head slot and one log per
 *     gateway per transaction;
 *   - per batch: the layout before folding (bench/contracts/PerBatchAnchor.sol: a root slot, a head
 *     and a log per batch), the baseline the folded figures are ratios against;
 *   - trustless: the Anchor contract deployed in trustless mode, the gateways' signed headers in
 *     calldata, their signatures checked on chain with one aggregated pairing per transaction;
 *   - naive: every reading's hash in its own slot (bench/contracts/NaiveAnchor.sol).
 * A batch costs the same whatever its size, so gas per reading = gas per batch / batch size. Every
 * figure is steady state: each gateway has anchored before (its head slot is not new).
 */
import { minedReceipt } from '../contracts/mined-receipt';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ethers } from 'ethers';
import { startAnvil } from '../contracts/anvil';
import { AnchorClient, type AnchorRequest } from '../contracts/clients';
import { deployContracts, registerGateway, registerHospital, registerNode } from '../contracts/deploy';
import { idToBytes32 } from '../contracts/ids';
import { encodeHeader, headerHash, type BatchHeader } from '../protocol/batch';
import { blsKeygen, blsPopProve, blsPublicKey, blsSign } from '../protocol/bls';

function compileBenchContract(name: string): { abi: ethers.InterfaceAbi; bytecode: string } {
  const solc = require('solc') as { compile(input: string): string };
  const src = readFileSync(join(resolve(__dirname, '..', '..', 'bench', 'contracts'), `${name}.sol`), 'utf8');
  const out = JSON.parse(
    solc.compile(JSON.stringify({ language: 'Solidity', sources: { [`${name}.sol`]: { content: src } }, settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: 'prague', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } } })),
  ) as { contracts: Record<string, Record<string, { abi: ethers.InterfaceAbi; evm: { bytecode: { object: string } } }>> };
  const c = out.contracts[`${name}.sol`]![name]!;
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

/** EIP-7623: calldata tokens (zero bytes 1, others 4) and the floor a transaction pays at least. */
function calldataFloor(data: string): { bytes: number; tokens: number; floor: number } {
  const b = ethers.getBytes(data);
  const zeros = b.filter((x) => x === 0).length;
  const tokens = zeros + 4 * (b.length - zeros);
  return { bytes: b.length, tokens, floor: 21000 + 10 * tokens };
}

interface TxFigure {
  gas: number;
  bytes: number;
  floor: number;
}

export async function main(): Promise<void> {
  const anvil = await startAnvil();
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 50 });
  try {
    const [admin, hosp, operator] = await Promise.all([0, 1, 2].map((i) => provider.getSigner(i)));
    const d = await deployContracts(admin!);
    await registerHospital(admin!, d.registry, 'hospital-a', await hosp!.getAddress());
    const key = (b: number) => {
      const sk = blsKeygen(new Uint8Array(48).fill(b));
      return { sk, pk: blsPublicKey(sk), pop: blsPopProve(sk) };
    };
    const nk = key(1);
    await registerNode(admin!, d.registry, { id: 'node-1', operator: await operator!.getAddress(), blsPublicKey: nk.pk, pop: nk.pop, x25519PublicKey: new Uint8Array(32).fill(1) });
    const gateways = Array.from({ length: 50 }, (_, i) => `gw-${i + 1}`);
    for (const [i, g] of gateways.entries()) {
      const k = key(10 + i);
      await registerGateway(hosp!, d.registry, { id: g, hospital: 'hospital-a', blsPublicKey: k.pk, pop: k.pop });
    }
    const figureOf = async (txHash: string): Promise<TxFigure> => {
      const [tx, rcpt] = await Promise.all([provider.getTransaction(txHash), provider.getTransactionReceipt(txHash)]);
      const f = calldataFloor(tx!.data);
      return { gas: Number(rcpt!.gasUsed), bytes: f.bytes, floor: f.floor };
    };

    // Folded (the Anchor contract the chain node uses).
    const folded = new AnchorClient(operator!, d.anchor, d.deployBlock);
    const seqs = new Map<string, { seq: number; prev: Uint8Array }>();
    const nextReq = (g: string): AnchorRequest => {
      const s = seqs.get(g) ?? { seq: 0, prev: new Uint8Array(32) };
      const seq = s.seq + 1;
      const hh = ethers.getBytes(ethers.id(`${g} header ${seq}`));
      seqs.set(g, { seq, prev: hh });
      return { gatewayId: g, seq, prevHash: s.prev, headerHash: hh, root: ethers.getBytes(ethers.id(`${g} root ${seq}`)), count: 1000 };
    };
    const foldedTx = async (gws: readonly string[], perGateway: number): Promise<TxFigure> => {
      const reqs: AnchorRequest[] = [];
      for (let k = 0; k < perGateway; k++) for (const g of gws) reqs.push(nextReq(g));
      return figureOf((await folded.anchorFolded(reqs)).txHash);
    };
    process.stderr.write("gas: measuring folded…\n");
    const firstFolded = await foldedTx(['gw-1'], 1);
    await foldedTx(gateways, 1); // warm every head slot
    const avg = async (f: () => Promise<TxFigure>, runs = 3): Promise<TxFigure> => {
      const xs: TxFigure[] = [];
      for (let i = 0; i < runs; i++) xs.push(await f());
      return { gas: xs.reduce((a, x) => a + x.gas, 0) / runs, bytes: xs.reduce((a, x) => a + x.bytes, 0) / runs, floor: xs.reduce((a, x) => a + x.floor, 0) / runs };
    };
    const f1 = await avg(() => foldedTx(['gw-1'], 1));
    const f50x5 = await avg(() => foldedTx(gateways.slice(0, 5), 10));
    const f50x50 = await avg(() => foldedTx(gateways, 1));

    process.stderr.write("gas: measuring per batch…\n");
    // Per batch (the layout before folding), same gateways and registry.
    const pb = compileBenchContract('PerBatchAnchor');
    const perBatch = (await (await new ethers.ContractFactory(pb.abi, pb.bytecode, admin!).deploy(d.registry)).waitForDeployment()) as ethers.Contract;
    const perBatchAs = perBatch.connect(operator!) as ethers.Contract;
    const pbSeqs = new Map<string, { seq: number; prev: string }>();
    const pbItem = (g: string): [string, number, string, string, string, number] => {
      const s = pbSeqs.get(g) ?? { seq: 0, prev: ethers.ZeroHash };
      const seq = s.seq + 1;
      const hh = ethers.id(`${g} pb header ${seq}`);
      pbSeqs.set(g, { seq, prev: hh });
      return [idToBytes32(g), seq, s.prev, hh, ethers.id(`${g} pb root ${seq}`), 1000];
    };
    const pbTx = async (gws: readonly string[], perGateway: number): Promise<TxFigure> => {
      const items: Array<ReturnType<typeof pbItem>> = [];
      for (let k = 0; k < perGateway; k++) for (const g of gws) items.push(pbItem(g));
      const tx = items.length === 1 ? await perBatchAs.getFunction('anchor').send(...items[0]!) : await perBatchAs.getFunction('anchorMany').send(...[0, 1, 2, 3, 4, 5].map((col) => items.map((it) => it[col])));
      await minedReceipt(tx as ethers.ContractTransactionResponse);
      return figureOf((tx as ethers.ContractTransactionResponse).hash);
    };
    const firstPerBatch = await pbTx(['gw-1'], 1);
    await pbTx(gateways.slice(0, 5), 1);
    const p1 = await avg(() => pbTx(['gw-1'], 1));
    const p10 = await avg(() => pbTx(['gw-1'], 10));
    const p50 = await avg(() => pbTx(['gw-1'], 50));
    const p50x5 = await avg(() => pbTx(gateways.slice(0, 5), 10));

    process.stderr.write("gas: measuring trustless…\n");
    // Trustless: a second deployment, the same five gateways' keys, real signed headers.
    const dt = await deployContracts(admin!, { trustless: true });
    await registerHospital(admin!, dt.registry, 'hospital-a', await hosp!.getAddress());
    const nk2 = key(2);
    await registerNode(admin!, dt.registry, { id: 'node-1', operator: await operator!.getAddress(), blsPublicKey: nk2.pk, pop: nk2.pop, x25519PublicKey: new Uint8Array(32).fill(1) });
    const tGateways = gateways.slice(0, 5);
    const tKeys = new Map<string, Uint8Array>();
    for (const [i, g] of tGateways.entries()) {
      const k = key(10 + i);
      tKeys.set(g, k.sk);
      await registerGateway(hosp!, dt.registry, { id: g, hospital: 'hospital-a', blsPublicKey: k.pk, pop: k.pop });
    }
    process.stderr.write("gas: trustless gateways registered…\n");
    const trustless = new AnchorClient(operator!, dt.anchor, dt.deployBlock);
    const tSeqs = new Map<string, { seq: number; prev: Uint8Array }>();
    const signedReq = (g: string): AnchorRequest => {
      const s = tSeqs.get(g) ?? { seq: 0, prev: new Uint8Array(32) };
      const seq = s.seq + 1;
      const t0 = 1_764_000_000_000 + seq * 60_000;
      const h: BatchHeader = { version: 2, gatewayId: g, seq, prevHash: s.prev, root: ethers.getBytes(ethers.id(`${g} root ${seq}`)), count: 1000, firstReceivedAt: t0, lastReceivedAt: t0 + 59_000, sealedAt: t0 + 59_500, watermark: t0 - 1, sliceCount: 4, directoryHash: ethers.getBytes(ethers.id(`${g} dir ${seq}`)) };
      const hh = headerHash(h);
      tSeqs.set(g, { seq, prev: hh });
      return { gatewayId: g, seq, prevHash: s.prev, headerHash: hh, root: h.root, count: h.count, header: encodeHeader(h), signature: blsSign(tKeys.get(g)!, hh) };
    };
    const trustlessTx = async (gws: readonly string[], perGateway: number): Promise<TxFigure> => {
      const reqs: AnchorRequest[] = [];
      for (let k = 0; k < perGateway; k++) for (const g of gws) reqs.push(signedReq(g));
      return figureOf((await trustless.anchorFolded(reqs)).txHash);
    };
    await trustlessTx(tGateways, 1); // warm every head slot
    process.stderr.write("gas: trustless heads warm…\n");
    const t1 = await avg(() => trustlessTx(['gw-1'], 1));
    const t50x5 = await avg(() => trustlessTx(tGateways, 10), 2);

    process.stderr.write("gas: measuring naive…\n");
    // Naive: one slot per reading.
    const naiveArt = compileBenchContract('NaiveAnchor');
    const naive = (await (await new ethers.ContractFactory(naiveArt.abi, naiveArt.bytecode, operator!).deploy()).waitForDeployment()) as ethers.Contract;
    const naiveTx = (await naive.getFunction('anchorReadings').send(Array.from({ length: 100 }, (_, i) => ethers.id(`reading ${i}`)))) as ethers.ContractTransactionResponse;
    await minedReceipt(naiveTx);
    const naivePerReading = (await figureOf(naiveTx.hash)).gas / 100;

    const rows: Array<[string, TxFigure, number]> = [
      ['per batch, 1 batch/tx', p1, 1],
      ['per batch, 50/tx (1 gateway)', p50, 50],
      ['per batch, 50/tx (5 gateways)', p50x5, 50],
      ['folded, 1 batch/tx', f1, 1],
      ['folded, 50/tx (5 gateways x 10)', f50x5, 50],
      ['folded, 50/tx (50 gateways x 1)', f50x50, 50],
      ['trustless, 1 batch/tx', t1, 1],
      ['trustless, 50/tx (5 gateways x 10)', t50x5, 50],
    ];
    const w = (s: string | number, n: number): string => String(s).padStart(n);
    process.stdout.write('Gas per anchored reading (anvil, Prague, EIP-7623 calldata floor in force); steady state\n\n');
    process.stdout.write(`${'layout, batches per transaction'.padEnd(34)}|${w('gas/batch', 10)} |${w('@1,000', 8)} |${w('@10,000', 8)} |${w('calldata B/batch', 17)} |${w('floor/batch', 12)} | vs per batch 50/tx\n`);
    for (const [name, f, n] of rows) {
      const perB = f.gas / n;
      process.stdout.write(`${name.padEnd(34)}|${w(Math.round(perB), 10)} |${w((perB / 1000).toFixed(2), 8)} |${w((perB / 10000).toFixed(3), 8)} |${w(Math.round(f.bytes / n), 17)} |${w(Math.round(f.floor / n), 12)} | ${((p50.gas / 50) / perB).toFixed(2)}x\n`);
    }
    process.stdout.write(`${'naive (a slot per reading)'.padEnd(34)}|${w('', 10)} |${w(Math.round(naivePerReading), 8)} |${w(Math.round(naivePerReading), 8)} |\n`);
    process.stdout.write(`\nfirst batch of a gateway (new head slot): ${firstFolded.gas} gas folded, ${firstPerBatch.gas} per batch\n`);
    process.stdout.write(`"floor/batch" is EIP-7623's minimum (21,000 + 10 x calldata tokens) per batch; a transaction pays max(standard, floor)\n`);
    process.stdout.write(`gas_per_reading_at_1000 (kept for comparison with earlier runs) is the per-batch layout, 50 batches of one gateway per transaction\n`);
    const figures = {
      gas_per_reading_at_1000: Number((p50.gas / 50 / 1000).toFixed(2)),
      gas_per_reading_at_1000_1_per_tx: Number((p1.gas / 1000).toFixed(2)),
      naive_gas_per_reading: Math.round(naivePerReading),
      naive_over_batched_at_1000: Math.round(naivePerReading / (p50.gas / 50 / 1000)),
      anchor_tx_gas_1_batch: Math.round(p1.gas),
      anchor_tx_gas_first_batch: firstPerBatch.gas,
      gas_per_batch_at_10_per_tx: Math.round(p10.gas / 10),
      gas_per_batch_at_50_per_tx: Math.round(p50.gas / 50),
      gas_per_reading_at_1000_folded: Number((f50x5.gas / 50 / 1000).toFixed(3)),
      gas_per_reading_at_1000_folded_1_per_tx: Number((f1.gas / 1000).toFixed(2)),
      gas_per_reading_at_1000_folded_50_gateways: Number((f50x50.gas / 50 / 1000).toFixed(3)),
      gas_per_reading_at_10000_folded: Number((f50x5.gas / 50 / 10000).toFixed(4)),
      calldata_bytes_per_batch: Math.round(f50x5.bytes / 50),
      calldata_floor_gas_per_batch_folded: Math.round(f50x5.floor / 50),
      folded_over_per_batch_at_50_per_tx: Number((p50x5.gas / f50x5.gas).toFixed(2)),
      gas_per_reading_at_1000_trustless: Number((t50x5.gas / 50 / 1000).toFixed(2)),
      gas_per_reading_at_1000_trustless_1_per_tx: Number((t1.gas / 1000).toFixed(2)),
      gas_per_reading_at_10000_trustless: Number((t50x5.gas / 50 / 10000).toFixed(3)),
      calldata_bytes_per_batch_trustless: Math.round(t50x5.bytes / 50),
    };
    process.stdout.write(JSON.stringify(figures) + '\n');
  } finally {
    provider.destroy();
    await anvil.stop();
  }
}
