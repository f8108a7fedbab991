/**
 * `mcps tls init|client|show`: a hospital's (or consortium's) CA and the certificates it signs —
 * the box's server certificate for every listener, and client certificates for MQTT devices that
 * log in with one. A hospital with a PKI of its own skips this and names its files in the config.
 */
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { join } from 'node:path';

type Certs = typeof import('./tls/certificates');
const C = (): Certs => require('./tls/certificates') as Certs;

function collect(v: string, prev: string[]): string[] {
  return [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
}

function out(json: boolean | undefined, obj: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? JSON.stringify(obj) + '\n' : text);
}

export function registerTlsCommands(program: Command): void {
  const tls = program
    .command('tls')
    .description('TLS certificates: a CA of your own, the box\'s server certificate, devices\' client certificates (docs/operations.md, "TLS")')
    .addHelpText('after', `
  mcps tls init --dir /etc/mcps/tls --host ward1-gw.hospital.example --host 10.0.4.17
  mcps tls client spo2-bed7 --dir /etc/mcps/tls

init makes <dir>/ca.pem and ca.key (the CA, once; kept on later runs) and <dir>/server.pem and
server.key for this box, naming localhost, 127.0.0.1, this machine's name and every --host. Key
files are mode 0600. Then put into the gateway's (or chain node's) config:
  "tls": { "cert": "<dir>/server.pem", "key": "<dir>/server.key", "ca": "<dir>/ca.pem" }
and give ca.pem to every device and client that must trust the box. Keep ca.key off the box when
you can (issue certificates elsewhere and copy server.pem/server.key over).`);

  tls
    .command('init')
    .description('make a CA (unless <dir> has one) and this box\'s server certificate')
    .requiredOption('--dir <dir>', 'where the files go (created, mode 0700)')
    .option('--host <name>', 'a host name or IP address the certificate names (repeatable, or comma-separated); localhost, 127.0.0.1 and this machine\'s name are always in', collect, [])
    .option('--ca-name <name>', 'the CA\'s common name', 'mcps hospital CA')
    .option('--days <n>', 'the server certificate\'s validity in days', (v) => Number(v), 825)
    .option('--renew', 'a new server certificate (and key) although one is there: the old pair is kept as server.*.retired-<time>; restart the service to take it')
    .option('--json', 'one JSON object')
    .action(async (o: { dir: string; host: string[]; caName: string; days: number; renew?: boolean; json?: boolean }) => {
      const c = C();
      const names = [...new Set(['localhost', '127.0.0.1', hostname(), ...o.host])];
      const { ca, created } = await c.ensureCa(o.dir, o.caName);
      const files = c.serverFilesIn(o.dir);
      if (o.renew) c.retireIssued(files);
      const server = await c.issueServerCertificate(ca, names, files, o.days);
      out(o.json, { ca: ca.files.cert, caKey: ca.files.key, caCreated: created, cert: server.cert, key: server.key, names },
        `${created ? 'created' : 'kept'} CA ${ca.files.cert} (key ${ca.files.key}, 0600)\n` +
        `server certificate ${server.cert} (key ${server.key}, 0600) for ${names.join(', ')}\n` +
        `config: "tls": { "cert": "${server.cert}", "key": "${server.key}", "ca": "${ca.files.cert}" }\n`);
    });

  tls
    .command('client')
    .description('a client certificate for an MQTT device (its id as common name), signed by the CA in --dir')
    .argument('<id>', 'the device id (as in mcps devices add)')
    .requiredOption('--dir <dir>', 'the directory of mcps tls init (holds ca.pem and ca.key)')
    .option('--days <n>', 'validity in days', (v) => Number(v), 825)
    .option('--json', 'one JSON object')
    .action(async (id: string, o: { dir: string; days: number; json?: boolean }) => {
      const c = C();
      const ca = await c.loadCa(c.caFilesIn(o.dir));
      const f = await c.issueClientCertificate(ca, id, c.clientFilesIn(o.dir, id), o.days);
      out(o.json, { id, cert: f.cert, key: f.key, ca: ca.files.cert },
        `client certificate for ${id}: ${f.cert} (key ${f.key}, 0600); the device also needs ${ca.files.cert} to trust the gateway\n` +
        `it logs in over mqtts:// with client id ${id} and this certificate, no password (the gateway needs "mqtt": { "clientCertificates": true })\n`);
    });

  tls
    .command('show')
    .description('the names a certificate covers')
    .argument('<file>', 'a PEM certificate, e.g. <dir>/server.pem')
    .action((file: string) => {
      const { readFileSync } = require('node:fs') as typeof import('node:fs');
      process.stdout.write(`${C().certificateNames(readFileSync(file, 'utf8')).join('\n')}\n`);
    });
}

export const localTlsDir = (data: string): string => join(data, 'tls');
