/**
 * `mcps gateway identity`, `mcps chain-node identity`, `mcps user identity`: each party's public
 * identity file, made on its own box from its own keys (created there, 0600, on first use), for the
 * admin who registers it (`mcps admin gateway|node|user add FILE`). `--new-key` makes the next key
 * for a rotation (`mcps admin rotate ID FILE`); the box takes it at its next start once registered.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { PartyIdentity } from '../contracts/party-identity';
import { nextKeyPath } from '../common/key-rotation';

// Loaded when a command runs, not when `mcps` starts.
const gatewayConfig = (p: string) => (require('../gateway/config') as typeof import('../gateway/config')).loadGatewayConfig(p);
const nodeConfig = (p: string) => (require('../chain-node/config') as typeof import('../chain-node/config')).loadChainNodeConfig(p);
const blsIdentity = (): typeof import('../gateway/identity/identity') => require('../gateway/identity/identity') as typeof import('../gateway/identity/identity');
const nodeIdentity = (): typeof import('../chain-node/identity') => require('../chain-node/identity') as typeof import('../chain-node/identity');

export interface IdentityOptions {
  config?: string;
  data?: string;
  id?: string;
  newKey?: boolean;
  out?: string;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;

function where(o: IdentityOptions, role: 'gateway' | 'chain-node', fromConfig: (path: string) => { dataDir: string; id: string }): { dataDir: string; id: string } {
  if (o.config) return fromConfig(o.config);
  if (!o.data || !o.id) throw new Error(`give --config FILE (the ${role}'s configuration), or --data DIR and --id ID`);
  if (!ID.test(o.id)) throw new Error(`--id ${o.id}: 1..31 characters of [A-Za-z0-9._-]`);
  return { dataDir: resolve(o.data), id: o.id };
}

export function gatewayIdentity(o: IdentityOptions): PartyIdentity {
  const w = where(o, 'gateway', (p) => {
    const c = gatewayConfig(p);
    return { dataDir: c.dataDir, id: c.gatewayId };
  });
  const { gatewayKeyPath, loadOrCreateBlsIdentity } = blsIdentity();
  const path = gatewayKeyPath(w.dataDir);
  const k = loadOrCreateBlsIdentity(o.newKey ? nextKeyPath(path) : path, 'mcps/gateway-bls');
  return { role: 'gateway', id: w.id, blsPublicKey: k.publicKey, proofOfPossession: k.proofOfPossession };
}

export function chainNodeIdentity(o: IdentityOptions): PartyIdentity {
  const w = where(o, 'chain-node', (p) => {
    const c = nodeConfig(p);
    return { dataDir: c.dataDir, id: c.nodeId };
  });
  const { loadChainNodeIdentity, nextChainNodeKeys } = nodeIdentity();
  const current = loadChainNodeIdentity(w.dataDir);
  const k = o.newKey ? nextChainNodeKeys(w.dataDir) : { bls: current.bls, x25519PublicKey: current.x25519PublicKey };
  return { role: 'node', id: w.id, blsPublicKey: k.bls.publicKey, proofOfPossession: k.bls.proofOfPossession, operator: current.operatorAddress, x25519PublicKey: k.x25519PublicKey };
}

/** The file names issue 14's data-user code uses (data-user/identity.ts): user-bls.key and user-hpke.key in the user's directory. */
export function userKeyPaths(dataDir: string): { bls: string; encryption: string } {
  return { bls: join(dataDir, 'user-bls.key'), encryption: join(dataDir, 'user-hpke.key') };
}

/** A data user's keys (made in their own directory, 0600): BLS for the handshake, X25519 for released slice keys. */
export function userIdentity(o: IdentityOptions): PartyIdentity {
  if (!o.data || !o.id) throw new Error('give --data DIR (the user\'s own directory for keys) and --id ID');
  if (!ID.test(o.id)) throw new Error(`--id ${o.id}: 1..31 characters of [A-Za-z0-9._-]`);
  const { USER_BLS_KEY_KIND, USER_ENCRYPTION_KEY_KIND } = require('../common/key-kinds') as typeof import('../common/key-kinds');
  const { loadOrCreateKey } = require('../common/key-file') as typeof import('../common/key-file');
  const { x25519 } = require('@noble/curves/ed25519.js') as typeof import('@noble/curves/ed25519.js');
  const paths = userKeyPaths(resolve(o.data));
  const at = (p: string): string => (o.newKey ? nextKeyPath(p) : p);
  const k = blsIdentity().loadOrCreateBlsIdentity(at(paths.bls), USER_BLS_KEY_KIND);
  const enc = loadOrCreateKey(at(paths.encryption), USER_ENCRYPTION_KEY_KIND, () => x25519.utils.randomSecretKey()).key;
  return { role: 'user', id: o.id, blsPublicKey: k.publicKey, proofOfPossession: k.proofOfPossession, encryptionPublicKey: x25519.getPublicKey(enc) };
}

function print(identity: PartyIdentity, out?: string): void {
  const { identityToJson } = require('../contracts/party-identity') as typeof import('../contracts/party-identity');
  const text = JSON.stringify(identityToJson(identity), null, 2) + '\n';
  if (out) {
    mkdirSync(dirname(resolve(out)), { recursive: true });
    writeFileSync(out, text);
    process.stderr.write(`identity of ${identity.role} ${identity.id} written to ${out} (public: hand it to the admin who registers it)\n`);
  } else {
    process.stdout.write(text);
  }
}

function withIdentityOptions(c: Command, dataHelp: string): Command {
  return c
    .option('--data <dir>', dataHelp)
    .option('--id <id>', 'the id to register it under (with --data)')
    .option('--new-key', 'make (once) and print the NEXT key, for a rotation: mcps admin rotate ID FILE; taken at the next start once registered')
    .option('--out <file>', 'write the identity file here instead of stdout');
}

/** Adds `identity` under the gateway and chain-node commands, and `mcps user identity`. */
export function registerIdentityCommands(gateway: Command, chainNode: Command, program: Command): void {
  withIdentityOptions(gateway.command('identity').description('print this gateway\'s public identity file (id, BLS key, proof of possession) for mcps admin gateway add; creates the key on first use').option('--config <file>', 'the gateway\'s configuration (its dataDir and gatewayId)'), 'the gateway\'s data directory (its config\'s dataDir)')
    .action((o: IdentityOptions) => print(gatewayIdentity(o), o.out));
  withIdentityOptions(chainNode.command('identity').description('print this chain node\'s public identity file (id, BLS and X25519 keys, proof of possession, operator account) for mcps admin node add; creates the keys on first use').option('--config <file>', 'the node\'s configuration (its dataDir and nodeId)'), 'the node\'s data directory (its config\'s dataDir)')
    .action((o: IdentityOptions) => print(chainNodeIdentity(o), o.out));
  const user = program.command('user').description('a data user\'s own keys');
  withIdentityOptions(user.command('identity').description('print a data user\'s public identity file for mcps admin user add; creates the user\'s keys (user-bls.key, user-hpke.key) in --data DIR on first use'), 'the user\'s own directory for keys')
    .action((o: IdentityOptions) => print(userIdentity(o), o.out));
}
