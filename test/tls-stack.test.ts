// mcps up --tls: the whole local stack with TLS on every listener (mqtts, HTTPS editor, HTTPS chain
// node API and metrics, MLLP over TLS), the CA at <data>/tls/ca.pem, certificates naming localhost and
// 127.0.0.1, the log naming the mqtts:// URL; real clients connect with the CA and are refused without.
import t from 'tap';
import mqtt from 'mqtt';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../cli/stack';
import { certificateNames } from '../cli/tls/certificates';

function httpsGet(url: string, ca?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

t.test('mcps up --tls: every listener TLS, the simulated devices connect with the CA, every reading anchored', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-tls-stack-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const childLog: string[] = [];
  const stack = await startStack({ data, editorPort: 0, mqttPort: 0, nodePort: 0, mqttRatePerS: 5, tls: true, onChildLog: (l) => childLog.push(l) });
  t.teardown(() => stack.stop());

  t.equal(stack.caPath, join(data, 'tls', 'ca.pem'), 'the CA certificate is at <data>/tls/ca.pem');
  t.same(certificateNames(readFileSync(join(data, 'tls', 'server.pem'), 'utf8')), ['localhost', '127.0.0.1'], 'the box certificate names localhost and 127.0.0.1');
  t.match(stack.mqttUrl, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
  t.ok(childLog.some((l) => l.includes(`MQTT broker at ${stack.mqttUrl}`)), 'the gateway log names the mqtts:// URL');
  for (const [name, url] of [['editor', stack.editorUrl], ['chain node', stack.nodeUrl], ['gateway metrics', stack.gatewayMetricsUrl], ['chain node metrics', stack.nodeMetricsUrl]] as const) {
    t.match(url, /^https:\/\//, `${name} is HTTPS`);
  }
  const ca = readFileSync(stack.caPath!);
  t.equal(await httpsGet(stack.editorUrl, ca), 200, 'the editor answers over HTTPS to a client trusting the CA');
  t.equal(await httpsGet(`${stack.gatewayMetricsUrl}/healthz`, ca), 200, 'gateway health over HTTPS');
  t.equal(await httpsGet(`${stack.nodeUrl}/v1/health`, ca), 200, 'chain node over HTTPS');
  await t.rejects(httpsGet(stack.editorUrl), /self[- ]signed|unable to (get|verify)/i, 'a browser without the CA refuses the editor');
  const untrusting = mqtt.connect(stack.mqttUrl, { clientId: 'x', username: 'x', password: 'y', reconnectPeriod: 0, connectTimeout: 5000, rejectUnauthorized: true });
  const err = await new Promise<Error>((resolve) => untrusting.once('error', resolve));
  untrusting.end(true);
  t.match(err.message, /self[- ]signed|unable to (get|verify)/i, 'an MQTT client without the CA refuses the broker');

  await new Promise((r) => setTimeout(r, 6000));
  const { sim, gateway } = await stack.drain();
  t.ok((sim.bySource.mqtt ?? 0) > 0, 'the MQTT devices sent readings over mqtts');
  t.ok((sim.bySource.hl7 ?? 0) > 0, 'the HL7 monitor sent over MLLP/TLS');
  t.equal(gateway.readingsAnchored, gateway.readingsIn, 'the gateway holds a receipt (over HTTPS) for every reading');
  const report = await stack.verify();
  t.equal(report.missing, 0, 'nothing missing');
  t.equal(report.duplicates, 0, 'nothing duplicated');
  t.notOk(childLog.some((l) => /WITHOUT TLS/.test(l)), 'no plaintext listener');
  const share = await stack.share();
  t.match(share, { verified: true, foreign: 0, refused_without_grant: true }, 'a data user fetches and verifies over HTTPS (node and key service), trusting <data>/tls/ca.pem');
  t.equal(share.fetched, share.expected);
});
