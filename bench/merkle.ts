/**
 * bench/merkle: the batch Merkle root with SHA-256 from node:crypto (OpenSSL) beside @noble/hashes
 * (pure JS), on the real workload: salted leaves over canonical readings, then the tree.
 * Prints a table and, as the last line, one JSON object of the figures.
 */
import { createHash, createHmac } from 'node:crypto';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import { encodeReading } from '../protocol/canonical';
import type { Reading } from '../protocol/reading';

type Hash = (...parts: Uint8Array[]) => Uint8Array;
type Mac = (key: Uint8Array, ...parts: Uint8Array[]) => Uint8Array;

const nodeHash: Hash = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const nodeMac: Mac = (key, ...parts) => {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const nobleHash: Hash = (...parts) => nobleSha256(concat(parts));
const nobleMacFn: Mac = (key, ...parts) => nobleHmac(nobleSha256, key, concat(parts));

// The same tree as protocol/merkle.ts, parameterised by the hash, so both run identical work.
function root(leaves: Uint8Array[], H: Hash): Uint8Array {
  const one = new Uint8Array([1]);
  let level = leaves;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(H(one, level[i]!, level[i + 1]!));
    if (level.length % 2) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

function batchRoot(data: Uint8Array[], H: Hash, M: Mac): Uint8Array {
  const key = new Uint8Array(32).fill(3);
  const zero = new Uint8Array([0]);
  const label = new TextEncoder().encode('mcps/leaf-salt/v1');
  const leaves = data.map((d, i) => {
    const idx = new Uint8Array(4);
    new DataView(idx.buffer).setUint32(0, i);
    return H(zero, M(key, label, idx), d);
  });
  return root(leaves, H);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function main(): Promise<void> {
  const readings = (n: number): Uint8Array[] =>
    Array.from({ length: n }, (_, i): Reading => ({ deviceId: 'oxi-bed1', patient: 'p-0001', kind: 'spo2', mdc: '150456', loinc: '2708-6', value: 95 + (i % 5), unit: '%', deviceTime: null, receivedAt: 1_764_000_000_000 + i * 333, deviceSeq: i + 1, source: 'serial' })).map(encodeReading);
  const figures: Record<string, number | string> = {};
  const rows: string[] = [];
  for (const n of [1000, 10000]) {
    const data = readings(n);
    const a = Buffer.from(batchRoot(data, nodeHash, nodeMac)).toString('hex');
    const b = Buffer.from(batchRoot(data, nobleHash, nobleMacFn)).toString('hex');
    if (a !== b) throw new Error('node:crypto and noble roots differ');
    const tn: number[] = [];
    const tb: number[] = [];
    for (let r = 0; r < 9; r++) {
      // Alternate to spread machine noise evenly over both.
      let t0 = performance.now();
      batchRoot(data, nodeHash, nodeMac);
      tn.push(performance.now() - t0);
      t0 = performance.now();
      batchRoot(data, nobleHash, nobleMacFn);
      tb.push(performance.now() - t0);
    }
    const mn = median(tn);
    const mb = median(tb);
    figures[`leaves_${n}_ms_node`] = Number(mn.toFixed(3));
    figures[`leaves_${n}_ms_noble`] = Number(mb.toFixed(3));
    rows.push(`${String(n).padStart(6)} leaves | node:crypto ${mn.toFixed(2).padStart(8)} ms | noble ${mb.toFixed(2).padStart(8)} ms | noble/node ${(mb / mn).toFixed(2)}x`);
  }
  const ratio = Number(figures.leaves_10000_ms_noble) / Number(figures.leaves_10000_ms_node);
  figures.noble_over_node = Number(ratio.toFixed(2));
  figures.chosen = ratio >= 1 ? 'node:crypto' : '@noble/hashes';
  process.stdout.write('Merkle root of a batch (salted leaves over canonical readings), median of 9 runs\n');
  for (const r of rows) process.stdout.write(r + '\n');
  process.stdout.write(`chosen for protocol/hash.ts: ${figures.chosen}\n`);
  process.stdout.write(JSON.stringify(figures) + '\n');
}
