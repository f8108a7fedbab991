/**
 * The crash drill: streams many readings from simulated MQTT devices through the whole local stack
 * while a driver kills the gateway and the chain node with SIGKILL at random moments and restarts
 * them, and freezes the chain (SIGSTOP/SIGCONT on anvil) for a while. Every choice comes from one
 * seed, printed at the start, so a failing run can be replayed. At the end everything is drained and
 * verified: every reading a device got a PUBACK for must be anchored exactly once.
 *
 * Used by test/crash.test.ts (short, in `npm test`), test/crash-long.test.ts (MCPS_LONG_TESTS=1:
 * 100 kills during 1,000,000 readings) and `mcps drill`.
 */
import { SeededRandom } from '../device-sim/random';
import { startStack, type Stack, type StackRole } from './stack';
import type { VerifyReport } from './verification';

export interface DrillOptions {
  data: string;
  seed: number;
  devices: number;
  readingsPerDevice: number;
  /** Unacknowledged readings per device at a time (default 50). */
  maxInflight?: number;
  /** Readings per second per device at most (default: as fast as acknowledged). */
  maxRatePerS?: number;
  kills: number;
  chainPauses: number;
  /** Longest chain freeze (default 5 s). */
  maxPauseMs?: number;
  /** Longest time a killed process stays down before its restart (default 1.5 s). */
  maxDowntimeMs?: number;
  log: (msg: string) => void;
  onChildLog?: (line: string) => void;
  /** Deploy the Anchor contract in trustless mode. */
  trustless?: boolean;
}

export interface DrillReport {
  seed: number;
  readings: number;
  acked: number;
  kills: { gateway: number; 'chain-node': number };
  chainPauses: number;
  durationS: number;
  verify: VerifyReport;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runCrashDrill(o: DrillOptions): Promise<DrillReport> {
  const rng = new SeededRandom(o.seed);
  const total = o.devices * o.readingsPerDevice;
  o.log(`crash drill: seed ${o.seed}, ${o.devices} devices x ${o.readingsPerDevice} readings = ${total}, ${o.kills} kills, ${o.chainPauses} chain pauses`);
  const started = Date.now();
  const stack: Stack = await startStack({
    data: o.data,
    editorPort: 0,
    mqttPort: 0,
    nodePort: 0,
    serial: false,
    ...(o.trustless ? { trustless: true } : {}),
    mqttDevices: o.devices,
    stream: { readingsPerDevice: o.readingsPerDevice, maxInflight: o.maxInflight ?? 50, maxRatePerS: o.maxRatePerS },
    onChildLog: o.onChildLog,
    log: o.log,
  });
  const kills = { gateway: 0, 'chain-node': 0 };
  let pauses = 0;
  try {
    let done = false;
    const finished = stack.simFinished().then(() => {
      done = true;
    });
    const t = (): string => `${((Date.now() - started) / 1000).toFixed(1)}s`;
    // Each event fires when the devices' acknowledged count passes a seeded random point of the
    // stream, so the events land inside the stream whatever the machine's speed.
    const events: Array<{ kind: 'kill' | 'pause'; at: number }> = [
      ...Array.from({ length: o.kills }, () => ({ kind: 'kill' as const, at: 0 })),
      ...Array.from({ length: o.chainPauses }, () => ({ kind: 'pause' as const, at: 0 })),
    ];
    for (const e of events) e.at = Math.floor((0.02 + 0.93 * rng.next()) * total);
    events.sort((x, y) => x.at - y.at);
    for (const { kind: ev, at } of events) {
      while (!done && stack.simStats().acked < at) await Promise.race([sleep(20), finished]);
      if (done) break;
      if (ev === 'pause') {
        const ms = Math.round(500 + rng.next() * ((o.maxPauseMs ?? 5000) - 500));
        o.log(`${t()} chain frozen for ${ms} ms (acked ${stack.simStats().acked})`);
        stack.pauseChain();
        await sleep(ms);
        stack.resumeChain();
        pauses++;
        continue;
      }
      const role: StackRole = rng.next() < 0.6 ? 'gateway' : 'chain-node';
      const down = Math.round(rng.next() * (o.maxDowntimeMs ?? 1500));
      o.log(`${t()} kill -9 ${role}, down ${down} ms (acked ${stack.simStats().acked})`);
      await stack.kill(role);
      kills[role]++;
      await sleep(down);
      await stack.restart(role);
    }
    if (kills.gateway + kills['chain-node'] + pauses < events.length) o.log(`${t()} the stream ended before ${events.length - kills.gateway - kills['chain-node'] - pauses} of the events`);
    o.log(`${t()} all events done; waiting for the devices to get every PUBACK`);
    await finished;
    o.log(`${t()} stream complete; draining`);
    const { sim } = await stack.drain();
    const verify = await stack.verify();
    return { seed: o.seed, readings: total, acked: sim.acked, kills, chainPauses: pauses, durationS: Math.round((Date.now() - started) / 1000), verify };
  } finally {
    await stack.stop();
  }
}
