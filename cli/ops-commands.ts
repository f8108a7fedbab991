/**
 * The operator's commands, `mcps service install` and `mcps doctor`, registered on the CLI; their
 * modules load only when one runs (the CLI starts fast for the others).
 */
import type { Command } from 'commander';

export function registerServiceCommand(program: Command): void {
  const service = program.command('service').description('run the gateway or chain node as a systemd service (unit files in deploy/systemd/)');
  service
    .command('install')
    .description('write the systemd unit for a gateway or chain node (Type=notify, watchdog, hardening, memory cap) and print the commands that enable it')
    .argument('<role>', 'gateway or chain-node')
    .requiredOption('--config <file>', 'the service\'s configuration JSON (its dataDir is the only path the service may write)')
    .option('--user <name>', 'the system user the service runs as', 'mcps')
    .option('--unit-dir <dir>', 'where to write the unit', '/etc/systemd/system')
    .option('--print', 'print the unit on stdout instead of writing it')
    .addHelpText('after', '\nSee docs/operations.md, "Running as a service", and docs/raspberry-pi.md.')
    .action((role: string, o: { config: string; user: string; unitDir: string; print?: boolean }) => {
      if (role !== 'gateway' && role !== 'chain-node') throw new Error(`service install: role must be gateway or chain-node, not "${role}"`);
      const { installService } = require('./service') as typeof import('./service');
      process.stdout.write(installService({ role, config: o.config, user: o.user, unitDir: o.unitDir, print: o.print === true }) + '\n');
    });
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check a gateway or chain node box: config, ports, serial devices, key permissions, registration, clock, disk, Node.js; says what to do')
    .requiredOption('--config <file>', 'the service\'s configuration JSON')
    .option('--role <role>', 'gateway or chain-node', 'gateway')
    .option('--json', 'print the checks as JSON')
    .addHelpText('after', '\nRead-only: creates no key and changes nothing. Exit code 1 when a check fails.')
    .action(async (o: { config: string; role: string; json?: boolean }) => {
      if (o.role !== 'gateway' && o.role !== 'chain-node') throw new Error(`doctor: --role must be gateway or chain-node, not "${o.role}"`);
      const { doctorGateway, doctorChainNode, formatChecks } = require('./doctor') as typeof import('./doctor');
      const checks = o.role === 'gateway' ? await doctorGateway(o.config) : await doctorChainNode(o.config);
      process.stdout.write(o.json ? JSON.stringify({ checks, failed: checks.filter((c) => c.verdict === 'fail').length }) + '\n' : formatChecks(checks));
      process.exitCode = checks.some((c) => c.verdict === 'fail') ? 1 : 0;
    });
}

export function registerOpsCommands(program: Command): void {
  registerServiceCommand(program);
  registerDoctorCommand(program);
}
