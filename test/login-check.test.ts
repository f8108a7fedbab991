// Device logins: scrypt once per device and process, then the per-process cache; a bounded queue of
// scrypt checks; over real MQTT, a reconnecting device is let in from the cache.
import t from 'tap';
import mqtt from 'mqtt';
import { startBroker } from '../gateway/ingest/broker';
import { DeviceCredentials, checkPasswordAsync, hashPassword } from '../gateway/ingest/device-credentials';
import { DeviceLoginCheck, LoginAbandonedError, LoginQueueFullError } from '../gateway/ingest/login-check';

const hashA = hashPassword('password-of-a-1');
const hashB = hashPassword('password-of-b-1');

function counted(): { check: (h: string, p: Buffer | string) => Promise<boolean>; calls: () => number } {
  let n = 0;
  return {
    check: (h, p) => {
      n++;
      return checkPasswordAsync(h, p);
    },
    calls: () => n,
  };
}

t.test('a verified login is answered from the cache; a wrong or changed password never is', async (t) => {
  const devices = new DeviceCredentials([
    { id: 'dev-a', patient: 'p-1', passwordHash: hashA },
    { id: 'mon-1', patient: 'p-2', transport: 'hl7' },
  ]);
  const c = counted();
  const logins = new DeviceLoginCheck(devices, { check: c.check });
  t.equal((await logins.login('dev-a', 'password-of-a-1'))?.id, 'dev-a', 'first login: checked with scrypt');
  t.equal(c.calls(), 1);
  t.equal((await logins.login('dev-a', Buffer.from('password-of-a-1')))?.id, 'dev-a', 'again (as a Buffer, as aedes hands it over)');
  t.equal(c.calls(), 1, 'the second login costs no scrypt');
  t.equal(logins.stats.cacheHits, 1);
  t.equal(await logins.login('dev-a', 'wrong-password-1'), undefined, 'a wrong password is refused');
  t.equal(c.calls(), 2, 'a wrong password is checked with scrypt, not against the cache alone');
  t.equal((await logins.login('dev-a', 'password-of-a-1'))?.id, 'dev-a', 'a refused attempt does not evict the right password');
  t.equal(c.calls(), 2);

  // mcps devices passwd: the stored hash changes, so the cached tag no longer matches anything.
  devices.replace([{ id: 'dev-a', patient: 'p-1', passwordHash: hashB }]);
  t.equal(await logins.login('dev-a', 'password-of-a-1'), undefined, 'the old password is refused after a change, cache or not');
  t.equal((await logins.login('dev-a', 'password-of-b-1'))?.id, 'dev-a', 'the new one is let in');
  devices.replace([]);
  t.equal(await logins.login('dev-a', 'password-of-b-1'), undefined, 'a removed device is refused');
  t.equal(await logins.login('nobody', 'password-of-b-1'), undefined, 'an unknown device is refused');
  t.equal(await logins.login('mon-1', ''), undefined, 'a device without a password (HL7) has no MQTT login');
  logins.forget(['dev-a']);
  t.equal(logins.size, 0, 'forgotten');
});

t.test('scrypt checks run a bounded number at a time, newest waiting first; too many waiting are refused at once', async (t) => {
  const devices = new DeviceCredentials([{ id: 'dev-a', patient: 'p-1', passwordHash: hashA }]);
  let running = 0;
  let most = 0;
  const order: string[] = [];
  const release: Array<() => void> = [];
  const check = async (_h: string, p: Buffer | string): Promise<boolean> => {
    order.push(String(p));
    running++;
    most = Math.max(most, running);
    await new Promise<void>((r) => release.push(r));
    running--;
    return false;
  };
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
  const logins = new DeviceLoginCheck(devices, { check, concurrency: 1, maxWaiting: 3 });
  const first = logins.login('dev-a', 'x1');
  const second = logins.login('dev-a', 'x2');
  let goneThird = false;
  const third = logins.login('dev-a', 'x3', () => goneThird);
  const fourth = logins.login('dev-a', 'x4');
  await t.rejects(logins.login('dev-a', 'x5'), LoginQueueFullError, 'the fifth finds the queue full');
  t.equal(logins.stats.queueFull, 1);
  t.equal(logins.stats.waiting, 3);
  await tick();
  t.equal(release.length, 1, 'one check at a time');
  release.shift()!();
  t.equal(await first, undefined);
  await tick();
  t.same(order, ['x1', 'x4'], 'the newest waiting login is checked next');
  goneThird = true; // its connection closes while it waits
  release.shift()!();
  t.equal(await fourth, undefined);
  await t.rejects(third, LoginAbandonedError, 'a login whose connection went away is dropped (not refused as a wrong password)');
  t.equal(logins.stats.abandoned, 1, '…without its scrypt check');
  await tick();
  release.shift()!();
  t.equal(await second, undefined, 'the oldest comes last');
  t.same(order, ['x1', 'x4', 'x2']);
  t.equal(most, 1, 'never more than the concurrency at once');
  t.equal(logins.stats.waiting, 0);

  // A full queue first drops the logins whose connections have closed, then refuses.
  let goneA = false;
  const holder = logins.login('dev-a', 'y0');
  const a = logins.login('dev-a', 'y1', () => goneA);
  const b = logins.login('dev-a', 'y2');
  const c = logins.login('dev-a', 'y3');
  goneA = true;
  const d = logins.login('dev-a', 'y4');
  await t.rejects(a, LoginAbandonedError, 'a closed login is dropped to make room');
  t.equal(logins.stats.queueFull, 1, 'the new one was not refused');
  t.equal(logins.stats.abandoned, 2);
  for (const p of [holder, d, c, b]) {
    await tick();
    release.shift()!();
    t.equal(await p, undefined);
  }
  t.same(order.slice(3), ['y0', 'y4', 'y3', 'y2'], 'newest first; the dropped one never checked');
  t.equal(logins.stats.waiting, 0);
});

t.test('over MQTT: a device that reconnects is let in from the cache', async (t) => {
  const devices = new DeviceCredentials([{ id: 'dev-a', patient: 'p-1', passwordHash: hashA }]);
  const broker = await startBroker({ port: 0, credentials: devices });
  t.teardown(() => broker.close());
  const connect = async (password: string): Promise<mqtt.MqttClient> => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'dev-a', username: 'dev-a', password, reconnectPeriod: 0, connectTimeout: 5000 });
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    return c;
  };
  await (await connect('password-of-a-1')).endAsync();
  await (await connect('password-of-a-1')).endAsync();
  t.equal(broker.logins.scryptChecks, 1, 'one scrypt check');
  t.equal(broker.logins.cacheHits, 1, 'the second login from the cache');
  await t.rejects(connect('password-of-a-2'), 'a wrong password is still refused');
  t.equal(broker.counters.authFailures, 1);
});
