/**
 * bench/sim: can one simulator process drive a hospital's worth of devices? 1000 simulated MQTT
 * bedside devices (own connection, login, last will, QoS 1, seeded physiology) at their real-time
 * rate of one reading a second each, against a plain aedes broker in its own process; beside it, in
 * the same run, the same message rate from one bare mqtt.js client (no per-device work), to show what
 * simulating devices costs. Figures: messages/s sustained and the simulator process's CPU (user +
 * system time over wall time, 1.0 = one core).
 *
 *   npm run bench -- sim [--devices N] [--seconds S]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startSimulator } from '../device-sim/simulator';
import type { ReadingKind } from '../protocol/reading';

async function broker(): Promise<{ port: number; stop(): void }> {
  const child = spawn(process.execPath, [join(__dirname, 'aedes-baseline.helpers.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (c) => reject(new Error(`broker exited (${c})`)));
  });
  return { port, stop: () => child.kill('SIGTERM') };
}

/** CPU fraction and messages/s of `run` over `seconds`, measured after `warmup`. */
async function measure(seconds: number, acked: () => number): Promise<{ perS: number; cpu: number }> {
  const a0 = acked();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { perS: (acked() - a0) / wall, cpu: (c.user + c.system) / 1e6 / wall };
}

export async function main(argv: string[]): Promise<void> {
  const opt = (name: string, def: number): number => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(argv[i + 1]) : def;
    if (!Number.isFinite(v) || v <= 0) throw new Error(`bench sim: --${name} needs a positive number`);
    return v;
  };
  const devices = opt('devices', 1000);
  const seconds = opt('seconds', 30);
  const b = await broker();
  const dir = mkdtempSync(join(tmpdir(), 'mcps-bench-sim-'));
  try {
    const kinds: ReadingKind[] = ['heart_rate', 'spo2', 'resp_rate', 'body_temp'];
    const tConnect = performance.now();
    const sim = await startSimulator({
      serial: [],
      mqtt: Array.from({ length: devices }, (_, i) => ({ url: `mqtt://127.0.0.1:${b.port}`, deviceId: `dev-${i}`, password: 'x', patient: `p-${i}`, kind: kinds[i % kinds.length]!, ratePerS: 1, seed: i, scenario: 'normal' as const })),
      sendLogPath: join(dir, 'send-log.jsonl'),
    });
    const connectS = (performance.now() - tConnect) / 1000;
    await new Promise((r) => setTimeout(r, 3000)); // every device has started its 1 s cycle
    const simFig = await measure(seconds, () => sim.stats().acked);
    await sim.stop();

    // The same rate from one bare client: QoS 1 publishes of a similar payload, no per-device state.
    const client = mqtt.connect(`mqtt://127.0.0.1:${b.port}`, { clientId: 'bare', reconnectPeriod: 0 });
    await new Promise<void>((r) => client.once('connect', () => r()));
    let bareAcked = 0;
    let seq = 0;
    const tick = setInterval(() => {
      for (let i = 0; i < devices / 100; i++) {
        seq++;
        client.publish('mcps/devices/bare/readings', JSON.stringify({ v: 1, deviceId: 'bare', patient: 'p-1', seq, kind: 'heart_rate', value: 72, unit: '/min', time: Date.now() }), { qos: 1 }, () => bareAcked++);
      }
    }, 10);
    await new Promise((r) => setTimeout(r, 1000));
    const bareFig = await measure(seconds, () => bareAcked);
    clearInterval(tick);
    await client.endAsync();

    const row = (k: string, a: string, c: string): string => `${k.padEnd(46)} ${a.padStart(12)} ${c.padStart(10)}\n`;
    process.stdout.write(`sim: ${devices} devices at 1 reading/s each for ${seconds} s (connected in ${connectS.toFixed(1)} s)\n`);
    process.stdout.write(row('case', 'messages/s', 'CPU (cores)'));
    process.stdout.write(row(`${devices} simulated devices (one process)`, simFig.perS.toFixed(0), simFig.cpu.toFixed(3)));
    process.stdout.write(row('one bare client, same rate (baseline)', bareFig.perS.toFixed(0), bareFig.cpu.toFixed(3)));
    process.stdout.write(`simulating devices costs ${(simFig.cpu / bareFig.cpu).toFixed(2)}x the CPU of bare publishing at the same rate; goal: ${devices} devices in under one core\n`);
    process.stdout.write(
      JSON.stringify({ devices, seconds, messages_per_s: Math.round(simFig.perS), cpu_fraction: Number(simFig.cpu.toFixed(3)), bare_messages_per_s: Math.round(bareFig.perS), bare_cpu_fraction: Number(bareFig.cpu.toFixed(3)), cpu_ratio_to_bare: Number((simFig.cpu / bareFig.cpu).toFixed(2)), connect_s: Number(connectS.toFixed(1)) }) + '\n',
    );
  } finally {
    b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
