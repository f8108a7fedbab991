/**
 * bench/handshake: what one handshake costs each side, beside one raw pairing with noble (the unit)
 * and a TLS 1.3 ECDHE handshake over loopback with node:tls, in the same run. Medians.
 *
 * Costs are CPU time of this process (process.cpuUsage), not wall time: the figures are "per core",
 * and on a shared machine wall time mostly measures the neighbours. The TLS baseline is wall time
 * (client and server in one process, loopback). The gateway signs with mcl-wasm as deployed
 * (gateway/main.ts) and with noble beside it; the node verifies with mcl-wasm one by one, and in
 * bursts of 32 with batch verification, both from one gateway (the key used since the first version
 * of this bench) and from 32 distinct gateways (no two signatures share a Miller loop).
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
import { mclPairing, mclSigner } from '../common/mcl-pairing';
import { nobleSigner, type BlsSigner } from '../protocol/bls';

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
  const burst = 32;
  const fleet = Array.from({ length: burst }, (_, k) => ({ id: `gw-f${k}`, sk: blsKeygen(random(48)) }));
  for (const g of fleet) records.set(g.id, { id: g.id, role: 'gateway', epoch: 1, status: 'active', blsPublicKey: blsPublicKey(g.sk) });
  const registry = { lookup: (id: string) => records.get(id) };
  const now = (): number => Date.now();
  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const P = bls12_381.G1.Point.BASE.multiply(12345n);
  const Q = bls12_381.G2.Point.BASE.multiply(6789n);
  const pairingT: number[] = [];
  const pairingOnce = (): void => {
    const t0 = cpuMs();
    bls12_381.pairing(P, Q);
    pairingT.push(cpuMs() - t0);
  };
  const measure = async (pairing: PairingBackend, signer: BlsSigner) => {
    const node = new NodeResponder({ nodeId: 'node-1', x25519SecretKey: nx, registry, now, random, pairing });
    const gw: number[] = [];
    const nd: number[] = [];
    for (let i = 0; i < runs + 3; i++) {
      const g = new InitiatorHandshake({ id: 'gw-1', blsSecretKey: gsk, nodeId: 'node-1', registry, now, random, signer });
      let t0 = cpuMs();
      const m1 = g.start();
      let gwT = cpuMs() - t0;
      t0 = cpuMs();
      const { handshakeId, m2 } = node.onM1(m1);
      let ndT = cpuMs() - t0;
      t0 = cpuMs();
      const { m3 } = g.onM2(m2);
      gwT += cpuMs() - t0;
      t0 = cpuMs();
      node.onM3(handshakeId, m3);
      ndT += cpuMs() - t0;
      if (i >= 3) {
        // the first runs warm up the JIT and the libraries' precomputations
        gw.push(gwT);
        nd.push(ndT);
        pairingOnce();
      }
    }
    // The node finishing a burst of handshakes with one batch verification of their M3 signatures.
    const burstMs = (parties: Array<{ id: string; sk: Uint8Array }>): number => {
      const times: number[] = [];
      for (let rep = 0; rep < 7; rep++) {
        const inits = parties.map((p) => new InitiatorHandshake({ id: p.id, blsSecretKey: p.sk, nodeId: 'node-1', registry, now, random, signer }));
        const m1s = inits.map((g) => g.start());
        let t0 = cpuMs();
        const answers = m1s.map((m1) => node.onM1(m1));
        let nodeT = cpuMs() - t0;
        const m3s = answers.map((a, k) => inits[k]!.onM2(a.m2).m3);
        t0 = cpuMs();
        const opened = answers.map((a, k) => node.openM3(a.handshakeId, m3s[k]!));
        const done = node.finishMany(opened.map((o) => ({ opened: o, peer: registry.lookup(o.peerId) })));
        nodeT += cpuMs() - t0;
        if (done.some((d) => d instanceof Error)) throw new Error('batch verification refused a valid handshake');
        if (rep >= 2) times.push(nodeT / parties.length);
      }
      return median(times);
    };
    const oneGateway = burstMs(Array.from({ length: burst }, () => ({ id: 'gw-1', sk: gsk })));
    const distinct = burstMs(fleet);
    return { gw, nd, oneGateway, distinct };
  };
  const nob = await measure(noblePairing, nobleSigner);
  const mcl = await measure(await mclPairing(), await mclSigner());
  const tls = await tls13Ms(runs);
  const pairingMs = median(pairingT);
  const r2 = (x: number): number => Number(x.toFixed(2));
  const f = {
    gateway_ms: r2(median(mcl.gw)),
    gateway_ms_noble: r2(median(nob.gw)),
    gateway_pairings: Number((median(mcl.gw) / pairingMs).toFixed(3)),
    node_ms: r2(median(mcl.nd)),
    node_ms_noble: r2(median(nob.nd)),
    pairing_ms: r2(pairingMs),
    tls13_ms: tls === null ? null : r2(tls),
    node_handshakes_per_s: Number((1000 / median(mcl.nd)).toFixed(1)),
    node_handshakes_per_s_noble: Number((1000 / median(nob.nd)).toFixed(1)),
    node_batch_ms: Number(mcl.oneGateway.toFixed(3)),
    node_batch_handshakes_per_s: Number((1000 / mcl.oneGateway).toFixed(1)),
    node_batch_handshakes_per_s_noble: Number((1000 / nob.oneGateway).toFixed(1)),
    node_batch_distinct_ms: Number(mcl.distinct.toFixed(3)),
    node_batch_distinct_handshakes_per_s: Number((1000 / mcl.distinct).toFixed(1)),
  };
  const row = (k: string, v: number | null, unit = 'ms'): string => `${k.padEnd(46)} ${v === null ? 'n/a' : v.toFixed(2).padStart(9)} ${unit}`;
  process.stdout.write(`Handshake cost per party, CPU time, median of ${runs} (bursts: median of 5 x ${burst})\n`);
  process.stdout.write(row('one pairing, noble (the unit)', f.pairing_ms) + '\n');
  process.stdout.write(row('gateway, mcl-wasm signer (M1 + M3)', f.gateway_ms) + `   ${f.gateway_pairings.toFixed(2)} x pairing\n`);
  process.stdout.write(row('gateway, noble signer', f.gateway_ms_noble) + `   ${(f.gateway_ms_noble / f.pairing_ms).toFixed(2)} x pairing; mcl ${(f.gateway_ms_noble / f.gateway_ms).toFixed(1)}x cheaper\n`);
  process.stdout.write(row('node, noble, one by one (M2 + verify M3)', f.node_ms_noble) + `   ${(f.node_ms_noble / f.pairing_ms).toFixed(2)} x pairing\n`);
  process.stdout.write(row('node, mcl-wasm, one by one', f.node_ms) + `   ${(f.node_ms_noble / f.node_ms).toFixed(2)}x cheaper than noble\n`);
  process.stdout.write(row('node, mcl, bursts from one gateway', f.node_batch_ms) + `   ${(f.node_ms / f.node_batch_ms).toFixed(2)}x cheaper than one by one\n`);
  process.stdout.write(row('node, mcl, bursts from 32 distinct gateways', f.node_batch_distinct_ms) + `   ${(f.node_ms / f.node_batch_distinct_ms).toFixed(2)}x cheaper than one by one\n`);
  process.stdout.write(row('TLS 1.3 ECDHE P-256, loopback (wall)', f.tls13_ms) + (f.tls13_ms ? `   node one by one / TLS = ${(f.node_ms / f.tls13_ms).toFixed(1)}x\n` : '\n'));
  process.stdout.write(row('node handshakes/s per core, noble', f.node_handshakes_per_s_noble, '/s') + '\n');
  process.stdout.write(row('node handshakes/s per core, mcl', f.node_handshakes_per_s, '/s') + '\n');
  process.stdout.write(row('node handshakes/s per core, batched, noble', f.node_batch_handshakes_per_s_noble, '/s') + '\n');
  process.stdout.write(row('node handshakes/s per core, batched, mcl', f.node_batch_handshakes_per_s, '/s') + '\n');
  process.stdout.write(row('  same, 32 distinct gateways per burst', f.node_batch_distinct_handshakes_per_s, '/s') + '\n');
  process.stdout.write(JSON.stringify(f) + '\n');
}
