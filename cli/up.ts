/**
 * `mcps up`: the whole local stack from one command (cli/stack.ts starts it), a live status line,
 * and a clean stop on Ctrl-C or after --duration: devices off, the gateway drained, everything
 * verified end to end, every child stopped, and a JSON summary as the last line of stdout.
 */
import { createLogger, logFn, prettyChildLine } from '../common/log';
import { devicesPath } from '../gateway/main';
import { join } from 'node:path';
import { startStack, type Stack } from './stack';
import { formatStatus, StatusLine } from './status-line';
import type { Scenario } from '../device-sim/scenario';
import type { Recording } from '../device-sim/recording';
import { formatProgress } from './progress';
import { anchorGas } from './anchor-gas';
import { EXIT_NOT_DRAINED } from './shutdown';
import { resolve } from 'node:path';

export { loadOrCreateOwnerKey } from './stack';

export interface UpOptions {
  duration?: number;
  data: string;
  editorPort: number;
  mqttPort: number;
  nodePort: number;
  /** Monitoring listeners; 0 (the default) picks free ports, logged at start. */
  gatewayMetricsPort?: number;
  nodeMetricsPort?: number;
  status: boolean;
  /** A scenario file's devices instead of the built-in set. */
  scenario?: Scenario;
  /** Play a recording instead of simulating devices; stops when it has been played. */
  replay?: { recording: Recording; speed: number | 'max' };
  /** Record what the gateway receives to this JSONL file (for `mcps sim replay`). */
  record?: string;
  /** How long the gateway may drain at the stop, in seconds (default 30 after a signal, 600 at the end of --duration or a replay). */
  drainTimeout?: number;
  /** TLS on every listener (CA at <data>/tls/ca.pem). */
  tls?: boolean;
  /** Trustless anchoring: the Anchor contract verifies the gateways' signatures on chain. */
  trustless?: boolean;
}

export async function runUp(opts: UpOptions): Promise<number> {
  // JSON lines like every process, pretty on a terminal (the children's lines too).
  const tty = process.stderr.isTTY === true;
  const log = logFn(createLogger('up', { destination: 2, pretty: tty }));
  const childLine = tty ? prettyChildLine() : (line: string): string => line;
  const status = new StatusLine(process.stdout, opts.status);
  let stopRequested: () => void = () => undefined;
  const stopSignal = new Promise<void>((r) => (stopRequested = r));
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) {
      log('warn', 'second interrupt: stopping without draining');
      process.exit(130);
    }
    interrupted = true;
    status.clear();
    log('info', 'stopping: devices off, draining the gateway, then verifying (Ctrl-C again to force)');
    stopRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let stack: Stack | null = null;
  try {
    stack = await startStack({
      data: opts.data,
      editorPort: opts.editorPort,
      mqttPort: opts.mqttPort,
      nodePort: opts.nodePort,
      gatewayMetricsPort: opts.gatewayMetricsPort,
      nodeMetricsPort: opts.nodeMetricsPort,
      scenario: opts.scenario,
      ...(opts.tls ? { tls: true } : {}),
      ...(opts.trustless ? { trustless: true } : {}),
      ...(opts.replay ? { replay: opts.replay } : {}),
      ...(opts.record ? { gateway: { record: { path: resolve(opts.record) } } } : {}),
      log: (m) => log('info', m),
      onChildLog: (line) => {
        status.clear();
        process.stderr.write(childLine(line) + '\n');
      },
    });
    const s = stack;
    log('info', `Node-RED editor: ${s.editorUrl} (user and password in ${s.editorCredentialsPath})`);
    if (s.caPath) log('info', `TLS on every listener; clients trust the CA ${s.caPath} (e.g. mosquitto_sub --cafile ${s.caPath} …, curl --cacert ${s.caPath} …)`, { event: 'tls', ca: s.caPath });
    log('info', `MQTT broker: ${s.mqttUrl} (device logins: ${devicesPath(join(s.data, 'gateway'))}); chain node: ${s.nodeUrl}; data: ${s.data}`);
    log('info', `metrics: gateway ${s.gatewayMetricsUrl ?? '-'}/metrics, chain node ${s.nodeMetricsUrl ?? '-'}/metrics (health: /healthz and /readyz at the same bases)`, { event: 'metrics', gatewayMetricsUrl: s.gatewayMetricsUrl, nodeMetricsUrl: s.nodeMetricsUrl });
    if (interrupted) stopRequested();
    const line = (): string => {
      const sim = s.simStats();
      const st = formatStatus(s.gatewayMetrics(), sim.acked);
      return sim.progress ? `${formatProgress(sim.progress, Date.now(), status.isTTY)} | ${st}` : st;
    };
    const ticker = setInterval(() => status.update(line()), 250);
    const timer = opts.duration ? setTimeout(() => stopRequested(), opts.duration * 1000) : null;
    if (opts.replay) {
      void s.simFinished().then(() => {
        status.update(line());
        stopRequested();
      });
    }
    await stopSignal;
    if (timer) clearTimeout(timer);
    // Stopped by a signal: drain for --drain-timeout (default 30 s). Ended by --duration or the end of
    // a replay: the same option, or up to 10 minutes for a backlog to go out.
    const drainS = opts.drainTimeout ?? (interrupted ? 30 : 600);
    const drained = await s.drain(drainS * 1000);
    if (!drained.drained) log('warn', `the gateway did not drain within ${drainS} s (${drained.gateway.journalUnsealed} readings unsealed, ${drained.gateway.outboxPending} batches unsent): verifying what is anchored`);
    clearInterval(ticker);
    status.update(formatStatus(drained.gateway, drained.sim.acked));
    status.clear();
    const report = await s.verify();
    for (const p of report.problems.slice(0, 20)) log('warn', p);
    // Sharing, as a data user would from a second terminal (README, "Sharing data").
    const share = await s.share().catch((err: unknown) => {
      log('warn', `sharing exercise failed: ${(err as Error).message}`);
      return { error: (err as Error).message, verified: false } as const;
    });
    // What anchoring cost, from the chain (before it stops with the stack).
    const gas = await anchorGas(s.rpcUrl, s.deployment.anchor, s.deployment.deployBlock).catch((err: unknown) => {
      log('warn', `could not read the anchor transactions' gas: ${(err as Error).message}`);
      return null;
    });
    await s.stop();
    const summary = {
      sent: report.sent,
      received: drained.gateway.readingsIn,
      anchored: report.anchored,
      batches: report.batches,
      missing: report.missing,
      duplicates: report.duplicates,
      proof_failures: report.proofFailures,
      rejected: drained.gateway.readingsRejected,
      ...(drained.sim.progress ? { replayed: drained.sim.progress.done, of: drained.sim.progress.total } : {}),
      ...(Object.keys(drained.sim.faults).length > 0 ? { refused_as_expected: report.refusedAsExpected, faults_injected: drained.sim.faults } : {}),
      last_tx: drained.gateway.lastTx,
      ...(gas ? { anchor_txs: gas.txs, batches_per_anchor_tx: gas.batchesPerTx, batches_per_gateway_group: gas.batchesPerGroup, anchor_gas_per_reading: report.anchored > 0 ? Number((gas.gas / report.anchored).toFixed(2)) : null } : {}),
      share,
    };
    process.stdout.write(JSON.stringify({ ...summary, drained: drained.drained }) + '\n');
    if (!drained.drained) return EXIT_NOT_DRAINED;
    return summary.missing === 0 && summary.duplicates === 0 && summary.proof_failures === 0 && share.verified ? 0 : 1;
  } catch (err) {
    status.clear();
    log('error', (err as Error).message);
    await stack?.stop();
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
