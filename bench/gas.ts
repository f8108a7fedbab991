/**
 * bench/gas: gas per anchored reading with Merkle batching, beside a naive contract that stores
 * each reading's hash in its own slot, on a real anvil chain in the same run.
 *
 * A batch costs the same whatever its size (one root), so gas per reading = gas per batch / batch
 * size. Batches are measured in steady state (a gateway that has anchored before), alone in a
 * transaction and 10 or 50 to a transaction (anchorMany, as a chain node anchoring for many
 * gateways does). The naive contract is measured storing 100 hashes in one transaction; its cost
 * per reading does not depend on how many are sent (and 10,000 would not fit in a block).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ethers } from 'ethers';
import { startAnvil } from '../contracts/anvil';
import { deployContracts, registerGateway, registerHospital, registerNode } from '../contracts/deploy';
import { idToBytes32 } from '../contracts/ids';
import { loadArtifact } from '../contracts/artifacts';
import { blsKeygen, blsPopProve, blsPublicKey } from '../protocol/bls';

function compileNaive(): { abi: ethers.InterfaceAbi; bytecode: string } {
  const solc = require('solc') as { compile(input: string): string };
  const src = readFileSync(join(resolve(__dirname, '..', '..', 'bench', 'contracts'), 'NaiveAnchor.sol'), 'utf8');
  const out = JSON.parse(
    solc.compile(JSON.stringify({ language: 'Solidity', sources: { 'NaiveAnchor.sol': { content: src } }, settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: 'prague', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } } })),
  ) as { contracts: Record<string, Record<string, { abi: ethers.InterfaceAbi; evm: { bytecode: { object: string } } }>> };
  const c = out.contracts['NaiveAnchor.sol']!.NaiveAnchor!;
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
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
      return { pk: blsPublicKey(sk), pop: blsPopProve(sk) };
    };
    const nk = key(1);
    await registerNode(admin!, d.registry, { id: 'node-1', operator: await operator!.getAddress(), blsPublicKey: nk.pk, pop: nk.pop, x25519PublicKey: new Uint8Array(32).fill(1) });
    const gk = key(2);
    await registerGateway(hosp!, d.registry, { id: 'gw-1', hospital: 'hospital-a', blsPublicKey: gk.pk, pop: gk.pop });
    const anchor = new ethers.Contract(d.anchor, loadArtifact('Anchor').abi, operator);
    const gw = idToBytes32('gw-1');
    let seq = 0;
    let prev = ethers.ZeroHash;
    const next = (): [string, number, string, string, string, number] => {
      seq++;
      const hh = ethers.id(`header ${seq}`);
      const item: [string, number, string, string, string, number] = [gw, seq, prev, hh, ethers.id(`root ${seq}`), 1000];
      prev = hh;
      return item;
    };
    const gasOf = async (tx: Promise<ethers.ContractTransactionResponse>): Promise<number> => Number((await (await tx).wait())!.gasUsed);

    const first = await gasOf(anchor.getFunction('anchor').send(...next()));
    const singles: number[] = [];
    for (let i = 0; i < 5; i++) singles.push(await gasOf(anchor.getFunction('anchor').send(...next())));
    const single = singles.reduce((a, b) => a + b) / singles.length;
    const many = async (k: number): Promise<number> => {
      const items = Array.from({ length: k }, () => next());
      return gasOf(anchor.getFunction('anchorMany').send(...[0, 1, 2, 3, 4, 5].map((col) => items.map((it) => it[col]))));
    };
    const perBatch: Record<number, number> = { 1: single, 10: (await many(10)) / 10, 50: (await many(50)) / 50 };

    const naiveArt = compileNaive();
    const naive = await new ethers.ContractFactory(naiveArt.abi, naiveArt.bytecode, operator).deploy();
    await naive.waitForDeployment();
    const hashes = Array.from({ length: 100 }, (_, i) => ethers.id(`reading ${i}`));
    const naiveGas = await gasOf((naive as ethers.Contract).getFunction('anchorReadings').send(hashes));
    const naivePerReading = naiveGas / 100;

    const sizes = [1, 10, 100, 1000, 10000];
    const w = (s: string | number, n = 12): string => String(s).padStart(n);
    process.stdout.write(`Gas per anchored reading (anvil, Prague; Merkle batch vs naive per-reading storage)\n`);
    process.stdout.write(`first batch of a gateway (cold storage): ${first} gas; steady state: ${Math.round(single)} gas per anchor() transaction\n\n`);
    process.stdout.write(`${w('batch size', 10)} |${w('1 batch/tx')} |${w('10 batches/tx')} |${w('50 batches/tx')} |${w('naive')} | naive / 50-per-tx\n`);
    for (const n of sizes) {
      const r = (k: number): string => (perBatch[k]! / n).toFixed(1);
      process.stdout.write(`${w(n, 10)} |${w(r(1))} |${w(r(10), 14)} |${w(r(50), 14)} |${w(naivePerReading.toFixed(0))} | ${(naivePerReading / (perBatch[50]! / n)).toFixed(0)}x\n`);
    }
    process.stdout.write(`\ngas per batch: ${Math.round(perBatch[1]!)} alone, ${Math.round(perBatch[10]!)} at 10 per tx, ${Math.round(perBatch[50]!)} at 50 per tx\n`);
    process.stdout.write(`gas_per_reading_at_1000 is for 1,000-reading batches anchored 50 per transaction (the chain node's batched mode); alone in a transaction it is ${(single / 1000).toFixed(1)}\n`);
    const figures = {
      gas_per_reading_at_1000: Number((perBatch[50]! / 1000).toFixed(2)),
      gas_per_reading_at_1000_1_per_tx: Number((single / 1000).toFixed(2)),
      naive_gas_per_reading: Math.round(naivePerReading),
      naive_over_batched_at_1000: Math.round(naivePerReading / (perBatch[50]! / 1000)),
      anchor_tx_gas_1_batch: Math.round(single),
      anchor_tx_gas_first_batch: first,
      gas_per_batch_at_10_per_tx: Math.round(perBatch[10]!),
      gas_per_batch_at_50_per_tx: Math.round(perBatch[50]!),
    };
    process.stdout.write(JSON.stringify(figures) + '\n');
  } finally {
    provider.destroy();
    await anvil.stop();
  }
}
