// docs/onboarding.md, run as written: every ```sh block of the page, in order, in one bash, on a
// local anvil with separate directories per party and a free port for every listener. Then,
// independently of what the page's own commands checked, the new device's reading is found in a
// batch the chain node stored, decrypted with the hospital's keys, and its root is the one on chain.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ethers } from 'ethers';
import { startAnvil } from '../contracts/anvil';
import { AnchorClient } from '../contracts/clients';
import { BatchStore } from '../chain-node/batch-store';
import { EpochKeyOpener } from '../gateway/sealing/envelope';
import { checkEnvelope, decodeHeader, headerHash, openBatchAsOwner } from '../protocol/batch';
import { loadOrCreateOwnerKeyPair, loadOrCreateOwnerTagKey } from '../owner/keys';
import { freePort } from '../common/free-port';

const ROOT = resolve(__dirname, '..', '..');
const DOC = join(ROOT, 'docs', 'onboarding.md');
const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';

/** The page's shell blocks, in order: exactly what a reader would paste. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

// About 25 commands, each a fresh process, and two services starting: more than the default
// 300 s per file on a loaded 2-core machine is possible, so this file allows 600 s.
t.setTimeout(600_000);

t.test('docs/onboarding.md runs as written and ends with the new device\'s reading anchored', async (t) => {
  const blocks = shellBlocks(readFileSync(DOC, 'utf8'));
  t.ok(blocks.length >= 8, `the page has its steps as sh blocks (${blocks.length})`);
  const work = mkdtempSync(join(tmpdir(), 'mcps-onboarding-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const bin = join(work, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'mcps'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'dist', 'cli', 'mcps.js')}" "$@"\n`);
  chmodSync(join(bin, 'mcps'), 0o755);
  const anvil = await startAnvil();
  t.teardown(() => anvil.stop());
  const secret = ethers.HDNodeWallet.fromPhrase(ANVIL_MNEMONIC, undefined, "m/44'/60'/0'/0/0").privateKey.slice(2);
  const ports = { NODE_PORT: await freePort(), NODE_METRICS_PORT: await freePort(), MQTT_PORT: await freePort(), EDITOR_PORT: await freePort(), GATEWAY_METRICS_PORT: await freePort() };
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, MCPS_RPC_URL: anvil.url, CONSORTIUM_ADMIN_SECRET: secret, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) };
  for (const k of ['MCPS_DEPLOYMENT', 'MCPS_ADMIN_KEY', 'MCPS_DATA_DIR', 'MCPS_KEY_PASSPHRASE', 'MCPS_KEY_PASSPHRASE_FILE']) delete env[k];

  // One shell, as a reader's terminal: variables and background jobs carry from block to block.
  const script = `set -euo pipefail\n${blocks.map((b, i) => `echo "::: block ${i + 1}" >&2\n${b}`).join('\n')}\n`;
  const child = spawn('bash', ['-c', script], { cwd: work, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const killGroup = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  t.teardown(killGroup);
  const timer = setTimeout(killGroup, 560_000);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  const tail = (p: string): string => (existsSync(join(work, p)) ? readFileSync(join(work, p), 'utf8').split('\n').slice(-30).join('\n') : `(no ${p})`);
  if (code !== 0) t.comment(`stdout:\n${out}\nstderr:\n${err}\nnode log:\n${tail('node/node.log')}\ngateway log:\n${tail('gateway/gateway.log')}`);
  t.equal(code, 0, 'every command of the page succeeded');
  t.match(out, /registered gateway gw-ward1 of hosp-a/);
  t.match(out, /registered data user dr-lee of hosp-a/);
  t.match(out, /sent spo2 97 as spo2-bed7 .* to mqtts:\/\/127\.0\.0\.1:\d+: acknowledged/, 'the device logged in with its certificate over mqtts');
  t.match(tail('gateway/gateway.log'), /MQTT broker at mqtts:\/\/127\.0\.0\.1:/, 'the gateway log names its mqtts:// URL');
  t.notMatch(tail('gateway/gateway.log'), /WITHOUT TLS/, 'no plaintext listener');
  if (code !== 0) return;

  // Independent check: the batch the chain node stored, opened with the hospital's keys, against the chain.
  const store = new BatchStore(join(work, 'node', 'data', 'batches'));
  const seqs = store.sequences('gw-ward1');
  t.ok(seqs.length >= 1, `the chain node stored the gateway's batches (${seqs.length})`);
  const owner = loadOrCreateOwnerKeyPair(join(work, 'hospital', 'owner'));
  const tagKey = loadOrCreateOwnerTagKey(join(work, 'hospital', 'owner'));
  const opener = new EpochKeyOpener(owner.privateKey);
  const provider = new ethers.JsonRpcProvider(anvil.url, undefined, { staticNetwork: true });
  t.teardown(() => provider.destroy());
  const deployment = JSON.parse(readFileSync(join(work, 'consortium', 'deployment.json'), 'utf8')) as { anchor: string };
  const anchor = new AnchorClient(provider, deployment.anchor);
  let found = 0;
  for (const seq of seqs) {
    const b = store.get('gw-ward1', seq)!;
    const header = decodeHeader(Uint8Array.from(Buffer.from(b.submission.header, 'hex')));
    const envelope = Uint8Array.from(Buffer.from(b.submission.envelope, 'base64'));
    const { directory } = checkEnvelope(header, envelope);
    const readings = openBatchAsOwner(header, envelope, await opener.open('gw-ward1', directory.epochId, directory.wrappedEpochKey), tagKey);
    t.same((await anchor.findAnchored('gw-ward1', seq, (g, s) => { const x = store.meta(g, s); return x ? decodeHeader(Uint8Array.from(Buffer.from(x.submission.header, 'hex'))) : null; }))?.headerHash, headerHash(header), `batch ${seq}: its header (whose root the readings were checked against) is anchored on chain`);
    found += readings.filter((r) => r.deviceId === 'spo2-bed7' && r.patient === 'p-0007' && r.kind === 'spo2' && r.value === 97).length;
  }
  t.equal(found, 1, "the new device's reading is in an anchored batch, once, for its patient");
});
