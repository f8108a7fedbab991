/**
 * `mcps devices`: the MQTT devices and HL7 monitors a gateway accepts (its devices.json). A running
 * gateway picks every change up within a moment, without a restart; devices that did not change
 * keep their connections, removed and changed ones are disconnected (gateway/ingest/device-watch.ts).
 * A generated password is printed once and stored only as a scrypt hash.
 */
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';

interface Where {
  data?: string;
  config?: string;
  json?: boolean;
}

const registry = (): typeof import('../gateway/ingest/device-registry') => require('../gateway/ingest/device-registry') as typeof import('../gateway/ingest/device-registry');

/** devices.json of the gateway named by --config, or of the local stack in --data. */
export function devicesFile(o: Where): string {
  if (o.config) {
    const { loadGatewayConfig } = require('../gateway/config') as typeof import('../gateway/config');
    return join(resolve(loadGatewayConfig(o.config).dataDir), 'devices.json');
  }
  return join(resolve(o.data ?? process.env.MCPS_DATA_DIR ?? '.mcps'), 'gateway', 'devices.json');
}

async function run<T>(o: Where, fn: () => Promise<T>, human: (r: T) => string, json: (r: T) => unknown): Promise<void> {
  try {
    const r = await fn();
    process.stdout.write(o.json ? JSON.stringify(json(r)) + '\n' : human(r));
  } catch (err) {
    process.exitCode = 1;
    if (o.json) process.stdout.write(JSON.stringify({ ok: false, error: (err as Error).message }) + '\n');
    else process.stderr.write(`mcps devices: ${(err as Error).message}\n`);
  }
}

async function passwordFromStdin(use: boolean | undefined): Promise<string | undefined> {
  if (!use) return undefined;
  const { readStdin } = require('./stdin') as typeof import('./stdin');
  return readStdin('the device password');
}

export function registerDevicesCommands(program: Command): void {
  const devices = program
    .command('devices')
    .description('the MQTT devices and HL7 monitors a gateway accepts: add, list, remove, passwd, move; a running gateway follows without a restart')
    .addOption(new Option('--data <dir>', 'the local stack\'s data directory (its gateway/devices.json)').default(process.env.MCPS_DATA_DIR ?? '.mcps'))
    .addOption(new Option('--config <file>', 'a gateway\'s configuration instead: the devices.json in its dataDir').conflicts('data'))
    .option('--json', 'print JSON (add and passwd: exactly one line {"id", "password"})')
    .configureHelp({ showGlobalOptions: true })
    .enablePositionalOptions(false)
    .addHelpText('after', `
The gateway reloads devices.json when it changes: an added device can log in at once; a removed
device is disconnected and refused; a device whose password, patient or kinds changed is
disconnected and must log in again (with its new settings); every other device stays connected.
Passwords are generated (24 characters) and printed once, or read from stdin with
--password-stdin (at least 12 characters); devices.json keeps only scrypt hashes (mode 0600).
An HL7 monitor (--hl7) has no password: MLLP has no login; its MSH-3 must be its id and PID-3 its
patient. --kind limits what a device may send (e.g. spo2,pulse_rate); other kinds are refused.`);
  const w = (cmd: Command): Where => cmd.optsWithGlobals<Where>();

  devices
    .command('add')
    .description('register a device for a patient; prints its password once')
    .argument('<id>', 'device id: its MQTT client id and username, or an HL7 monitor\'s MSH-3 (1..64 of [A-Za-z0-9._-])')
    .requiredOption('--patient <pseudonym>', 'the patient it is attached to (a pseudonym, never a name)')
    .option('--kind <kinds>', 'the reading kinds it may send, comma-separated (default: any)')
    .option('--hl7', 'an HL7 v2 monitor over MLLP (no password)')
    .option('--password-stdin', 'take the password from stdin instead of generating one')
    .action(async (id: string, o: { patient: string; kind?: string; hl7?: boolean; passwordStdin?: boolean }, cmd: Command) => {
      const where = w(cmd);
      await run(
        where,
        async () => {
          const r = registry();
          const password = await passwordFromStdin(o.passwordStdin);
          const [added] = await r.addDevices(devicesFile(where), [{ id, patient: o.patient, ...(o.kind ? { kinds: r.parseKinds(o.kind) } : {}), ...(o.hl7 ? { hl7: true } : {}), ...(password !== undefined ? { password } : {}) }]);
          return added!;
        },
        (a) => (a.password === null ? `added HL7 monitor ${a.id} for patient ${o.patient}\n` : `added ${a.id} for patient ${o.patient}\npassword: ${a.password}\n(shown once: set it in the device now; only its hash is kept)\n`),
        (a) => ({ id: a.id, password: a.password }),
      );
    });

  devices
    .command('list')
    .description('the registered devices (no passwords: only their hashes exist)')
    .action(async (_o: unknown, cmd: Command) => {
      const where = w(cmd);
      await run(
        where,
        async () => registry().listDevices(devicesFile(where)).map((d) => ({ id: d.id, patient: d.patient, transport: d.transport ?? 'mqtt', kinds: d.kinds ?? null, login: d.passwordHash ? 'password' : 'none' })),
        (rows) => {
          if (rows.length === 0) return 'no devices registered\n';
          const wid = Math.max(2, ...rows.map((r) => r.id.length));
          const wp = Math.max(7, ...rows.map((r) => r.patient.length));
          return `${'ID'.padEnd(wid)}  ${'PATIENT'.padEnd(wp)}  TRANSPORT  KINDS\n` + rows.map((r) => `${r.id.padEnd(wid)}  ${r.patient.padEnd(wp)}  ${r.transport.padEnd(9)}  ${r.kinds?.join(',') ?? 'any'}\n`).join('');
        },
        (rows) => ({ devices: rows }),
      );
    });

  devices
    .command('remove')
    .description('unregister a device; a running gateway disconnects it')
    .argument('<id>', 'device id')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const where = w(cmd);
      await run(where, () => registry().removeDevice(devicesFile(where), id), () => `removed ${id}\n`, () => ({ ok: true, id }));
    });

  devices
    .command('passwd')
    .description('a new password for a device (generated and printed once, or from stdin); its open session is closed')
    .argument('<id>', 'device id')
    .option('--password-stdin', 'take the password from stdin instead of generating one')
    .action(async (id: string, o: { passwordStdin?: boolean }, cmd: Command) => {
      const where = w(cmd);
      await run(
        where,
        async () => registry().setDevicePassword(devicesFile(where), id, await passwordFromStdin(o.passwordStdin)),
        (pw) => `new password for ${id}: ${pw}\n(shown once; the device must log in again with it)\n`,
        (pw) => ({ id, password: pw }),
      );
    });

  devices
    .command('move')
    .description('attach a device to another patient; its open session is closed, and its readings name the new patient from then on')
    .argument('<id>', 'device id')
    .requiredOption('--patient <pseudonym>', 'the new patient')
    .action(async (id: string, o: { patient: string }, cmd: Command) => {
      const where = w(cmd);
      await run(where, () => registry().moveDevice(devicesFile(where), id, o.patient), (r) => `moved ${id} from patient ${r.from} to ${o.patient}\n`, (r) => ({ ok: true, id, from: r.from, patient: o.patient }));
    });

  devices
    .command('send')
    .description('send one reading as the device would (MQTT QoS 1, over TLS when the gateway has it) and wait for the gateway\'s acknowledgement: a field check of a device\'s login, patient and the path to the chain')
    .argument('<id>', 'device id (registered with mcps devices add)')
    .requiredOption('--kind <kind>', 'reading kind, e.g. spo2')
    .requiredOption('--value <number>', 'the value, in the kind\'s unit', (v) => Number(v))
    .option('--password-stdin', 'the device\'s password from stdin')
    .option('--cert <file>', 'log in with this client certificate (mcps tls client) instead of a password')
    .option('--key <file>', 'the client certificate\'s key')
    .action(async (id: string, o: { kind: string; value: number; passwordStdin?: boolean; cert?: string; key?: string }, cmd: Command) => {
      const where = w(cmd);
      await run(
        where,
        async () => {
          if (!where.config) throw new Error('send needs --config FILE (the gateway\'s config: its broker address and TLS files)');
          const { loadGatewayConfig, mqttPort, listenerTls } = require('../gateway/config') as typeof import('../gateway/config');
          const { READING_KINDS } = require('../protocol/reading') as typeof import('../protocol/reading');
          const { readFileSync } = require('node:fs') as typeof import('node:fs');
          const cfg = loadGatewayConfig(where.config);
          const entry = registry().listDevices(devicesFile(where)).find((d) => d.id === id);
          if (!entry) throw new Error(`no device ${id} in ${devicesFile(where)}: add it with mcps devices add`);
          const spec = (READING_KINDS as Record<string, { unit: string }>)[o.kind];
          if (!spec) throw new Error(`--kind ${o.kind}: one of ${Object.keys(READING_KINDS).join(', ')}`);
          if (!Number.isFinite(o.value)) throw new Error('--value: a number');
          const password = o.cert ? undefined : await passwordFromStdin(true);
          const tls = listenerTls(cfg, 'mqtt');
          const host = ['0.0.0.0', '::'].includes(cfg.mqtt.host) ? '127.0.0.1' : cfg.mqtt.host;
          const url = `${tls ? 'mqtts' : 'mqtt'}://${host.includes(':') ? `[${host}]` : host}:${mqttPort(cfg)}`;
          const mqtt = require('mqtt') as typeof import('mqtt');
          const client = await mqtt.connectAsync(url, {
            clientId: id,
            ...(password !== undefined ? { username: id, password } : {}),
            ...(tls && cfg.tls?.ca ? { ca: readFileSync(cfg.tls.ca) } : {}),
            ...(o.cert && o.key ? { cert: readFileSync(o.cert), key: readFileSync(o.key) } : {}),
            rejectUnauthorized: true,
            reconnectPeriod: 0,
            connectTimeout: 10_000,
          });
          try {
            const time = Date.now();
            const payload = { v: 1, deviceId: id, patient: entry.patient, seq: time, kind: o.kind, value: o.value, unit: spec.unit, time };
            // A refused reading closes the connection (MQTT 3.1.1 has no negative PUBACK): say so, never hang.
            let onClose: () => void = () => undefined;
            const refused = new Promise<never>((_r, reject) => (onClose = () => reject(new Error('the gateway closed the connection without acknowledging: the reading was refused (its log and dead letters say why)'))));
            client.once('close', onClose);
            try {
              await Promise.race([client.publishAsync(`mcps/devices/${id}/readings`, JSON.stringify(payload), { qos: 1 }), refused]);
            } finally {
              client.off('close', onClose);
            }
            return { id, url, patient: entry.patient, seq: time, kind: o.kind, value: o.value };
          } finally {
            await client.endAsync(true);
          }
        },
        (r) => `sent ${r.kind} ${r.value} as ${r.id} (patient ${r.patient}, seq ${r.seq}) to ${r.url}: acknowledged (journaled by the gateway; anchored with its next batch)\n`,
        (r) => ({ ok: true, ...r }),
      );
    });
}
