// `mcps devices` as an operator runs it (the real CLI), and a running broker following devices.json:
// an added device logs in without a restart, a removed one is disconnected and refused, a new
// password or patient closes that device's session, and devices that did not change stay connected.
import t from 'tap';
import mqtt from 'mqtt';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../gateway/ingest/broker';
import { DeviceCredentials, type DeviceChanges } from '../gateway/ingest/device-credentials';
import { closeDeviceSessions, watchDevices } from '../gateway/ingest/device-watch';
import { lastJson, mcps } from './cli.helpers';

async function connect(port: number, id: string, password: string): Promise<mqtt.MqttClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: id, username: id, password, reconnectPeriod: 0, connectTimeout: 3000 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', (e) => {
      client.end(true);
      reject(e);
    });
  });
  return client;
}

/** Retries a login until it succeeds (the gateway picks a change up within its debounce), up to 10 s. */
async function eventually<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

t.test('mcps devices: add (password once), list, passwd, move, remove; refusals say what to do', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-devices-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const dev = (args: string[], input?: string) => mcps(['devices', ...args, '--data', data], input !== undefined ? { input } : {});

  const add = await dev(['add', 'spo2-bed7', '--patient', 'p-0007', '--kind', 'spo2,pulse_rate', '--json']);
  t.equal(add.code, 0, add.stderr);
  t.equal(add.stdout.trim().split('\n').length, 1, '--json prints exactly one line');
  const added = JSON.parse(add.stdout) as { id: string; password: string };
  t.same(Object.keys(added), ['id', 'password']);
  t.equal(added.id, 'spo2-bed7');
  t.ok(added.password.length >= 20, 'a generated password');
  const file = join(data, 'gateway', 'devices.json');
  t.equal(statSync(file).mode & 0o777, 0o600, 'devices.json is 0600');
  t.notOk(readFileSync(file, 'utf8').includes(added.password), 'the password itself is not stored');

  const human = await dev(['add', 'temp-bed8', '--patient', 'p-0008']);
  t.match(human.stdout, /added temp-bed8 for patient p-0008\npassword: \S{20,}\n\(shown once/);
  const given = await dev(['add', 'resp-bed9', '--patient', 'p-0009', '--password-stdin', '--json'], 'a-password-from-stdin\n');
  t.same(JSON.parse(given.stdout), { id: 'resp-bed9', password: 'a-password-from-stdin' });
  const short = await dev(['add', 'x-1', '--patient', 'p-1', '--password-stdin'], 'short\n');
  t.equal(short.code, 1);
  t.match(short.stderr, /at least 12 characters/);
  t.same(JSON.parse((await dev(['add', 'mon-bed4', '--patient', 'p-0004', '--hl7', '--json'])).stdout), { id: 'mon-bed4', password: null }, 'an HL7 monitor has no password');

  const dup = await dev(['add', 'temp-bed8', '--patient', 'p-0001']);
  t.equal(dup.code, 1);
  t.match(dup.stderr, /device "temp-bed8" is already registered \(a new password: mcps devices passwd temp-bed8/);
  t.match((await dev(['add', 'y', '--patient', 'John Smith'])).stderr, /pseudonym/);
  t.match((await dev(['add', 'y', '--patient', 'p-1', '--kind', 'spo3'])).stderr, /"spo3" is not a reading kind/);

  const list = lastJson(await dev(['list', '--json'])) as { devices: Array<Record<string, unknown>> };
  t.same(list.devices, [
    { id: 'spo2-bed7', patient: 'p-0007', transport: 'mqtt', kinds: ['spo2', 'pulse_rate'], login: 'password' },
    { id: 'temp-bed8', patient: 'p-0008', transport: 'mqtt', kinds: null, login: 'password' },
    { id: 'resp-bed9', patient: 'p-0009', transport: 'mqtt', kinds: null, login: 'password' },
    { id: 'mon-bed4', patient: 'p-0004', transport: 'hl7', kinds: null, login: 'none' },
  ]);
  t.match((await dev(['list'])).stdout, /^ID +PATIENT +TRANSPORT +KINDS\nspo2-bed7 +p-0007 +mqtt +spo2,pulse_rate\n/);

  const pw = JSON.parse((await dev(['passwd', 'temp-bed8', '--json'])).stdout) as { id: string; password: string };
  t.equal(pw.id, 'temp-bed8');
  t.ok(DeviceCredentials.load(file).authenticate('temp-bed8', pw.password), 'the new password is the one stored');
  t.match((await dev(['passwd', 'mon-bed4'])).stderr, /HL7 monitor: it has no password/);
  t.match((await dev(['move', 'temp-bed8', '--patient', 'p-0010'])).stdout, /moved temp-bed8 from patient p-0008 to p-0010/);
  t.match((await dev(['remove', 'resp-bed9'])).stdout, /removed resp-bed9/);
  t.match((await dev(['remove', 'resp-bed9'])).stderr, /device "resp-bed9" is not registered on this gateway/);
  t.same(DeviceCredentials.load(file).list().map((d) => `${d.id}:${d.patient}`), ['spo2-bed7:p-0007', 'temp-bed8:p-0010', 'mon-bed4:p-0004']);

  // Two commands at once both land (the edit lock), never one overwriting the other.
  const both = await Promise.all([dev(['add', 'par-1', '--patient', 'p-0011']), dev(['add', 'par-2', '--patient', 'p-0012'])]);
  t.same(both.map((r) => r.code), [0, 0]);
  t.same(DeviceCredentials.load(file).list().map((d) => d.id).filter((id) => id.startsWith('par-')).sort(), ['par-1', 'par-2']);
});

t.test('a running broker follows devices.json: no restart, unchanged devices stay connected', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mcps-devices-live-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  mkdirSync(join(data, 'gateway'));
  const file = join(data, 'gateway', 'devices.json');
  const dev = (args: string[]) => mcps(['devices', ...args, '--data', data, '--json']);
  const pwOf = async (args: string[]) => (JSON.parse((await dev(args)).stdout) as { password: string }).password;
  const pwStay = await pwOf(['add', 'stay-1', '--patient', 'p-0001']);
  const pwGone = await pwOf(['add', 'gone-2', '--patient', 'p-0002']);
  const pwRekey = await pwOf(['add', 'rekey-3', '--patient', 'p-0003']);

  const devices = DeviceCredentials.load(file);
  const logs: string[] = [];
  const broker = await startBroker({ port: 0, credentials: devices, log: (_l, m) => logs.push(m) });
  t.teardown(() => broker.close());
  const changes: DeviceChanges[] = [];
  const watch = watchDevices({
    path: file,
    devices,
    log: (_l, m) => logs.push(m),
    onChange: (c) => {
      changes.push(c);
      closeDeviceSessions(broker.aedes, [...c.removed, ...c.changed]);
    },
  });
  t.teardown(() => watch.close());

  const stay = await connect(broker.port, 'stay-1', pwStay);
  const gone = await connect(broker.port, 'gone-2', pwGone);
  const rekey = await connect(broker.port, 'rekey-3', pwRekey);
  t.teardown(() => Promise.all([stay, gone, rekey].map((c) => c.endAsync(true))));
  let stayClosed = 0;
  stay.on('close', () => stayClosed++);
  const goneClosed = new Promise<void>((r) => gone.once('close', () => r()));
  const rekeyClosed = new Promise<void>((r) => rekey.once('close', () => r()));

  const pwNew = await pwOf(['add', 'new-4', '--patient', 'p-0004']);
  const fresh = await eventually(() => connect(broker.port, 'new-4', pwNew));
  t.teardown(() => fresh.endAsync(true));
  t.pass('a device added while the broker runs logs in without a restart');

  await dev(['remove', 'gone-2']);
  await goneClosed;
  t.pass('a removed device is disconnected');
  await t.rejects(connect(broker.port, 'gone-2', pwGone), /bad|not authorized/i, 'and refused when it tries again');

  const pwRekey2 = await pwOf(['passwd', 'rekey-3']);
  await rekeyClosed;
  t.pass('a device with a new password is disconnected');
  await t.rejects(connect(broker.port, 'rekey-3', pwRekey), /bad|not authorized/i, 'its old password is refused');
  const rekeyed = await connect(broker.port, 'rekey-3', pwRekey2);
  t.teardown(() => rekeyed.endAsync(true));

  // A broken file is refused as a whole: the broker keeps what it had.
  writeFileSync(file, '{"devices": [{"id": 1}]}');
  await eventually(async () => {
    if (!logs.some((l) => /devices\[0\] needs string fields id and patient: keeping the 3 devices loaded before/.test(l))) throw new Error('not yet');
  });
  const still = await connect(broker.port, 'new-4', pwNew);
  t.teardown(() => still.endAsync(true));
  t.pass('a device still logs in while devices.json is broken');

  t.equal(stayClosed, 0, 'the device that did not change kept its connection throughout');
  t.ok(stay.connected);
  t.match(changes, [{ added: ['new-4'] }, { removed: ['gone-2'] }, { changed: ['rekey-3'] }]);
  t.match(logs.join('\n'), /devices reloaded: added new-4 \(4 registered\)/);
  t.notOk(logs.join('\n').includes(pwNew), 'no password in the log');
});
