// MQTT over TLS on the gateway's broker, with real clients: mqtt.js with certificate checks on, a
// client that does not trust the CA, client-certificate login, and mosquitto_pub (Debian
// mosquitto-clients) as a client nobody here wrote, when it is installed.
import t from 'tap';
import mqtt from 'mqtt';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { startBroker } from '../gateway/ingest/broker';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';
import { checkPlaintextListener, loadTlsMaterial } from '../common/tls';
import { clientFilesIn, ensureCa, issueClientCertificate, issueServerCertificate, retireIssued, serverFilesIn } from '../cli/tls/certificates';
import { tlsCheck } from '../cli/doctor';
import { listenerTls, mqttPort, parseGatewayConfig } from '../gateway/config';
import { runGateway } from '../gateway/main';

const dir = mkdtempSync(join(tmpdir(), 'mcps-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function pki(): Promise<{ ca: string; server: { cert: string; key: string }; dev1: { cert: string; key: string }; dev2: { cert: string; key: string }; stranger: { cert: string; key: string } }> {
  const { ca } = await ensureCa(join(dir, 'hospital'), 'test hospital CA');
  const server = await issueServerCertificate(ca, ['localhost', '127.0.0.1'], serverFilesIn(join(dir, 'hospital')));
  const dev1 = await issueClientCertificate(ca, 'spo2-bed1', clientFilesIn(join(dir, 'hospital'), 'spo2-bed1'));
  const dev2 = await issueClientCertificate(ca, 'spo2-bed2', clientFilesIn(join(dir, 'hospital'), 'spo2-bed2'));
  // A CA nobody here trusts, issuing a certificate in the name of a registered device.
  const { ca: other } = await ensureCa(join(dir, 'other'), 'somebody else CA');
  const stranger = await issueClientCertificate(other, 'spo2-bed1', clientFilesIn(join(dir, 'other'), 'spo2-bed1'));
  return { ca: ca.files.cert, server, dev1, dev2, stranger };
}

const creds = new DeviceCredentials([
  { id: 'spo2-bed1', patient: 'p-1', passwordHash: hashPassword('right-password-1') },
  { id: 'spo2-bed2', patient: 'p-2', passwordHash: hashPassword('right-password-2') },
  { id: 'mon-bed3', patient: 'p-3', transport: 'hl7' },
]);

function connect(url: string, o: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...o });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => execFile(cmd, args, { timeout: 20_000 }, (err, _out, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr })));
}

t.test('mqtts: certificate checks on, untrusted clients refused, client-certificate login', async (t) => {
  const p = await pki();
  const material = loadTlsMaterial({ ...p.server, ca: p.ca });
  const received: string[] = [];
  const logs: string[] = [];
  const broker = await startBroker({
    port: 0,
    credentials: creds,
    tls: { material, clientCertificates: true },
    log: (_l, m) => logs.push(m),
    onReading: async (topic, device, payload) => void received.push(`${device} ${payload.toString()}`),
  });
  t.teardown(() => broker.close());
  const url = `mqtts://127.0.0.1:${broker.port}`;
  const ca = readFileSync(p.ca);

  const pw = await connect(url, { clientId: 'spo2-bed1', username: 'spo2-bed1', password: 'right-password-1', ca, rejectUnauthorized: true });
  await pw.publishAsync('mcps/devices/spo2-bed1/readings', 'over tls', { qos: 1 });
  await pw.endAsync();
  t.same(received, ['spo2-bed1 over tls'], 'a password login over TLS (server certificate checked against the CA) is acknowledged');

  await t.rejects(connect(url, { clientId: 'spo2-bed1', username: 'spo2-bed1', password: 'right-password-1', rejectUnauthorized: true }), /self[- ]signed|unable to (get|verify)/i, 'a client that does not trust the hospital CA refuses the broker');
  await t.rejects(connect(`mqtts://localhost:${broker.port}`, { clientId: 'spo2-bed1', username: 'spo2-bed1', password: 'right-password-1', ca, servername: 'not-the-box.example', rejectUnauthorized: true }), /altnames|does not match|Hostname/i, 'a certificate for another name is refused');
  await t.rejects(connect(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'spo2-bed1', username: 'spo2-bed1', password: 'right-password-1', connectTimeout: 2000 }), 'plaintext MQTT to the TLS port gets nowhere');

  const byCert = await connect(url, { clientId: 'spo2-bed2', ca, cert: readFileSync(p.dev2.cert), key: readFileSync(p.dev2.key), rejectUnauthorized: true });
  await byCert.publishAsync('mcps/devices/spo2-bed2/readings', 'by certificate', { qos: 1 });
  await byCert.endAsync();
  t.ok(received.includes('spo2-bed2 by certificate'), 'a device logs in with its client certificate and no password');

  await t.rejects(connect(url, { clientId: 'spo2-bed2', ca, cert: readFileSync(p.dev1.cert), key: readFileSync(p.dev1.key), rejectUnauthorized: true }), /not authorized|bad user|refused|Connection refused/i, "one device's certificate does not log in another");
  await t.rejects(connect(url, { clientId: 'spo2-bed1', ca, cert: readFileSync(p.stranger.cert), key: readFileSync(p.stranger.key), rejectUnauthorized: true }), 'a certificate from a CA the gateway does not trust proves nothing (and there is no password)');
  const strangerWithPassword = await connect(url, { clientId: 'spo2-bed1', username: 'spo2-bed1', password: 'right-password-1', ca, cert: readFileSync(p.stranger.cert), key: readFileSync(p.stranger.key), rejectUnauthorized: true });
  await strangerWithPassword.endAsync();
  t.pass('…but the device may still log in with its password');
  t.match(logs.join('\n'), /the certificate names another device/, 'the refusal says why');
  t.notOk(logs.join('\n').includes('right-password'), 'no password in the log');
});

const hasMosquitto = ((): boolean => {
  try {
    require('node:child_process').execFileSync('mosquitto_pub', ['--help'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
})();

t.test('mosquitto_pub (a client nobody here wrote) over TLS: password and client certificate', { skip: hasMosquitto ? false : 'mosquitto_pub not installed (Debian mosquitto-clients): the third-party client check is skipped' }, async (t) => {
  const { ca } = await ensureCa(join(dir, 'hospital'), 'test hospital CA');
  const material = loadTlsMaterial({ ...serverFilesIn(join(dir, 'hospital')), ca: ca.files.cert });
  const received: string[] = [];
  const broker = await startBroker({ port: 0, credentials: creds, tls: { material, clientCertificates: true }, onReading: async (_t, device, payload) => void received.push(`${device} ${payload.toString()}`) });
  t.teardown(() => broker.close());
  const common = ['-h', '127.0.0.1', '-p', String(broker.port), '--cafile', ca.files.cert, '-q', '1'];
  const a = await run('mosquitto_pub', [...common, '-i', 'spo2-bed1', '-u', 'spo2-bed1', '-P', 'right-password-1', '-t', 'mcps/devices/spo2-bed1/readings', '-m', 'mosquitto password']);
  t.equal(a.code, 0, `password login over TLS ${a.stderr}`);
  const d2 = clientFilesIn(join(dir, 'hospital'), 'spo2-bed2');
  const b = await run('mosquitto_pub', [...common, '-i', 'spo2-bed2', '--cert', d2.cert, '--key', d2.key, '-t', 'mcps/devices/spo2-bed2/readings', '-m', 'mosquitto cert']);
  t.equal(b.code, 0, `client-certificate login ${b.stderr}`);
  t.same(received.sort(), ['spo2-bed1 mosquitto password', 'spo2-bed2 mosquitto cert']);
  const other = join(dir, 'other', 'ca.pem');
  const c = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '--cafile', other, '-i', 'spo2-bed1', '-u', 'spo2-bed1', '-P', 'right-password-1', '-t', 'mcps/devices/spo2-bed1/readings', '-m', 'x']);
  t.not(c.code, 0, 'mosquitto_pub trusting another CA refuses the broker');
});

t.test('TLS files are checked at start, and plaintext off loopback needs allowPlaintext', async (t) => {
  const h = join(dir, 'hospital');
  const key = join(dir, 'loose.key');
  writeFileSync(key, readFileSync(serverFilesIn(h).key));
  chmodSync(key, 0o644);
  t.throws(() => loadTlsMaterial({ cert: serverFilesIn(h).cert, key }), /permissions 644 .* expected 600/, 'a key others can read is refused');
  const wrongKey = clientFilesIn(h, 'spo2-bed1').key;
  t.throws(() => loadTlsMaterial({ cert: serverFilesIn(h).cert, key: wrongKey }), /do not make a usable certificate and key/, 'a key of another certificate is refused');
  t.throws(() => loadTlsMaterial({ cert: join(dir, 'nope.pem'), key }), /tls.cert .*nope.pem: no such file/, 'a missing file is named');

  const warnings: string[] = [];
  const log = (_l: string, m: string): void => void warnings.push(m);
  checkPlaintextListener('mqtt', '127.0.0.1', false, log);
  checkPlaintextListener('mqtt', '::1', false, log);
  t.equal(warnings.length, 0, 'loopback plaintext is fine, silently');
  t.throws(() => checkPlaintextListener('the MQTT broker (mqtt)', '0.0.0.0', false, log), /the MQTT broker \(mqtt\) would listen on 0.0.0.0 without TLS.*allowPlaintext/, 'plaintext on the network is refused');
  checkPlaintextListener('the MQTT broker (mqtt)', '10.0.4.17', true, log);
  t.match(warnings.join('\n'), /listens on 10.0.4.17 WITHOUT TLS/, 'allowed explicitly, with a warning');

  const base = { dataDir: '/d', gatewayId: 'gw', editor: { host: '127.0.0.1', port: 1880 }, mqtt: { host: '0.0.0.0' }, chainNode: { url: 'https://n:7545', nodeId: 'n' }, chain: { rpcUrl: 'http://x', registry: '0x' + '1'.repeat(40) }, ownerPublicKey: 'a'.repeat(64) };
  const plain = parseGatewayConfig(base);
  t.equal(mqttPort(plain), 1883, 'plaintext MQTT defaults to 1883');
  const withTls = parseGatewayConfig({ ...base, tls: { cert: 'c', key: 'k', ca: 'a' } });
  t.ok(listenerTls(withTls, 'mqtt') && listenerTls(withTls, 'editor'), 'with tls every listener is TLS by default');
  t.equal(mqttPort(withTls), 8883, 'mqtts defaults to 8883');
  t.notOk(listenerTls(parseGatewayConfig({ ...base, tls: { cert: 'c', key: 'k' }, editor: { host: '127.0.0.1', port: 1880, tls: false } }), 'editor'), 'a listener may opt out');
  t.throws(() => parseGatewayConfig({ ...base, mqtt: { host: '0.0.0.0', tls: true } }), /\/mqtt\/tls is true but the config has no "tls"/);
  const gwDir = join(dir, 'gw-plain');
  await t.rejects(runGateway(parseGatewayConfig({ ...base, dataDir: gwDir }), log), /the MQTT broker \(mqtt\) would listen on 0\.0\.0\.0 without TLS/, 'a gateway with a plaintext broker on the network does not start');
  await t.rejects(runGateway(parseGatewayConfig({ ...base, dataDir: gwDir, mqtt: { host: '127.0.0.1' }, editor: { host: '10.1.2.3', port: 1880 } }), log), /the Node-RED editor and admin API \(editor\) would listen on 10\.1\.2\.3 without TLS/, 'nor one with a plaintext editor on the network');
  t.throws(() => parseGatewayConfig({ ...base, tls: { cert: 'c', key: 'k' }, mqtt: { host: '0.0.0.0', clientCertificates: true } }), /clientCertificates needs .* tls.ca/);
});

t.test('mcps doctor checks the TLS files: expiry, names, key', async (t) => {
  const h = join(dir, 'hospital');
  const ok = tlsCheck({ ...serverFilesIn(h), ca: join(h, 'ca.pem') }, ['127.0.0.1', '0.0.0.0']);
  t.equal(ok.verdict, 'ok', ok.found);
  const unnamed = tlsCheck(serverFilesIn(h), ['10.9.9.9']);
  t.equal(unnamed.verdict, 'warn');
  t.match(unnamed.found, /does not name 10\.9\.9\.9/);
  const { ca } = await ensureCa(h, 'test hospital CA');
  const short = await issueServerCertificate(ca, ['localhost'], { cert: join(dir, 'short.pem'), key: join(dir, 'short.key') }, 0);
  const expired = tlsCheck(short, []);
  t.equal(expired.verdict, 'fail', 'a certificate past its end is a failure');
  t.match(expired.found, /expired/);
  t.equal(tlsCheck({ cert: serverFilesIn(h).cert, key: join(dir, 'loose.key') }, []).verdict, 'fail', 'a key others can read fails');
  retireIssued(short);
  const renewed = await issueServerCertificate(ca, ['localhost'], short);
  t.equal(tlsCheck(renewed, []).verdict, 'ok', 'renewed in place (the old pair retired beside it)');
});

t.test('a raw TLS handshake shows the chain the broker presents names 127.0.0.1', async (t) => {
  const h = join(dir, 'hospital');
  const broker = await startBroker({ port: 0, credentials: creds, tls: { material: loadTlsMaterial(serverFilesIn(h)) } });
  t.teardown(() => broker.close());
  const sock = tlsConnect({ host: '127.0.0.1', port: broker.port, ca: readFileSync(join(h, 'ca.pem')) });
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', resolve);
    sock.once('error', reject);
  });
  t.ok(sock.authorized, 'the server certificate verifies against the CA for 127.0.0.1');
  t.match(sock.getProtocol() ?? '', /^TLSv1\.[23]$/);
  sock.destroy();
});
