// Keys at rest: key files sealed with a passphrase (scrypt + AES-256-GCM), opened only with it; the
// systemd credentials directory standing in for key files; mcps keys encrypt|decrypt on real files.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptKey, encryptKey, WrongPassphraseError } from '../common/key-protection';
import { loadOrCreateKey, readKeyFile, writeKeyFile } from '../common/key-file';
import { mcps } from './cli.helpers';

t.test('sealing: the passphrase and the kind open it, nothing else', async (t) => {
  const key = new Uint8Array(32).fill(7);
  const e = encryptKey(key, 'mcps/gateway-bls', 'correct horse battery');
  t.same(decryptKey(e, 'mcps/gateway-bls', 'correct horse battery', 'f'), key);
  t.throws(() => decryptKey(e, 'mcps/gateway-bls', 'wrong horse battery', 'f'), WrongPassphraseError);
  t.throws(() => decryptKey(e, 'mcps/node-bls', 'correct horse battery', 'f'), WrongPassphraseError, 'bound to its kind');
  const flipped = { ...e, data: (e.data[0] === '0' ? '1' : '0') + e.data.slice(1) };
  t.throws(() => decryptKey(flipped, 'mcps/gateway-bls', 'correct horse battery', 'f'), WrongPassphraseError, 'an altered file is refused');
  t.not(encryptKey(key, 'k', 'correct horse battery').salt, e.salt, 'a fresh salt each time');
  t.throws(() => encryptKey(key, 'k', 'short'), /at least 8/);
});

t.test('key files: created encrypted when a passphrase is set, refused without it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env };
  t.teardown(() => {
    process.env = env;
  });
  process.env.MCPS_KEY_PASSPHRASE = 'a passphrase for tests';
  const path = join(dir, 'keys', 'a.key');
  const { key, created } = loadOrCreateKey(path, 'mcps/test', () => new Uint8Array(32).fill(9));
  t.ok(created);
  const text = readFileSync(path, 'utf8');
  t.notMatch(text, /0909090909/, 'the key is not in the file in clear');
  t.match(JSON.parse(text), { kind: 'mcps/test', encrypted: { kdf: 'scrypt', cipher: 'aes-256-gcm' } });
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.same(readKeyFile(path, 'mcps/test'), key);
  delete process.env.MCPS_KEY_PASSPHRASE;
  t.throws(() => readKeyFile(path, 'mcps/test'), /is encrypted with a passphrase: give it as the systemd credential mcps-key-passphrase/);
  const pf = join(dir, 'passphrase');
  writeFileSync(pf, 'a passphrase for tests\n', { mode: 0o600 });
  process.env.MCPS_KEY_PASSPHRASE_FILE = pf;
  t.same(readKeyFile(path, 'mcps/test'), key, 'the passphrase from a file (trailing newline ignored)');
  writeFileSync(pf, 'another one entirely\n');
  t.throws(() => readKeyFile(path, 'mcps/test'), WrongPassphraseError);
  delete process.env.MCPS_KEY_PASSPHRASE_FILE;

  // systemd credentials: $CREDENTIALS_DIRECTORY/<name> stands in for the file, and holds the passphrase.
  const creds = join(dir, 'creds');
  mkdirSync(creds);
  writeKeyFile(join(creds, 'b.key'), 'mcps/test', new Uint8Array(32).fill(3), undefined);
  writeFileSync(join(creds, 'mcps-key-passphrase'), 'a passphrase for tests');
  process.env.CREDENTIALS_DIRECTORY = creds;
  t.same(readKeyFile(path, 'mcps/test'), key, 'the passphrase from the credentials directory');
  t.same(loadOrCreateKey(join(dir, 'keys', 'b.key'), 'mcps/test', () => new Uint8Array(32).fill(4)), { key: new Uint8Array(32).fill(3), created: false }, 'a key in the credentials directory is used, not created beside it');
});

t.test('mcps keys encrypt|decrypt, and a gateway identity from an encrypted key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcps-keys-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const plainEnv = { MCPS_KEY_PASSPHRASE: '', MCPS_KEY_PASSPHRASE_FILE: '', CREDENTIALS_DIRECTORY: '' };
  const id = await mcps(['gateway', 'identity', '--data', dir, '--id', 'gw-1'], { env: plainEnv });
  t.equal(id.code, 0, id.stderr);
  const keyFile = join(dir, 'keys', 'gateway-bls.key');
  const enc = await mcps(['keys', 'encrypt', keyFile, '--passphrase-stdin'], { env: plainEnv, input: 'the box passphrase\n' });
  t.equal(enc.code, 0, enc.stderr);
  t.match(enc.stdout, /gateway-bls\.key: mcps\/gateway-bls key encrypted/);
  const locked = await mcps(['gateway', 'identity', '--data', dir, '--id', 'gw-1'], { env: plainEnv });
  t.equal(locked.code, 1, 'without the passphrase the key does not open');
  t.match(locked.stderr, /is encrypted with a passphrase/);
  const pf = join(dir, 'pp');
  writeFileSync(pf, 'the box passphrase\n', { mode: 0o600 });
  const opened = await mcps(['gateway', 'identity', '--data', dir, '--id', 'gw-1'], { env: { ...plainEnv, MCPS_KEY_PASSPHRASE_FILE: pf } });
  t.equal(opened.code, 0, opened.stderr);
  t.equal(JSON.parse(opened.stdout).blsPublicKey, JSON.parse(id.stdout).blsPublicKey, 'the same key, opened with the passphrase');
  const dec = await mcps(['keys', 'decrypt', keyFile], { env: { ...plainEnv, MCPS_KEY_PASSPHRASE_FILE: pf } });
  t.match(dec.stdout, /key decrypted/);
  t.equal((await mcps(['gateway', 'identity', '--data', dir, '--id', 'gw-1'], { env: plainEnv })).code, 0, 'plain again');
});
