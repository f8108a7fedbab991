/**
 * freePort: the ports it hands out are outside the kernel's ephemeral range (so no outgoing
 * connection can be given one between the check and the child's listen), distinct within a process,
 * and free to listen on.
 */
import t from 'tap';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ephemeralLow, freePort } from '../common/free-port';

t.test('ports below the ephemeral range, distinct, listenable', async (t) => {
  const low = ephemeralLow();
  const ports: number[] = [];
  for (let i = 0; i < 20; i++) ports.push(await freePort());
  t.ok(ports.every((p) => p >= 10000 && p < low), `all below ${low}: ${ports.join(',')}`);
  t.equal(new Set(ports).size, ports.length, 'no port handed out twice');
  const s = createServer();
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(ports[0], '127.0.0.1', resolve); });
  await new Promise<void>((resolve) => s.close(() => resolve()));
  t.pass('a handed-out port can be listened on');
});

t.test('the ephemeral range is read from the kernel file, with a safe default', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'free-port-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'range');
  writeFileSync(f, '40000\t60999\n');
  t.equal(ephemeralLow(f), 40000);
  writeFileSync(f, 'garbage');
  t.equal(ephemeralLow(f), 32768, 'unreadable contents: the usual Linux default');
  t.equal(ephemeralLow(join(dir, 'missing')), 32768, 'no such file (not Linux): the usual default');
});
