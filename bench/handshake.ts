/**
 * bench/handshake: what one handshake costs each side with noble, beside one raw pairing (the unit)
 * and a TLS 1.3 ECDHE handshake over loopback with node:tls, in the same run. Medians.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { blsKeygen, blsPublicKey } from '../protocol/bls';
import { InitiatorHandshake, NodeResponder, noblePairing, x25519PublicKey, type PairingBackend, type RegistryRecord } from '../protocol/handshake';
import { mclPairing } from '../common/mcl-pairing';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function tls13Ms(runs: number): Promise<number | null> {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-tls-'));
  try {
    // A throwaway self-signed P-256 certificate; openssl ships with Debian (the bench reports null without it).
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    if (r.status !== 0) return null;
    const server = createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')), minVersion: 'TLSv1.3' }, (s) => s.end());
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as AddressInfo).port;
    const ca = readFileSync(join(dir, 'c.pem'));
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await new Promise<void>((res, rej) => {
        const c = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', minVersion: 'TLSv1.3', session: undefined }, () => {
          times.push(performance.now() - t0);
          c.end();
          res();
        });
        c.on('error', rej);
      });
    }
    server.close();
    return median(times);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(args: string[]): Promise<void> {
  const runs = Number(args[0] ?? 30);
  const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
  const gsk = blsKeygen(random(48));
  const nx = random(32);
  const records = new Map<string, RegistryRecord>([
    ['node-1', { id: 'node-1', role: 'node', epoch: 1, status: 'active', blsPublicKey: blsPublicKey(blsKeygen(random(48))), x25519PublicKey: x25519PublicKey(nx) }],
    ['gw-1', { id: 'gw-1', role: 'gateway', epoch: 1, status: 'active', blsPublicKey: blsPublicKey(gsk) }],
  ]);
  const registry = { lookup: (id: string) => records.get(id) };
  const now = (): number => Date.now();
  const measure = async (pairing: PairingBackend) => {
    const node = new NodeResponder({ nodeId: 'node-1', x25519SecretKey: nx, registry, now, random, pairing });

    const gw: number[] = [];
    const nd: number[] = [];
    const pairingT: number[] = [];
    const P = bls12_381.G1.Point.BASE.multiply(12345n);
    const Q = bls12_381.G2.Point.BASE.multiply(6789n);
    for (let i = 0; i < runs + 3; i++) {
      const g = new InitiatorHandshake({ id: 'gw-1', blsSecretKey: gsk, nodeId: 'node-1', registry, now, random });
      let t0 = performance.now();
      const m1 = g.start();
      let gwT = performance.now() - t0;
      t0 = performance.now();
      const { handshakeId, m2 } = node.onM1(m1);
      let ndT = performance.now() - t0;
      t0 = performance.now();
      const { m3 } = g.onM2(m2);
      gwT += performance.now() - t0;
      t0 = performance.now();
      node.onM3(handshakeId, m3);
      ndT += performance.now() - t0;
      t0 = performance.now();
      bls12_381.pairing(P, Q);
      const pT = performance.now() - t0;
      if (i >= 3) {
        // the first runs warm up the JIT and noble's precomputations
        gw.push(gwT);
        nd.push(ndT);
        pairingT.push(pT);
      }
    }
    // The node finishing a burst of handshakes with one batch verification of their M3 signatures.
    const burst = 32;
    const batchTimes: number[] = [];
    for (let rep = 0; rep < 5; rep++) {
      const inits = Array.from({ length: burst }, () => new InitiatorHandshake({ id: 'gw-1', blsSecretKey: gsk, nodeId: 'node-1', registry, now, random }));
      const m1s = inits.map((g) => g.start());
      let nodeT = 0;
      let t0 = performance.now();
      const answers = m1s.map((m1) => node.onM1(m1));
      nodeT += performance.now() - t0;
      const m3s = answers.map((a, k) => inits[k]!.onM2(a.m2).m3);
      t0 = performance.now();
      const opened = answers.map((a, k) => node.openM3(a.handshakeId, m3s[k]!));
      const done = node.finishMany(opened.map((o) => ({ opened: o, peer: registry.lookup(o.peerId) })));
      nodeT += performance.now() - t0;
      if (done.some((d) => d instanceof Error)) throw new Error('batch verification refused a valid handshake');
      batchTimes.push(nodeT / burst);
    }
    const batchMs = median(batchTimes);
    return { gw, nd, pairing: pairingT, batchMs };
  };
  const nob = await measure(noblePairing);
  const mcl = await measure(await mclPairing());
  const tls = await tls13Ms(runs);
  const f = {
    gateway_ms: Number(median([...nob.gw, ...mcl.gw]).toFixed(2)),
    node_ms: Number(median(mcl.nd).toFixed(2)),
    node_ms_noble: Number(median(nob.nd).toFixed(2)),
    pairing_ms: Number(median([...nob.pairing, ...mcl.pairing]).toFixed(2)),
    tls13_ms: tls === null ? null : Number(tls.toFixed(2)),
    node_handshakes_per_s: Number((1000 / median(mcl.nd)).toFixed(1)),
    node_handshakes_per_s_noble: Number((1000 / median(nob.nd)).toFixed(1)),
    node_batch_ms: Number(mcl.batchMs.toFixed(2)),
    node_batch_handshakes_per_s: Number((1000 / mcl.batchMs).toFixed(1)),
    node_batch_handshakes_per_s_noble: Number((1000 / nob.batchMs).toFixed(1)),
  };
  const row = (k: string, v: number | null, unit = 'ms'): string => `${k.padEnd(34)} ${v === null ? 'n/a' : v.toFixed(2).padStart(9)} ${unit}`;
  process.stdout.write(`Handshake cost per party (noble 2.4 + node:crypto), median of ${runs}\n`);
  process.stdout.write(row('gateway (M1 + M3: one BLS sign)', f.gateway_ms) + `   ${(f.gateway_ms / f.pairing_ms).toFixed(2)} x pairing\n`);
  process.stdout.write(row('node, noble (M2 + verify M3)', f.node_ms_noble) + `   ${(f.node_ms_noble / f.pairing_ms).toFixed(2)} x pairing\n`);
  process.stdout.write(row('node, mcl-wasm backend', f.node_ms) + `   ${(f.node_ms_noble / f.node_ms).toFixed(2)}x faster than noble\n`);
  process.stdout.write(row('one pairing (unit)', f.pairing_ms) + '\n');
  process.stdout.write(row('TLS 1.3 ECDHE P-256, loopback', f.tls13_ms) + (f.tls13_ms ? `   node / TLS = ${(f.node_ms / f.tls13_ms).toFixed(1)}x\n` : '\n'));
  process.stdout.write(row('node handshakes/s, 1 core (noble)', f.node_handshakes_per_s_noble, '/s') + '\n');
  process.stdout.write(row('node handshakes/s, 1 core (mcl)', f.node_handshakes_per_s, '/s') + '\n');
  process.stdout.write(row(`node, mcl, bursts of 32 batch-verified`, f.node_batch_ms) + `   ${(f.node_ms / f.node_batch_ms).toFixed(2)}x faster than one by one\n`);
  process.stdout.write(row('node handshakes/s, batched (noble)', f.node_batch_handshakes_per_s_noble, '/s') + '\n');
  process.stdout.write(row('node handshakes/s, batched (mcl)', f.node_batch_handshakes_per_s, '/s') + '\n');
  process.stdout.write(JSON.stringify(f) + '\n');
}
