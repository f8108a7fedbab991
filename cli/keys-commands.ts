/**
 * `mcps keys encrypt|decrypt FILE...`: protect existing key files with a passphrase (scrypt +
 * AES-256-GCM, common/key-protection.ts) or take the protection off, in place. The processes then
 * need the passphrase at start (systemd credential mcps-key-passphrase, MCPS_KEY_PASSPHRASE_FILE or
 * MCPS_KEY_PASSPHRASE); new keys they create are encrypted with it too.
 */
import type { Command } from 'commander';

async function passphrase(o: { passphraseStdin?: boolean }, what: string): Promise<string> {
  if (o.passphraseStdin) return (require('./stdin') as typeof import('./stdin')).readStdin(what);
  const p = (require('../common/key-protection') as typeof import('../common/key-protection')).keyPassphrase();
  if (p === undefined) throw new Error(`no passphrase: give it on stdin with --passphrase-stdin, in a file named by MCPS_KEY_PASSPHRASE_FILE, or in MCPS_KEY_PASSPHRASE`);
  return p;
}

export function registerKeysCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description('key files at rest: encrypt them with a passphrase, or decrypt them (docs/operations.md, "Keys at rest")')
    .addHelpText('after', `
A process opens encrypted key files with the passphrase from, in this order: the systemd credential
mcps-key-passphrase ($CREDENTIALS_DIRECTORY), the file named by MCPS_KEY_PASSPHRASE_FILE, or
MCPS_KEY_PASSPHRASE. A key file placed in $CREDENTIALS_DIRECTORY under its own name (e.g.
gateway-bls.key via LoadCredentialEncrypted=) is used instead of the one in the data directory.`);

  keys
    .command('encrypt')
    .description('encrypt key files in place with a passphrase (they stay 0600)')
    .argument('<file...>', 'key files, e.g. <dataDir>/keys/*.key')
    .option('--passphrase-stdin', 'read the passphrase from stdin (else MCPS_KEY_PASSPHRASE_FILE / MCPS_KEY_PASSPHRASE)')
    .action(async (files: string[], o: { passphraseStdin?: boolean }) => {
      const { reprotectKeyFile, isEncryptedKeyFile } = require('../common/key-file') as typeof import('../common/key-file');
      try {
        const p = await passphrase(o, 'the new passphrase');
        for (const f of files) {
          if (isEncryptedKeyFile(f)) {
            process.stdout.write(`${f}: encrypted already\n`);
            continue;
          }
          const kind = reprotectKeyFile(f, p);
          process.stdout.write(`${f}: ${kind} key encrypted\n`);
        }
      } catch (err) {
        process.stderr.write(`mcps keys: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });

  keys
    .command('decrypt')
    .description('take the passphrase off key files, in place (they stay 0600)')
    .argument('<file...>', 'key files')
    .option('--passphrase-stdin', 'read the passphrase from stdin (else MCPS_KEY_PASSPHRASE_FILE / MCPS_KEY_PASSPHRASE)')
    .action(async (files: string[], o: { passphraseStdin?: boolean }) => {
      const { reprotectKeyFile, isEncryptedKeyFile } = require('../common/key-file') as typeof import('../common/key-file');
      try {
        const p = await passphrase(o, 'the passphrase');
        for (const f of files) {
          if (!isEncryptedKeyFile(f)) {
            process.stdout.write(`${f}: not encrypted\n`);
            continue;
          }
          const kind = reprotectKeyFile(f, null, p);
          process.stdout.write(`${f}: ${kind} key decrypted\n`);
        }
      } catch (err) {
        process.stderr.write(`mcps keys: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
