/**
 * bench/footprint: does the gateway fit a Raspberry-Pi-class box? The whole local stack (anvil, the
 * chain node, the gateway as its own process) with 1000 simulated MQTT bedside devices at one
 * reading a second each (1000 readings/s), for a fixed time, sampling the gateway process every few
 * seconds: its CPU (user + system time over wall time, 1.0 = one core), its resident memory, and its
 * V8 heap in use (from its /metrics). Then a reconnect storm: every device's connection is cut at
 * once (a Wi-Fi drop, a switch reboot) and they all log in again together, while a few probe devices
 * that stay connected keep publishing and time their PUBACKs. Then everything is drained, anchored
 * and verified against the simulator's send log (missing, duplicates).
 *
 * Beside it, in the same run: a plain aedes broker in its own process (in-memory, no auth, no
 * journal) taking the same devices for a shorter while, so CPU and memory read as ratios too.
 *
 *   npm run bench -- footprint [--seconds N] [--devices N] [--probes N] [--sample S]
 *
 * --seconds is the steady phase (default 600: ten minutes); use --seconds 60 while developing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { GATEWAY_ID, startStack, type Stack } from '../cli/stack';
import { startSimulator } from '../device-sim/simulator';
import type { Scenario } from '../device-sim/scenario';
import { addDevices } from '../gateway/ingest/device-registry';
import { devicesPath } from '../gateway/main';

interface Args {
  seconds: number;
  devices: number;
  probes: number;
  sample: number;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { seconds: 600, devices: 1000, probes: 10, sample: 5 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!.replace(/^--/, '');
    const v = Number(argv[i + 1]);
    if (!(k in out) || !Number.isFinite(v) || v <= 0) throw new Error(`bench footprint: bad option ${argv[i]} ${argv[i + 1] ?? ''} (use --seconds N, --devices N, --probes N, --sample S)`);
    out[k as keyof Args] = v;
  }
  return out;
}

const CLK_TCK = 100; // Linux's USER_HZ on every architecture we run on (getconf CLK_TCK)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * CPU seconds (user + system) the process has used so far. Throws when the process has ended (a
 * gateway that died, e.g. out of heap, is a failed run, not one to wait for until the drain).
 */
function cpuSeconds(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    throw new Error(`the gateway (pid ${pid}) has exited`);
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z' || f[0] === 'X') throw new Error(`the gateway (pid ${pid}) has exited`);
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function heapUsedMb(metricsUrl: string | null): Promise<number> {
  if (!metricsUrl) return NaN;
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  return m ? Number(m[1]) / 1048576 : NaN;
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** Least-squares slope of y over x. */
function slope(pts: Array<[number, number]>): number {
  const n = pts.length;
  if (n < 2) return NaN;
  const mx = pts.reduce((a, p) => a + p[0], 0) / n;
  const my = pts.reduce((a, p) => a + p[1], 0) / n;
  const num = pts.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const den = pts.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

/**
 * Heap growth in MB/min: the heap in use saws up and down with every garbage collection, so the
 * floor of each window (what survived the collections in it) is what a leak raises. Slope of the
 * window floors over time.
 */
function heapGrowthMbPerMin(samples: Array<{ t: number; heapMb: number }>, windowS: number): number {
  if (samples.length < 2) return NaN;
  const t0 = samples[0]!.t;
  const floors = new Map<number, { t: number; v: number }>();
  for (const s of samples) {
    if (!Number.isFinite(s.heapMb)) continue;
    const w = Math.floor((s.t - t0) / windowS);
    const f = floors.get(w);
    if (!f || s.heapMb < f.v) floors.set(w, { t: s.t, v: s.heapMb });
  }
  return slope([...floors.values()].map((f) => [f.t / 60, f.v]));
}

/** Devices that stay connected through the storm and time their PUBACKs. */
async function startProbes(stack: Stack, n: number): Promise<{ latencies(since: number, until: number): number[]; stop(): Promise<number> }> {
  const gatewayDir = join(stack.data, 'gateway');
  const added = await addDevices(devicesPath(gatewayDir), Array.from({ length: n }, (_, i) => ({ id: `probe-${i}`, patient: `p-probe-${i}` })));
  // The gateway follows devices.json (inotify): wait until it lets the first probe in.
  const acks: Array<{ at: number; ms: number }> = [];
  const clients: mqtt.MqttClient[] = [];
  let sent = 0;
  for (const [i, d] of added.entries()) {
    const deadline = Date.now() + 120_000;
    let lastError = '';
    for (;;) {
      const c = mqtt.connect(`mqtt://127.0.0.1:${stack.mqttPort}`, { clientId: d.id, username: d.id, password: d.password!, reconnectPeriod: 0, connectTimeout: 30_000 });
      const ok = await new Promise<boolean>((resolve) => {
        c.once('connect', () => resolve(true));
        c.once('error', (err) => {
          lastError = err.message;
          resolve(false);
        });
        c.once('close', () => resolve(false));
      });
      if (ok) {
        c.options.reconnectPeriod = 500; // from now on it stays (or comes back) like a device
        c.on('error', () => undefined);
        clients.push(c);
        break;
      }
      await c.endAsync(true);
      if (Date.now() > deadline) throw new Error(`probe ${d.id} could not log in within 120 s (${lastError || 'connection closed'})`);
      await sleep(250);
    }
    let seq = 0;
    const timer = setInterval(() => {
      const t = performance.now();
      seq++;
      sent++;
      const payload = JSON.stringify({ v: 1, deviceId: d.id, patient: `p-probe-${i}`, seq, kind: 'heart_rate', value: 60 + (seq % 40), unit: '/min', time: Date.now() });
      clients[i]!.publish(`mcps/devices/${d.id}/readings`, payload, { qos: 1 }, (err) => {
        if (!err) acks.push({ at: Date.now(), ms: performance.now() - t });
      });
    }, 200);
    (clients[i] as mqtt.MqttClient & { probeTimer?: NodeJS.Timeout }).probeTimer = timer;
  }
  return {
    latencies: (since, until) => acks.filter((a) => a.at >= since && a.at <= until).map((a) => a.ms),
    stop: async () => {
      for (const c of clients) clearInterval((c as mqtt.MqttClient & { probeTimer?: NodeJS.Timeout }).probeTimer);
      await sleep(1000);
      await Promise.all(clients.map((c) => c.endAsync()));
      return sent;
    },
  };
}

/** The same devices against a plain aedes in its own process: its CPU and memory, for the ratios. */
async function baselineAedes(a: Args, seconds: number): Promise<{ cpu: number; rssMb: number }> {
  const child = spawn(process.execPath, [join(__dirname, 'aedes-baseline.helpers.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = mkdtempSync(join(tmpdir(), 'mcps-bench-footprint-aedes-'));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('exit', (c) => reject(new Error(`baseline broker exited (${c})`)));
    });
    const kinds = ['heart_rate', 'spo2', 'resp_rate'] as const;
    const sim = await startSimulator({
      serial: [],
      mqtt: Array.from({ length: a.devices }, (_, i) => ({ url: `mqtt://127.0.0.1:${port}`, deviceId: `dev-${i}`, password: 'x', patient: `p-${i}`, kind: kinds[i % 3]!, ratePerS: 1, seed: i })),
      sendLogPath: join(dir, 'send-log.jsonl'),
      connectConcurrency: 50,
    });
    await sleep(3000);
    const c0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const cpu = (cpuSeconds(child.pid!) - c0) / ((performance.now() - t0) / 1000);
    const rssMb = statusMb(child.pid!, 'VmHWM');
    await sim.stop();
    return { cpu, rssMb };
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  process.stdout.write(`footprint: ${a.devices} MQTT devices at 1 reading/s against the gateway for ${a.seconds} s, then a reconnect storm; ${a.probes} probe devices time PUBACKs\n`);

  const base = await baselineAedes(a, Math.min(30, a.seconds));
  process.stdout.write(`aedes baseline: ${base.cpu.toFixed(3)} cores, peak RSS ${base.rssMb.toFixed(0)} MB\n`);

  const data = mkdtempSync(join(tmpdir(), 'mcps-bench-footprint-'));
  // The devices of device-sim/scenarios/stress-1000.json (ECG, SpO2, respiration: 2:2:1), scaled to --devices.
  const per = Math.floor(a.devices / 5);
  const groups: Scenario['devices'] = [
    { transport: 'mqtt', kind: 'heart_rate', count: 2 * per, ratePerS: 1, idPrefix: 'ecg-', patientPrefix: 'p-' },
    { transport: 'mqtt', kind: 'spo2', count: 2 * per, ratePerS: 1, idPrefix: 'spo2-', patientPrefix: 'p-' },
    { transport: 'mqtt', kind: 'resp_rate', count: a.devices - 4 * per, ratePerS: 1, idPrefix: 'resp-', patientPrefix: 'p-' },
  ];
  const scenario: Scenario = { name: 'footprint', seed: 1000, devices: groups.filter((g) => (g.count ?? 0) > 0) };
  let pid = 0;
  let cpuAtStart = 0;
  let tStart = 0;
  // The last child log lines, printed if the run fails; the gateway's errors at once.
  const childLog: string[] = [];
  const onChildLog = (line: string): void => {
    childLog.push(line);
    if (childLog.length > 200) childLog.shift();
    if (/"level":(50|60)|^\[gateway\]/.test(line)) process.stderr.write(`${line}\n`);
  };
  const stack = await startStack({
    data,
    editorPort: 0,
    mqttPort: 0,
    nodePort: 0,
    serial: false,
    scenario,
    onChildLog,
    connectConcurrency: 50,
    onGatewayStarted: (p) => {
      pid = p;
      cpuAtStart = cpuSeconds(p);
      tStart = performance.now();
    },
  }).catch((err: unknown) => {
    process.stderr.write(`the last child log lines:\n${childLog.join('\n')}\n`);
    rmSync(data, { recursive: true, force: true });
    throw err;
  });
  try {
    // Cold start: the gateway's first logins of every device (one scrypt each, nothing cached yet),
    // 50 devices at a time.
    const coldLoginCpu = cpuSeconds(pid) - cpuAtStart;
    const coldLoginWall = (performance.now() - tStart) / 1000;
    // The gateway sets its own heap cap (memory.heapMB, default 128: cli/heap-cap.ts); say which it runs under.
    const cap = /--max-old-space-size=(\d+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
    process.stdout.write(`gateway pid ${pid}, V8 heap cap ${cap ? `${cap[1]} MB` : 'none (Node default)'}\n`);
    const probes = await startProbes(stack, a.probes);
    await sleep(15_000); // every device in its 1 s cycle, batches flowing

    // Steady state.
    const samples: Array<{ t: number; cpu: number; rssMb: number; heapMb: number; acked: number }> = [];
    const sample = async (): Promise<void> => {
      samples.push({ t: performance.now() / 1000, cpu: cpuSeconds(pid), rssMb: statusMb(pid, 'VmRSS'), heapMb: await heapUsedMb(stack.gatewayMetricsUrl).catch(() => NaN), acked: stack.simStats().acked });
    };
    const steadyEnd = performance.now() + a.seconds * 1000;
    await sample();
    let lastReport = performance.now();
    while (performance.now() < steadyEnd) {
      await sleep(Math.min(a.sample * 1000, Math.max(0, steadyEnd - performance.now())));
      await sample();
      if (performance.now() - lastReport > 60_000) {
        lastReport = performance.now();
        const s = samples[samples.length - 1]!;
        process.stdout.write(`  ${Math.round(s.t - samples[0]!.t)} s: rss ${s.rssMb.toFixed(0)} MB, heap ${s.heapMb.toFixed(1)} MB\n`);
      }
    }
    const first = samples[0]!;
    const last = samples[samples.length - 1]!;
    const steadyWall = last.t - first.t;
    const cpuFraction = (last.cpu - first.cpu) / steadyWall;
    const readingsPerS = (last.acked - first.acked) / steadyWall;
    const rssP50 = quantile(samples.map((s) => s.rssMb), 0.5);
    const heapGrowth = heapGrowthMbPerMin(samples, Math.max(10, a.seconds / 10));
    const steadyLat = probes.latencies(Date.now() - 10_000, Date.now());

    // Reconnect storm: every device's connection cut at once; they all log in again together.
    const stormCpu0 = cpuSeconds(pid);
    const stormT0 = performance.now();
    const stormFrom = Date.now();
    const cut = stack.cutSimConnections();
    await sleep(200);
    const stormDeadline = Date.now() + 300_000;
    while (stack.simConnections().connected < cut && Date.now() < stormDeadline) {
      await sleep(100);
      cpuSeconds(pid); // throws if the gateway died meanwhile
    }
    const stormWall = (performance.now() - stormT0) / 1000;
    const reconnected = stack.simConnections().connected;
    const stormCpu = cpuSeconds(pid) - stormCpu0;
    // What the storm added over the steady load (which goes on meanwhile).
    const loginCpu = Math.max(0, stormCpu - cpuFraction * stormWall);
    await sleep(3000);
    const stormLat = probes.latencies(stormFrom, Date.now());
    const peakRss = statusMb(pid, 'VmHWM');

    const probeSent = await probes.stop();
    const { gateway, drained } = await stack.drain();
    const report = await stack.verify();

    const row = (k: string, v: string, r = ''): string => `${k.padEnd(58)} ${v.padStart(12)} ${r.padStart(10)}\n`;
    const f1 = (x: number): string => x.toFixed(1);
    process.stdout.write(row('figure', 'gateway', 'x aedes'));
    process.stdout.write(row(`readings/s sustained (${a.devices} devices)`, f1(readingsPerS)));
    process.stdout.write(row('CPU at steady state (cores)', cpuFraction.toFixed(3), (cpuFraction / base.cpu).toFixed(1)));
    process.stdout.write(row('RSS p50 / max (MB)', `${rssP50.toFixed(0)} / ${peakRss.toFixed(0)}`, (peakRss / base.rssMb).toFixed(1)));
    process.stdout.write(row('V8 heap in use: growth (MB/min, floor of each window)', heapGrowth.toFixed(2)));
    process.stdout.write(row(`cold start: first logins of ${a.devices} devices (CPU s / wall s)`, `${f1(coldLoginCpu)} / ${f1(coldLoginWall)}`));
    process.stdout.write(row(`reconnect storm: ${reconnected}/${cut} back, CPU s added / wall s`, `${f1(loginCpu)} / ${f1(stormWall)}`));
    process.stdout.write(row(`probe PUBACK ms p50/p99/max, steady (${steadyLat.length})`, `${f1(quantile(steadyLat, 0.5))}/${f1(quantile(steadyLat, 0.99))}/${f1(Math.max(...steadyLat))}`));
    process.stdout.write(row(`probe PUBACK ms p50/p99/max, during the storm (${stormLat.length})`, `${f1(quantile(stormLat, 0.5))}/${f1(quantile(stormLat, 0.99))}/${f1(Math.max(...stormLat))}`));
    process.stdout.write(row('aedes baseline (same devices): CPU cores / peak RSS MB', `${base.cpu.toFixed(3)} / ${base.rssMb.toFixed(0)}`));
    process.stdout.write(row('verified: sent / anchored / missing / duplicates', `${report.sent} / ${report.anchored} / ${report.missing} / ${report.duplicates}`));
    process.stdout.write(`gateway ${GATEWAY_ID}: ${gateway.readingsIn} readings journaled, ${gateway.batchesAnchored} batches anchored, drained ${drained}; ${probeSent} probe readings (anchored, outside the send log: ${report.unexpected}); proof failures ${report.proofFailures}\n`);
    process.stdout.write('goals: rss max <= 160 MB, heap growth < 0.5 MB/min, cpu <= 0.1, login_cpu_s <= 5, missing = duplicates = 0\n');
    const out = {
      devices: a.devices,
      readings_per_s: Number(f1(readingsPerS)),
      gateway_cpu_fraction: Number(cpuFraction.toFixed(3)),
      gateway_rss_mb_p50: Math.round(rssP50),
      gateway_rss_mb_max: Math.round(peakRss),
      heap_used_growth_mb_per_min: Number(heapGrowth.toFixed(2)),
      login_cpu_s: Number(f1(loginCpu)),
      missing: report.missing,
      duplicates: report.duplicates,
    };
    process.stdout.write(JSON.stringify(out) + '\n');
  } catch (err) {
    process.stderr.write(`the last child log lines:\n${childLog.join('\n')}\n`);
    throw err;
  } finally {
    await stack.stop();
    rmSync(data, { recursive: true, force: true });
  }
}
