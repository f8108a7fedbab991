/**
 * The two processes bench/under-attack starts beside itself:
 *   node      runs one chain node (chain-node/main.ts, default limits) from a config file and
 *             prints "READY <port>"; stops on SIGTERM.
 *   attacker  one process flooding the node from its own source address (127.0.0.2) with what the
 *             audit found an anonymous peer can send: M1 replays, forged M3s naming registered
 *             gateways (with valid G1 points, after completing its own M1/M2), oversized bodies,
 *             and garbage records to session ids it "sniffed" (read on stdin, one per line) or made
 *             up. Prints "READY", runs for the given seconds, then prints one JSON line of counts.
 *             The cheap kinds (replays, garbage records) are pipelined on 8 connections, as a real
 *             flooder would send them; the others go one request at a time on 16 more.
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import type { RegistryRecord } from '../protocol/handshake';
import { runChainNode } from '../chain-node/main';
import { attackerHandshake, validG1Point, type AttackerHandshake } from './attacker.helpers';

const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

async function runNode(configPath: string): Promise<void> {
  const cfg = JSON.parse(readFileSync(configPath, 'utf8')) as Parameters<typeof runChainNode>[0];
  const node = await runChainNode(cfg, () => undefined);
  process.stdout.write(`READY ${node.port}\n`);
  process.once('SIGTERM', () => {
    void node.stop().then(() => process.exit(0));
  });
}

type Kind = 'm1-replay' | 'fresh-m1' | 'forged-m3' | 'oversized' | 'garbage-record';

async function runAttacker(url: string, nodeJson: string, seconds: number, gatewayIds: string[], targetPerS: number): Promise<void> {
  const n = JSON.parse(nodeJson) as { id: string; epoch: number; blsPublicKey: string; x25519PublicKey: string };
  const node: RegistryRecord = { id: n.id, role: 'node', epoch: n.epoch, status: 'active', blsPublicKey: Buffer.from(n.blsPublicKey, 'hex'), x25519PublicKey: Buffer.from(n.x25519PublicKey, 'hex') };
  const u = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: 48 });
  const sids: string[] = [];
  createInterface({ input: process.stdin }).on('line', (l) => {
    const m = /^sid ([0-9a-f]{32})$/.exec(l.trim());
    if (m && !sids.includes(m[1]!)) sids.push(m[1]!);
    if (sids.length > 64) sids.shift();
  });
  const points = Array.from({ length: 16 }, () => validG1Point(random));
  const replayed = attackerHandshake(node, Date.now(), random).m1;
  const ready: Array<{ a: AttackerHandshake; handshake: string; m2: Buffer }> = [];
  const counts: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  let sent = 0;
  let failed = 0;

  const send = (path: string, body: Uint8Array | string, o: { declared?: number; fresh?: boolean } = {}): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve) => {
      const buf = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
      const req = request(
        { host: u.hostname, port: u.port, method: 'POST', path, localAddress: '127.0.0.2', agent: o.fresh ? false : agent, headers: { 'content-type': 'application/octet-stream', 'content-length': o.declared ?? buf.length } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (o.fresh) req.destroy();
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
          });
          res.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
        },
      );
      req.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
      if (o.declared !== undefined) req.write(buf); // the body never ends: the node must answer without it
      else req.end(buf);
    });

  const schedule: Kind[] = ['m1-replay', 'forged-m3', 'garbage-record', 'm1-replay', 'oversized', 'garbage-record', 'm1-replay', 'forged-m3', 'garbage-record', 'm1-replay'];
  let turn = 0;
  const msByKind: Record<string, number> = {};
  const one = async (): Promise<void> => {
    const t0 = performance.now();
    let kind = schedule[turn++ % schedule.length]!;
    if (kind === 'forged-m3' && ready.length === 0) kind = 'fresh-m1';
    let r: { status: number; body: Buffer };
    if (kind === 'm1-replay') r = await send('/v1/handshake/m1', replayed);
    else if (kind === 'fresh-m1') {
      const a = attackerHandshake(node, Date.now(), random);
      r = await send('/v1/handshake/m1', a.m1);
      if (r.status === 200) {
        const x = JSON.parse(r.body.toString()) as { handshake: string; m2: string };
        ready.push({ a, handshake: x.handshake, m2: Buffer.from(x.m2, 'base64') });
      }
    } else if (kind === 'forged-m3') {
      const h = ready.shift()!;
      const id = gatewayIds[turn % gatewayIds.length]!;
      const m3 = h.a.m3For(h.m2, id, 1, points[turn % points.length]!);
      r = await send('/v1/handshake/m3', JSON.stringify({ handshake: h.handshake, m3: Buffer.from(m3).toString('base64') }));
    } else if (kind === 'oversized') r = await send('/v1/handshake/m1', random(4096), { declared: 32 * 1024 * 1024, fresh: true });
    else {
      const sid = sids.length > 0 && turn % 2 === 0 ? sids[turn % sids.length]! : Buffer.from(random(16)).toString('hex');
      r = await send(`/v1/sessions/${sid}`, random(256));
    }
    sent++;
    if (r.status === 0) failed++;
    counts[kind] = (counts[kind] ?? 0) + 1;
    msByKind[kind] = (msByKind[kind] ?? 0) + performance.now() - t0;
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  };

  /**
   * The cheap part of the flood, as a real flooder sends it: HTTP/1.1 pipelining, a burst of
   * requests written at once on each connection (M1 replays and garbage records), answers counted.
   */
  const t0 = performance.now();
  const pipelined = async (until: number): Promise<void> => {
    const head = (path: string, n: number): string => `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${n}\r\n\r\n`;
    const burst = (): { buf: Buffer; n: number } => {
      const parts: Buffer[] = [];
      for (let i = 0; i < 16; i++) {
        if (i % 2 === 0) parts.push(Buffer.from(head('/v1/handshake/m1', replayed.length)), Buffer.from(replayed));
        else {
          const sid = sids.length > 0 && i % 4 === 1 ? sids[(turn + i) % sids.length]! : Buffer.from(random(16)).toString('hex');
          const body = random(256);
          parts.push(Buffer.from(head(`/v1/sessions/${sid}`, body.length)), Buffer.from(body));
        }
      }
      return { buf: Buffer.concat(parts), n: 16 };
    };
    while (performance.now() < until) {
      await new Promise<void>((resolve) => {
        const sock = connect({ host: u.hostname, port: Number(u.port), localAddress: '127.0.0.2' });
        let waiting = 0;
        let tail = '';
        const fire = (): void => {
          if (performance.now() >= until) return void sock.end();
          if (sent > (targetPerS * (performance.now() - t0)) / 1000) return void setTimeout(fire, 2); // hold the target rate
          const b = burst();
          waiting += b.n;
          sock.write(b.buf);
        };
        sock.on('connect', fire);
        sock.on('data', (d: Buffer) => {
          const text = tail + d.toString('latin1');
          const re = /HTTP\/1\.1 (\d{3})/g;
          let m: RegExpExecArray | null;
          let last = 0;
          while ((m = re.exec(text))) {
            statuses[m[1]!] = (statuses[m[1]!] ?? 0) + 1;
            counts['pipelined'] = (counts['pipelined'] ?? 0) + 1;
            sent++;
            waiting--;
            last = re.lastIndex;
          }
          tail = text.slice(Math.max(last, text.length - 16));
          if (waiting <= 0) fire();
        });
        sock.on('error', () => undefined);
        sock.on('close', () => resolve());
      });
    }
  };

  process.stdout.write('READY\n');
  const until = t0 + seconds * 1000;
  await Promise.all([
    ...Array.from({ length: 16 }, async () => {
      while (performance.now() < until) {
        if (sent > (targetPerS * (performance.now() - t0)) / 1000) await new Promise((r) => setTimeout(r, 2));
        else await one();
      }
    }),
    ...Array.from({ length: 8 }, () => pipelined(until)),
  ]);
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  process.stdout.write(`${JSON.stringify({ sent, failed, seconds: elapsed, requestsPerS: sent / elapsed, counts, statuses, meanMsByKind: Object.fromEntries(Object.entries(msByKind).map(([k, v]) => [k, Math.round(v / counts[k]!)])) })}\n`);
  process.exit(0);
}

if (require.main === module) {
  // Started with a stdin pipe by bench/under-attack: when that process ends (even killed), stdin
  // closes and this one ends too, so no node or attacker is left behind.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  const [role, ...rest] = process.argv.slice(2);
  const run = role === 'node' ? runNode(rest[0]!) : role === 'attacker' ? runAttacker(rest[0]!, rest[1]!, Number(rest[2]), rest[3]!.split(','), Number(rest[4] ?? Infinity)) : Promise.reject(new Error(`unknown role ${role}`));
  run.catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
