/**
 * bench/ward-view: what the live ward view costs the gateway. The local stack with 100 beds of
 * simulated MQTT devices (heart rate and SpO2 at 4 readings/s, respiration at 2/s: 1000 readings/s),
 * the gateway as its own process; its CPU (user + system over wall time, 1.0 = one core) and
 * resident memory are sampled
 *   1. with no view open (the baseline, beside it in the same run),
 *   2. with the view open in headless Chromium (Debian's chromium, playwright-core), signed in and
 *      polling once a second, `--browsers N` of them,
 *   3. with no view again (the baseline's second half: load drift on a shared machine shows here).
 * Also the size of one /ward/state answer and the readings/s sustained in each phase.
 *
 *   npm run bench -- ward-view [--seconds N] [--browsers N]
 *
 * --seconds is each phase's length (default 60).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startStack } from '../cli/stack';
import type { Scenario } from '../device-sim/scenario';

const CLK_TCK = 100; // Linux's USER_HZ (getconf CLK_TCK)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function main(argv: string[]): Promise<void> {
  const a = { seconds: 60, browsers: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!.replace(/^--/, '');
    const v = Number(argv[i + 1]);
    if (!(k in a) || !Number.isFinite(v) || v <= 0) throw new Error(`bench ward-view: bad option ${argv[i]} (use --seconds N, --browsers N)`);
    a[k as keyof typeof a] = v;
  }
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const scenario: Scenario = {
    name: 'ward-view bench',
    seed: 15,
    devices: [
      { transport: 'mqtt', kind: 'heart_rate', count: 100, ratePerS: 4, idPrefix: 'ecg-', patientPrefix: 'p-' },
      { transport: 'mqtt', kind: 'spo2', count: 100, ratePerS: 4, idPrefix: 'spo2-', patientPrefix: 'p-' },
      { transport: 'mqtt', kind: 'resp_rate', count: 100, ratePerS: 2, idPrefix: 'resp-', patientPrefix: 'p-' },
    ],
  };
  process.stdout.write(`ward-view: 100 beds, 300 MQTT devices, 1000 readings/s; phases of ${a.seconds} s: no view, ${a.browsers} browser(s) on /ward, no view\n`);
  const data = mkdtempSync(join(tmpdir(), 'mcps-bench-ward-'));
  let pid = 0;
  const stack = await startStack({ data, editorPort: 0, mqttPort: 0, nodePort: 0, serial: false, scenario, connectConcurrency: 10, onGatewayStarted: (p) => (pid = p) });
  try {
    await sleep(15_000); // every device in its cycle, batches flowing
    const phase = async (name: string): Promise<{ name: string; cpu: number; rss: number; rssMax: number; perS: number }> => {
      const c0 = cpuSeconds(pid);
      const a0 = stack.simStats().acked;
      const t0 = performance.now();
      const rss: number[] = [];
      const end = t0 + a.seconds * 1000;
      while (performance.now() < end) {
        await sleep(Math.min(2000, Math.max(0, end - performance.now())));
        rss.push(rssMb(pid));
      }
      const wall = (performance.now() - t0) / 1000;
      const r = { name, cpu: (cpuSeconds(pid) - c0) / wall, rss: rss.sort((x, y) => x - y)[Math.floor(rss.length / 2)]!, rssMax: Math.max(...rss), perS: (stack.simStats().acked - a0) / wall };
      process.stdout.write(`  ${name}: ${r.cpu.toFixed(3)} cores, RSS ${r.rss.toFixed(0)} MB, ${r.perS.toFixed(0)} readings/s\n`);
      return r;
    };
    const before = await phase('no view');

    const login = JSON.parse(readFileSync(stack.editorCredentialsPath, 'utf8')) as { username: string; password: string };
    const tok = (await (await fetch(`${stack.editorUrl}auth/token`, { method: 'POST', body: new URLSearchParams({ client_id: 'node-red-editor', grant_type: 'password', scope: '', username: login.username, password: login.password }) })).json()) as { access_token: string };
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    let open: Awaited<ReturnType<typeof phase>>;
    let stateBytes = 0;
    let stateMs = 0;
    let stateGzipBytes = 0;
    try {
      for (let i = 0; i < a.browsers; i++) {
        const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
        await page.goto(`${stack.editorUrl}ward`);
        await page.fill('#user', login.username);
        await page.fill('#pass', login.password);
        await page.click('#login button');
        await page.waitForFunction(() => document.querySelectorAll('section[data-bed]').length >= 100, undefined, { timeout: 120_000 });
      }
      const t = performance.now();
      const body = await (await fetch(`${stack.editorUrl}ward/state`, { headers: { authorization: `Bearer ${tok.access_token}` } })).text();
      stateMs = performance.now() - t;
      stateBytes = Buffer.byteLength(body);
      stateGzipBytes = gzipSync(body, { level: 6 }).length;
      open = await phase(`${a.browsers} browser(s) on /ward`);
    } finally {
      await browser.close();
    }
    const after = await phase('no view again');

    const base = { cpu: (before.cpu + after.cpu) / 2, rss: (before.rss + after.rss) / 2 };
    const row = (k: string, v: string, r = ''): string => `${k.padEnd(44)} ${v.padStart(12)} ${r.padStart(12)}\n`;
    process.stdout.write(row('figure', 'view open', 'x no view'));
    process.stdout.write(row('gateway CPU (cores)', open.cpu.toFixed(3), (open.cpu / base.cpu).toFixed(2)));
    process.stdout.write(row('gateway RSS p50 (MB)', open.rss.toFixed(0), (open.rss / base.rss).toFixed(2)));
    process.stdout.write(row('gateway RSS max (MB)', open.rssMax.toFixed(0)));
    process.stdout.write(row('readings/s sustained', open.perS.toFixed(0), (open.perS / ((before.perS + after.perS) / 2)).toFixed(2)));
    process.stdout.write(row('no view: CPU before / after (cores)', `${before.cpu.toFixed(3)} / ${after.cpu.toFixed(3)}`));
    process.stdout.write(row('one /ward/state answer (kB, gzip kB, ms)', `${(stateBytes / 1024).toFixed(1)} / ${(stateGzipBytes / 1024).toFixed(1)} / ${stateMs.toFixed(0)}`));
    process.stdout.write(
      JSON.stringify({
        beds: 100,
        readings_per_s: Math.round(open.perS),
        browsers: a.browsers,
        cpu_cores_no_view: Number(base.cpu.toFixed(3)),
        cpu_cores_view: Number(open.cpu.toFixed(3)),
        cpu_ratio: Number((open.cpu / base.cpu).toFixed(2)),
        rss_mb_no_view: Math.round(base.rss),
        rss_mb_view: Math.round(open.rss),
        rss_ratio: Number((open.rss / base.rss).toFixed(2)),
        state_kb: Number((stateBytes / 1024).toFixed(1)),
        state_gzip_kb: Number((stateGzipBytes / 1024).toFixed(1)),
      }) + '\n',
    );
  } finally {
    await stack.stop();
    rmSync(data, { recursive: true, force: true });
  }
}
