#!/usr/bin/env node
/**
 * `mcps`: the one command-line entry point of mcps-edge.
 *   mcps up [--duration S]        the whole local stack (chain, contracts, chain node, gateway, simulator)
 *   mcps gateway --config FILE    one gateway process
 *   mcps chain-node --config FILE one chain node process
 *   mcps verify [--data DIR]      compare what the simulator sent with what is anchored
 *   mcps drill [options]          the crash drill: SIGKILLs during a stream, then verify
 *   mcps admin ...                registry administration (cli/admin/)
 *   mcps devices ...              a gateway's MQTT devices and HL7 monitors
 *   mcps gateway|chain-node|user identity   a party's public identity file for registration
 *   mcps tls ...                  a CA and certificates for TLS on every listener
 *   mcps gateway|chain-node init  a box's config from the deployment file (docs/onboarding.md)
 *   mcps owner init               a hospital's owner and patient tag keys
 *   mcps data grant|revoke|fetch|verify|audit   sharing with data users (docs/sharing.md)
 *   mcps owner serve --config FILE   the hospital's key service
 */
import { Command, InvalidArgumentError, Option } from 'commander';

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${v}" is not a positive number`);
  return n;
}

function nonNegativeNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`"${v}" is not a number of seconds`);
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
  .showHelpAfterError()
  // Options after a subcommand belong to it (`mcps gateway identity --config F` vs `mcps gateway --config F`).
  .enablePositionalOptions();

program
  .command('up')
  .description('run the whole local stack: anvil chain, contracts, chain node, gateway (Node-RED + MQTT broker) and simulated devices; Ctrl-C stops it cleanly')
  .option('--duration <seconds>', 'stop by itself after this many seconds, drain, verify, and print a JSON summary as the last line', positiveNumber)
  .option('--data <dir>', 'data directory (keys, editor login, runs)', process.env.MCPS_DATA_DIR ?? '.mcps')
  .option('--editor-port <port>', 'Node-RED editor port on 127.0.0.1', port, 1880)
  .option('--mqtt-port <port>', 'MQTT broker port on 127.0.0.1', port, 1883)
  .option('--node-port <port>', 'chain node HTTP port on 127.0.0.1', port, 7545)
  .option('--gateway-metrics-port <port>', "gateway's Prometheus /metrics, /healthz and /readyz on 127.0.0.1 (0: a free port, logged)", port, 0)
  .option('--node-metrics-port <port>', "chain node's Prometheus /metrics, /healthz and /readyz on 127.0.0.1 (0: a free port, logged)", port, 0)
  .option('--no-status', 'no live status line (plain log lines instead)')
  .option('--scenario <file|name>', 'simulated devices from a scenario file instead of the built-in set (see mcps sim --help)')
  .option('--record <file>', 'record what the gateway receives (serial bytes, MQTT messages, with times) to this JSONL file, for mcps sim replay')
  .option('--drain-timeout <seconds>', 'how long the gateway may drain at the stop (default: 30 after Ctrl-C or SIGTERM, 600 at the end of --duration)', nonNegativeNumber)
  .option('--trustless', "trustless anchoring: deploy the Anchor contract so it verifies every gateway's signature over its batch headers on chain (docs/contracts.md)")
  .option('--tls', 'TLS on every listener: mqtts, HTTPS editor, chain node and metrics, MLLP over TLS; a CA at <data>/tls/ca.pem (made once) and certificates naming localhost and 127.0.0.1')
  .addHelpText('after', `
Exit code: 0 only if every reading the simulator sent is anchored exactly once (missing = 0 and
duplicates = 0); 1 if not; 3 if the gateway did not drain by the deadline (the summary's
"drained": false). A second mcps up on the same --data exits at once naming the first one's pid.
Ports 0 pick free ones. The editor login is written to <data>/gateway/editor-credentials.json
(mode 0600).`)
  .action(async (opts: { duration?: number; data: string; editorPort: number; mqttPort: number; nodePort: number; gatewayMetricsPort: number; nodeMetricsPort: number; status: boolean; scenario?: string; record?: string; drainTimeout?: number; tls?: boolean; trustless?: boolean }) => {
    const { runUp } = require('./up') as typeof import('./up');
    const { resolveScenario } = require('./sim') as typeof import('./sim');
    process.exitCode = await runUp({ ...opts, scenario: opts.scenario ? resolveScenario(opts.scenario) : undefined });
  });

(require('./ops-commands') as typeof import('./ops-commands')).registerOpsCommands(program);

/** `mcps gateway --config F` runs the process; `mcps gateway identity ...` is a subcommand beside it. */
function requireConfig(cmd: Command, opts: { config?: string }): string {
  if (!opts.config) cmd.error("error: required option '--config <file>' not specified");
  return opts.config!;
}

const gatewayCmd = program
  .command('gateway')
  .description('run one gateway (Node-RED with the mcps nodes, embedded MQTT broker, sealer and outbox) under its own V8 heap cap (memory.heapMB of the config, default 128 MB)')
  .enablePositionalOptions()
  .option('--config <file>', 'gateway configuration JSON (see docs/operations.md); required to run')
  .action(async (opts: { config?: string }, cmd: Command) => {
    const config = requireConfig(cmd, opts);
    // The gateway runs under its own V8 heap cap (memory.heapMB, default 128): started without one,
    // it runs itself again with it (cli/heap-cap.ts).
    const { configuredHeapMb, rerunUnderHeapCap, watchLauncher } = require('./heap-cap') as typeof import('./heap-cap');
    const code = await rerunUnderHeapCap(configuredHeapMb(config));
    if (code !== null) {
      process.exitCode = code;
      return;
    }
    watchLauncher();
    const { gatewayProcess } = require('./processes') as typeof import('./processes');
    await gatewayProcess(config);
  });

const chainNodeCmd = program
  .command('chain-node')
  .description('run one chain node (batch ingest, ciphertext store, anchoring on the EVM chain)')
  .enablePositionalOptions()
  .option('--config <file>', 'chain node configuration JSON (see docs/operations.md); required to run')
  .action(async (opts: { config?: string }, cmd: Command) => {
    const config = requireConfig(cmd, opts);
    const { chainNodeProcess } = require('./processes') as typeof import('./processes');
    await chainNodeProcess(config);
  });

(require('./identity-commands') as typeof import('./identity-commands')).registerIdentityCommands(gatewayCmd, chainNodeCmd, program);
(require('./admin/commands') as typeof import('./admin/commands')).registerAdminCommands(program);
(require('./devices-commands') as typeof import('./devices-commands')).registerDevicesCommands(program);
(require('./keys-commands') as typeof import('./keys-commands')).registerKeysCommands(program);
(require('./tls-commands') as typeof import('./tls-commands')).registerTlsCommands(program);
(require('./fhir-commands') as typeof import('./fhir-commands')).registerFhirCommands(program);
(require('./data-commands') as typeof import('./data-commands')).registerDataCommands(program);
// After the data commands: `mcps owner init` joins their `mcps owner` (serve).
(require('./setup-commands') as typeof import('./setup-commands')).registerSetupCommands(gatewayCmd, chainNodeCmd, program);

program
  .command('verify')
  .description('compare the simulator\'s send log with what is anchored on chain and stored at the chain node; exit 0 only if nothing is missing or duplicated and every batch matches its on-chain root')
  .option('--data <dir>', 'data directory of the run to verify', process.env.MCPS_DATA_DIR ?? '.mcps')
  .action(async (opts: { data: string }) => {
    const { verifyCommand } = require('./verify') as typeof import('./verify');
    process.exitCode = await verifyCommand(opts.data);
  });

/** Options every command that starts a fresh local stack shares. */
function dataOption(): Option {
  return new Option('--data <dir>', 'data directory').default(process.env.MCPS_DATA_DIR ?? '.mcps');
}

function portOption(name: string, what: string): Option {
  return new Option(`--${name} <port>`, `${what} on 127.0.0.1 (0: any free one)`).argParser(port).default(0);
}

const sim = program
  .command('sim')
  .description('the device simulator: run scenario files against the local stack, check them, list the ready-made ones')
  .addHelpText('after', `
A scenario file (JSON) says which simulated devices run, how many, for which patients, over which
transport, at which rate, in which clinical scenario, from which seed:

  {
    "name": "one bed", "seed": 1, "durationS": 60,
    "devices": [
      { "transport": "serial", "format": "nonin-df7", "idPrefix": "oxi-bed", "patientPrefix": "p-" },
      { "transport": "mqtt", "kind": "heart_rate", "count": 20, "ratePerS": 1, "idPrefix": "ecg-bed",
        "patientPrefix": "p-", "scenario": "desaturation" }
    ]
  }

Each group: transport "mqtt" (needs "kind"), "serial" (needs "format": nonin-df7, masimo-ascii or
contec-cms50d; one device per format, on the ports the default flow reads) or "hl7" (a bedside
monitor sending heart rate, SpO2, respiration, temperature and NIBP as HL7 ORU^R01 over MLLP, waiting
for each ACK); count (default 1); first (index of the first device, default 1); ratePerS (MQTT
readings or HL7 messages per second, default 1); idPrefix; patientPrefix (default "p-") or one
patient for all; scenario. Device i is <idPrefix><i> for patient <patientPrefix><i> (4 digits), so
the same index in different groups is the same bed.
Or "model" instead of "kind": nibp (params cycleS), glucose (meanIntervalS), pump (rateMlH, reportS,
vtbiMl, occlusionsPerHour), ecg (heart rate + 250 Hz lead II on …/waveform), e.g.
  { "transport": "mqtt", "model": "nibp", "params": { "cycleS": 300 }, "idPrefix": "nibp-bed" }
Kinds: spo2, pulse_rate, heart_rate, resp_rate, body_temp, nibp_systolic, nibp_diastolic, nibp_mean,
glucose, perfusion_index, infusion_rate, volume_infused.
Scenarios: normal, desaturation, tachycardia, bradycardia, hypotension, sensor-off, device-reboot.
Faults (MQTT groups, or at the top for all of them), seeded and counted, e.g.
"faults": [{ "type": "drop", "probability": 0.1 }]:
  drop, duplicate, reorder, out-of-range   with "probability" per reading (default 0.05)
  clock-skew                               "skewMs" (default 60000; may be negative), from the start
  clock-jump                               "probability" and "skewMs": the clock jumps and stays
  disconnect                               "everyS" (default 10): the TCP connection is cut
The send log marks faulty readings; verify counts deliberately invalid ones as "refused as expected".
The file is checked before anything starts; every error names its place (e.g. /devices/2/kind).
Ready-made: ${'`'}mcps sim list${'`'}; give their name instead of a path.`);

sim
  .command('run')
  .description('run a scenario against a fresh local stack (chain, contracts, chain node, gateway), then drain, verify end to end and print a JSON summary; exit 0 only if nothing sent is missing or duplicated')
  .argument('<file|name>', 'scenario file, or the name of a ready-made one (mcps sim list)')
  .addOption(dataOption())
  .addOption(portOption('editor-port', 'Node-RED editor port'))
  .addOption(portOption('mqtt-port', 'MQTT broker port'))
  .addOption(portOption('node-port', 'chain node HTTP port'))
  .option('--duration <seconds>', 'how long the devices run (default: the scenario\'s durationS, else 60)', positiveNumber)
  .option('--no-status', 'no live status line (plain log lines instead)')
  .option('--record <file>', 'record what the gateway receives to this JSONL file, for mcps sim replay')
  .action(async (file: string, o: { duration?: number; data: string; editorPort: number; mqttPort: number; nodePort: number; status: boolean; record?: string }) => {
    const { resolveScenario } = require('./sim') as typeof import('./sim');
    const { runUp } = require('./up') as typeof import('./up');
    const scenario = resolveScenario(file);
    process.exitCode = await runUp({ ...o, duration: o.duration ?? scenario.durationS ?? 60, scenario });
  });

sim
  .command('replay')
  .description('play a recording (from mcps up --record) or a CSV series into a fresh local stack at the recorded pace, Nx, or as fast as possible; then drain, verify end to end and print a JSON summary')
  .argument('<file>', 'a recording (.jsonl) or a CSV series (.csv)')
  .addOption(dataOption())
  .addOption(portOption('editor-port', 'Node-RED editor port'))
  .addOption(portOption('mqtt-port', 'MQTT broker port'))
  .addOption(portOption('node-port', 'chain node HTTP port'))
  .option('--speed <n>', 'play N times faster than recorded (1 = real time)', positiveNumber, 1)
  .option('--max', 'as fast as the gateway takes it (no waits; MQTT with 256 messages in flight)')
  .option('--kind <kind>', 'CSV: the reading kind of the value column (e.g. heart_rate)')
  .option('--device <id>', 'CSV: the device id that sends it', 'csv-device')
  .option('--patient <pseudonym>', 'CSV: the patient pseudonym', 'p-csv')
  .option('--time-column <name>', 'CSV: the time column (epoch ms, ISO 8601, or seconds from the start)', 'time')
  .option('--value-column <name>', 'CSV: the value column', 'value')
  .option('--duration <seconds>', 'stop after this many seconds even if not finished', positiveNumber)
  .option('--no-status', 'no progress bar (plain progress lines every 5 s instead)')
  .addHelpText('after', `
A recording is what a gateway received, written by ${'`'}mcps up --record FILE${'`'} (or the gateway's
"record" setting): serial bytes per port and MQTT messages, each with its arrival time. Replay
keeps the inter-arrival times (divided by --speed): serial bytes go onto a pseudo-terminal of their
format, which the default flow reads; MQTT messages come from each device's own login with QoS 1.
A CSV series (header line; --time-column and --value-column) is played as MQTT readings of one
device (--kind, --device, --patient). On a terminal a progress bar shows count, rate and time left;
otherwise a plain line every 5 s. The last line of stdout is the JSON summary (as mcps sim run, plus
replayed / of); exit 0 only if nothing played is missing or duplicated on chain.`)
  .action(async (file: string, o: { speed: number; max?: boolean; kind?: string; device: string; patient: string; timeColumn: string; valueColumn: string; duration?: number; data: string; editorPort: number; mqttPort: number; nodePort: number; status: boolean }) => {
    const { loadReplaySource } = require('../device-sim/recording') as typeof import('../device-sim/recording');
    const { READING_KINDS } = require('../protocol/reading') as typeof import('../protocol/reading');
    const { runUp } = require('./up') as typeof import('./up');
    if (file.toLowerCase().endsWith('.csv') && (!o.kind || !(o.kind in READING_KINDS))) throw new InvalidArgumentError(`a CSV series needs --kind, one of ${Object.keys(READING_KINDS).join(', ')}`);
    const recording = loadReplaySource(file, o.kind ? { kind: o.kind as keyof typeof READING_KINDS, deviceId: o.device, patient: o.patient, timeColumn: o.timeColumn, valueColumn: o.valueColumn } : undefined);
    process.exitCode = await runUp({ ...o, replay: { recording, speed: o.max ? 'max' : o.speed } });
  });

sim
  .command('validate')
  .description('check a scenario file and list the devices it makes; exit 1 with every problem named if it is wrong')
  .argument('<file|name>', 'scenario file or ready-made name')
  .action((file: string) => {
    const { resolveScenario, describeScenario } = require('./sim') as typeof import('./sim');
    process.stdout.write(describeScenario(resolveScenario(file)));
  });

sim
  .command('list')
  .description('the ready-made scenarios shipped in device-sim/scenarios/')
  .action(() => {
    const { listScenarios } = require('./sim') as typeof import('./sim');
    process.stdout.write(listScenarios());
  });

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${v}" is not a whole number`);
  return n;
}

program
  .command('drill')
  .description('crash drill: stream readings from simulated MQTT devices through a fresh local stack while killing the gateway and the chain node with SIGKILL and freezing the chain, then verify that every acknowledged reading is anchored exactly once')
  .option('--data <dir>', 'data directory for the drill (its per-run state is replaced)', '.mcps-drill')
  .option('--seed <n>', 'seed for every random choice (printed; the same seed replays the same kills)', count, Date.now() % 1_000_000)
  .option('--devices <n>', 'simulated MQTT devices', count, 4)
  .option('--readings <n>', 'readings per device', count, 5000)
  .option('--rate <n>', 'readings per second per device at most (0 = as fast as acknowledged)', count, 500)
  .option('--kills <n>', 'SIGKILLs (gateway or chain node, chosen at random)', count, 6)
  .option('--pauses <n>', 'chain freezes (SIGSTOP on the chain)', count, 2)
  .option('--max-pause <s>', 'longest chain freeze in seconds', positiveNumber, 5)
  .option('--trustless', 'deploy the Anchor contract in trustless mode (gateway signatures verified on chain)')
  .addHelpText('after', `
Prints each event as it happens and, as the last line, one JSON object: seed, readings, acked,
kills, chainPauses, durationS and verify (sent, anchored, batches, missing, duplicates,
proof_failures). Exit code 0 only if nothing acknowledged is missing or duplicated and every stored
batch matches its on-chain root. docs/durability.md explains what is proven.`)
  .action(async (o: { data: string; seed: number; devices: number; readings: number; rate: number; kills: number; pauses: number; maxPause: number; trustless?: boolean }) => {
    const { runCrashDrill } = require('./crash-drill') as typeof import('./crash-drill');
    const r = await runCrashDrill({ data: o.data, seed: o.seed, devices: o.devices, readingsPerDevice: o.readings, maxRatePerS: o.rate || undefined, kills: o.kills, chainPauses: o.pauses, maxPauseMs: o.maxPause * 1000, ...(o.trustless ? { trustless: true } : {}), log: (m) => process.stdout.write(`${m}\n`) });
    const v = r.verify;
    process.stdout.write(`sent (acknowledged) ${v.sent}, anchored ${v.anchored} in ${v.batches} batches, missing ${v.missing}, duplicates ${v.duplicates}, proof failures ${v.proofFailures}\n`);
    for (const p of v.problems.slice(0, 20)) process.stdout.write(`  ! ${p}\n`);
    process.stdout.write(JSON.stringify({ seed: r.seed, readings: r.readings, acked: r.acked, kills: r.kills, chainPauses: r.chainPauses, durationS: r.durationS, verify: { sent: v.sent, anchored: v.anchored, batches: v.batches, missing: v.missing, duplicates: v.duplicates, proof_failures: v.proofFailures } }) + '\n');
    process.exitCode = v.missing === 0 && v.duplicates === 0 && v.proofFailures === 0 ? 0 : 1;
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`mcps: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
