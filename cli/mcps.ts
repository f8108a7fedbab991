#!/usr/bin/env node
/**
 * `mcps`: the one command-line entry point of mcps-edge.
 *   mcps up [--duration S]        the whole local stack (chain, contracts, chain node, gateway, simulator)
 *   mcps gateway --config FILE    one gateway process
 *   mcps chain-node --config FILE one chain node process
 *   mcps verify [--data DIR]      compare what the simulator sent with what is anchored
 */
import { Command, InvalidArgumentError } from 'commander';

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${v}" is not a positive number`);
  return n;
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`"${v}" is not a TCP port (0..65535; 0 picks a free one)`);
  return n;
}

const program = new Command();
program
  .name('mcps')
  .description('mcps-edge: medical IoT edge gateway with blockchain-anchored, end-to-end verifiable readings')
  .showHelpAfterError();

program
  .command('up')
  .description('run the whole local stack: anvil chain, contracts, chain node, gateway (Node-RED + MQTT broker) and simulated devices; Ctrl-C stops it cleanly')
  .option('--duration <seconds>', 'stop by itself after this many seconds, drain, verify, and print a JSON summary as the last line', positiveNumber)
  .option('--data <dir>', 'data directory (keys, editor login, runs)', process.env.MCPS_DATA_DIR ?? '.mcps')
  .option('--editor-port <port>', 'Node-RED editor port on 127.0.0.1', port, 1880)
  .option('--mqtt-port <port>', 'MQTT broker port on 127.0.0.1', port, 1883)
  .option('--node-port <port>', 'chain node HTTP port on 127.0.0.1', port, 7545)
  .option('--no-status', 'no live status line (plain log lines instead)')
  .addHelpText('after', `
Exit code with --duration: 0 only if every reading the simulator sent is anchored exactly once
(missing = 0 and duplicates = 0). Ports 0 pick free ones. The editor login is written to
<data>/gateway/editor-credentials.json (mode 0600).`)
  .action(async (opts: { duration?: number; data: string; editorPort: number; mqttPort: number; nodePort: number; status: boolean }) => {
    const { runUp } = require('./up') as typeof import('./up');
    process.exitCode = await runUp(opts);
  });

program
  .command('gateway')
  .description('run one gateway (Node-RED with the mcps nodes, embedded MQTT broker, sealer and outbox)')
  .requiredOption('--config <file>', 'gateway configuration JSON (see docs/operations.md)')
  .action(async (opts: { config: string }) => {
    const { gatewayProcess } = require('./processes') as typeof import('./processes');
    await gatewayProcess(opts.config);
  });

program
  .command('chain-node')
  .description('run one chain node (batch ingest, ciphertext store, anchoring on the EVM chain)')
  .requiredOption('--config <file>', 'chain node configuration JSON (see docs/operations.md)')
  .action(async (opts: { config: string }) => {
    const { chainNodeProcess } = require('./processes') as typeof import('./processes');
    await chainNodeProcess(opts.config);
  });

program
  .command('verify')
  .description('compare the simulator\'s send log with what is anchored on chain and stored at the chain node; exit 0 only if nothing is missing or duplicated and every batch matches its on-chain root')
  .option('--data <dir>', 'data directory of the run to verify', process.env.MCPS_DATA_DIR ?? '.mcps')
  .action(async (opts: { data: string }) => {
    const { verifyCommand } = require('./verify') as typeof import('./verify');
    process.exitCode = await verifyCommand(opts.data);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`mcps: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
