/**
 * bench/ingest: how fast the gateway takes readings from MQTT devices with durability on, beside a
 * plain aedes broker (QoS 1, in-memory) and beside the same gateway with fsync off, in the same run.
 *
 * Each case streams the same number of QoS 1 messages (one reading each) from simulated devices
 * (mqtt.js, at most --inflight unacknowledged per device) and times:
 *   messages/s  until every PUBACK is back (for the gateway: every reading journaled and synced);
 *   readings/s  until every reading is also batched, sealed (Merkle root, encryption, BLS signature)
 *               and forwarded to the chain node with its receipt (anchored on a local anvil chain).
 * The gateway and the baseline broker each run in their own process; rss_mb is the gateway's peak.
 *
 *   npm run bench -- ingest [--messages N] [--devices N] [--inflight N]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../cli/stack';
import { startSimulator } from '../device-sim/simulator';

interface Args {
  messages: number;
  devices: number;
  inflight: number;
}

function parseArgs(args: string[]): Args {
  const out: Args = { messages: 40_000, devices: 8, inflight: 100 };
  for (let i = 0; i < args.length; i += 2) {
    const k = args[i]!.replace(/^--/, '');
    const v = Number(args[i + 1]);
    if (!(k in out) || !Number.isInteger(v) || v < 1) throw new Error(`bench ingest: bad option ${args[i]} ${args[i + 1] ?? ''} (use --messages N, --devices N, --inflight N)`);
    out[k as keyof Args] = v;
  }
  return out;
}

async function baselineAedes(a: Args): Promise<number> {
  const child = spawn(process.execPath, [join(__dirname, 'aedes-baseline.helpers.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('exit', (c) => reject(new Error(`baseline broker exited (${c})`)));
    });
    const dir = mkdtempSync(join(tmpdir(), 'mcps-bench-aedes-'));
    const per = Math.ceil(a.messages / a.devices);
    const sim = await startSimulator({
      serial: [],
      mqtt: Array.from({ length: a.devices }, (_, i) => ({ url: `mqtt://127.0.0.1:${port}`, deviceId: `dev-${i}`, password: 'x', patient: `p-${i}`, kind: 'heart_rate' as const, ratePerS: 1, seed: i, stream: { total: per, maxInflight: a.inflight } })),
      sendLogPath: join(dir, 'send-log.jsonl'),
    });
    const t0 = performance.now();
    await sim.finished();
    const s = (performance.now() - t0) / 1000;
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
    return (per * a.devices) / s;
  } finally {
    child.kill('SIGTERM');
  }
}

function peakRssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function gatewayCase(a: Args, fsync: boolean): Promise<{ messagesPerS: number; readingsPerS: number; rssMb: number; perCommit: number; anchored: number }> {
  const data = mkdtempSync(join(tmpdir(), 'mcps-bench-ingest-'));
  const per = Math.ceil(a.messages / a.devices);
  const stack = await startStack({ data, editorPort: 0, mqttPort: 0, nodePort: 0, serial: false, mqttDevices: a.devices, stream: { readingsPerDevice: per, maxInflight: a.inflight }, gateway: { storage: { fsync } } });
  try {
    const t0 = performance.now();
    await stack.simFinished();
    const acked = (performance.now() - t0) / 1000;
    const rssMb = peakRssMb(stack.gatewayPid());
    const { gateway } = await stack.drain();
    const all = (performance.now() - t0) / 1000;
    return { messagesPerS: (per * a.devices) / acked, readingsPerS: gateway.readingsAnchored / all, rssMb: Math.max(rssMb, peakRssMb(stack.gatewayPid())), perCommit: gateway.readingsIn / Math.max(1, gateway.journalCommits), anchored: gateway.readingsAnchored };
  } finally {
    await stack.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

export async function main(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  process.stdout.write(`ingest: ${a.messages} QoS 1 messages from ${a.devices} devices, ${a.inflight} in flight each\n`);
  const aedes = await baselineAedes(a);
  const on = await gatewayCase(a, true);
  const off = await gatewayCase(a, false);
  const row = (k: string, v: string, r: string): string => `${k.padEnd(44)} ${v.padStart(12)} ${r.padStart(10)}\n`;
  process.stdout.write(row('case', 'per second', 'x aedes'));
  process.stdout.write(row('aedes QoS 1 (in-memory, no auth): PUBACKs', aedes.toFixed(0), '1.00'));
  process.stdout.write(row('gateway, fsync on: PUBACKs (journaled)', on.messagesPerS.toFixed(0), (on.messagesPerS / aedes).toFixed(2)));
  process.stdout.write(row('gateway, fsync off: PUBACKs', off.messagesPerS.toFixed(0), (off.messagesPerS / aedes).toFixed(2)));
  process.stdout.write(row('gateway, fsync on: readings anchored', on.readingsPerS.toFixed(0), (on.readingsPerS / aedes).toFixed(2)));
  process.stdout.write(row('gateway, fsync off: readings anchored', off.readingsPerS.toFixed(0), (off.readingsPerS / aedes).toFixed(2)));
  process.stdout.write(`durability costs ${((1 - on.messagesPerS / off.messagesPerS) * 100).toFixed(0)}% of the PUBACK rate; ${on.perCommit.toFixed(1)} readings per fsync (group commit); gateway peak RSS ${on.rssMb} MB\n`);
  const f = {
    messages: a.messages,
    messages_per_s: Math.round(on.messagesPerS),
    readings_per_s: Math.round(on.readingsPerS),
    aedes_qos1_per_s: Math.round(aedes),
    no_fsync_messages_per_s: Math.round(off.messagesPerS),
    no_fsync_readings_per_s: Math.round(off.readingsPerS),
    ratio_to_aedes: Number((on.messagesPerS / aedes).toFixed(3)),
    readings_per_fsync: Number(on.perCommit.toFixed(1)),
    rss_mb: on.rssMb,
  };
  process.stdout.write(JSON.stringify(f) + '\n');
}
