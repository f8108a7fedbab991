/**
 * `mcps doctor --config FILE`: checks a gateway (or, with --role chain-node, a chain node) the way a
 * field engineer would, and prints for each check what was found and, when something is wrong, what
 * to do. Read-only: it creates no key, opens no port it would hold, writes nothing. Exit code 1 when
 * a check fails (warnings alone exit 0); --json prints the checks as one JSON object.
 */
import { accessSync, constants, existsSync, readdirSync, readFileSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { createServer, isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { get as httpsGet } from 'node:https';
import { isLoopback, loadCa, loadTlsMaterial, type TlsFiles } from '../common/tls';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { readKeyFile } from '../common/key-file';
import { listenerTls, loadGatewayConfig, mqttPort, type GatewayConfig } from '../gateway/config';
import { loadChainNodeConfig, type ChainNodeConfig } from '../chain-node/config';
import { gatewayKeyPath } from '../gateway/identity/identity';
import { registrationState } from '../gateway/identity/identity-check';
import { blsPublicKey } from '../protocol/bls';
import { RegistryClient } from '../contracts/clients';
import { parseSerialSettings, type SerialFormat } from '../gateway/ingest/serial-settings';

export type Verdict = 'ok' | 'warn' | 'fail';
export interface DoctorCheck {
  name: string;
  verdict: Verdict;
  /** What was found. */
  found: string;
  /** What to do (when not ok). */
  fix?: string;
}

const MIN_NODE: [number, number] = [20, 19];
/** The line settings each format's devices use (docs/devices.md). */
const FORMAT_LINE: Record<SerialFormat, { baud: number; dataBits: number; parity: string; stopBits: number }> = {
  'nonin-df7': { baud: 9600, dataBits: 8, parity: 'none', stopBits: 1 },
  'masimo-ascii': { baud: 9600, dataBits: 8, parity: 'none', stopBits: 1 },
  'contec-cms50d': { baud: 19200, dataBits: 8, parity: 'odd', stopBits: 1 },
};

export function nodeVersionCheck(version = process.versions.node): DoctorCheck {
  const [maj, min] = version.split('.').map(Number) as [number, number];
  const ok = maj > MIN_NODE[0] || (maj === MIN_NODE[0] && min >= MIN_NODE[1]);
  return ok
    ? { name: 'node.js', verdict: 'ok', found: `Node.js ${version}` }
    : { name: 'node.js', verdict: 'fail', found: `Node.js ${version}`, fix: `install Node.js ${MIN_NODE.join('.')} or later (NodeSource's nodejs package for Debian/Raspberry Pi OS, see docs/raspberry-pi.md)` };
}

/** Whether host:port can be bound now; when not, whether our own service answers there. */
/** Whether a health URL answers 200 (https: checked against `ca`). */
function healthAnswers(url: string, ca?: Buffer): Promise<boolean> {
  if (!url.startsWith('https:')) return fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
  return new Promise((resolve) => {
    const req = httpsGet(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * The box's TLS files: readable, the key 0600 and matching, the certificate valid for a while yet
 * and naming the addresses the listeners bind to (loopback and wildcard addresses aside).
 */
export function tlsCheck(files: TlsFiles, hosts: readonly string[], now = Date.now()): DoctorCheck {
  try {
    loadTlsMaterial(files);
  } catch (err) {
    return { name: 'TLS files', verdict: 'fail', found: (err as Error).message, fix: 'make them with mcps tls init --dir DIR, or name the hospital\'s own files in "tls"' };
  }
  const cert = new X509Certificate(readFileSync(files.cert));
  const left = Date.parse(cert.validTo) - now;
  const days = Math.floor(left / 86_400_000);
  if (left <= 0) return { name: 'TLS files', verdict: 'fail', found: `${files.cert} expired on ${cert.validTo}`, fix: 'issue a new certificate (mcps tls init --renew --dir DIR, or from the hospital\'s PKI) and restart' };
  const unnamed = [...new Set(hosts)].filter((h) => !isLoopback(h) && h !== '0.0.0.0' && h !== '::' && (isIP(h) ? cert.checkIP(h) === undefined : cert.checkHost(h) === undefined));
  if (unnamed.length > 0) return { name: 'TLS files', verdict: 'warn', found: `${files.cert} does not name ${unnamed.join(', ')}: clients connecting there will refuse it`, fix: `issue it with --host ${unnamed.join(' --host ')} (mcps tls init --renew)` };
  if (days < 30) return { name: 'TLS files', verdict: 'warn', found: `${files.cert} expires in ${days} days (${cert.validTo})`, fix: 'renew it now: mcps tls init --renew --dir DIR, then restart' };
  return { name: 'TLS files', verdict: 'ok', found: `${files.cert}: key matches, valid until ${cert.validTo}` };
}

export async function portCheck(name: string, host: string, port: number, ownHealth?: string, ca?: Buffer): Promise<DoctorCheck> {
  if (port === 0) return { name, verdict: 'ok', found: `${host}:0 (a free port is picked at start)` };
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    s.listen(port, host, () => s.close(() => resolve(null)));
  });
  if (!err) return { name, verdict: 'ok', found: `${host}:${port} is free` };
  if (err.code === 'EADDRINUSE') {
    if (ownHealth) {
      const alive = await healthAnswers(ownHealth, ca);
      if (alive) return { name, verdict: 'warn', found: `${host}:${port} is in use by a running mcps service (its health answers)`, fix: 'fine if that is this service; stop it first to check the ports alone' };
    }
    return { name, verdict: 'fail', found: `${host}:${port} is in use by another process`, fix: `find it with \`ss -ltnp 'sport = :${port}'\`; stop it, or choose another port in the config` };
  }
  return { name, verdict: 'fail', found: `${host}:${port} cannot be bound: ${err.message}`, fix: err.code === 'EADDRNOTAVAIL' ? `${host} is not an address of this machine: use 127.0.0.1 or one of its interfaces` : 'check the host and port in the config' };
}

export function keyFilesCheck(dir: string): DoctorCheck {
  if (!existsSync(dir)) return { name: 'key files', verdict: 'warn', found: `${dir} does not exist yet`, fix: 'the keys are created (0600) at first start' };
  const loose: string[] = [];
  for (const f of readdirSync(dir)) {
    const st = statSync(join(dir, f));
    if (st.isFile() && (st.mode & 0o077) !== 0) loose.push(`${f} (${(st.mode & 0o777).toString(8)})`);
  }
  const dirMode = statSync(dir).mode & 0o077;
  if (loose.length > 0) return { name: 'key files', verdict: 'fail', found: `readable by group or others: ${loose.join(', ')}`, fix: `chmod 600 ${dir}/*; treat these keys as leaked: rotate them (the service refuses to start with them)` };
  if (dirMode !== 0) return { name: 'key files', verdict: 'warn', found: `${dir} is open to group or others`, fix: `chmod 700 ${dir}` };
  return { name: 'key files', verdict: 'ok', found: `every key in ${dir} is 0600` };
}

export function diskCheck(dataDir: string, budgetBytes?: number): DoctorCheck {
  const dir = existsSync(dataDir) ? dataDir : join(dataDir, '..');
  let free: number;
  try {
    const s = statfsSync(dir);
    free = s.bavail * s.bsize;
  } catch (err) {
    return { name: 'disk', verdict: 'warn', found: `cannot read free space of ${dir}: ${(err as Error).message}` };
  }
  const mb = (n: number): string => `${Math.round(n / 1048576)} MB`;
  let used = 0;
  for (const f of ['gateway.db', 'gateway.db-wal']) {
    try {
      used += statSync(join(dataDir, 'state', f)).size;
    } catch {
      // not there yet
    }
  }
  if (budgetBytes === undefined) return free < 1 << 30 ? { name: 'disk', verdict: 'warn', found: `${mb(free)} free`, fix: 'keep at least 1 GB free for the ciphertext store' } : { name: 'disk', verdict: 'ok', found: `${mb(free)} free` };
  const found = `state database ${mb(used)} of its ${mb(budgetBytes)} budget; ${mb(free)} free on the disk`;
  if (used >= budgetBytes) return { name: 'disk budget', verdict: 'fail', found, fix: 'the budget is full: new readings are refused until the chain node takes the outbox; check the chain node, or raise storage.budgetMB' };
  if (free < budgetBytes - used) return { name: 'disk budget', verdict: 'warn', found, fix: 'the disk would fill before the budget does: free space or lower storage.budgetMB' };
  if (used >= 0.8 * budgetBytes) return { name: 'disk budget', verdict: 'warn', found, fix: 'over 80%: is the chain node reachable? (mcps_gateway_outbox_batches)' };
  return { name: 'disk budget', verdict: 'ok', found };
}

/** Serial ports named in the config: present, a tty, readable and writable by this user, and set in the flow as their format expects. */
export function serialChecks(cfg: GatewayConfig): DoctorCheck[] {
  const out: DoctorCheck[] = [];
  const vars = cfg.serialPorts ?? {};
  let flows: Array<Record<string, unknown>> = [];
  try {
    flows = JSON.parse(readFileSync(join(cfg.dataDir, 'node-red', 'flows.json'), 'utf8')) as Array<Record<string, unknown>>;
  } catch {
    // no flow yet: the default flow's settings apply
  }
  for (const [name, path] of Object.entries(vars)) {
    if (!name.endsWith('_PORT') || !path.startsWith('/')) continue;
    const check = `serial ${name}`;
    if (!existsSync(path)) {
      out.push({ name: check, verdict: 'fail', found: `${path} does not exist`, fix: 'plug the device (or its USB adapter) in; `ls -l /dev/serial/by-id/` names adapters by serial number — use that path, it survives replugging' });
      continue;
    }
    const real = realpathSync(path);
    if (!statSync(real).isCharacterDevice()) {
      out.push({ name: check, verdict: 'fail', found: `${path} (${real}) is not a tty`, fix: 'point the variable at the serial device' });
      continue;
    }
    try {
      accessSync(real, constants.R_OK | constants.W_OK);
    } catch {
      out.push({ name: check, verdict: 'fail', found: `${path} (${real}) is not readable and writable by this user`, fix: 'add the service user to the dialout group: usermod -aG dialout mcps (then restart the service)' });
      continue;
    }
    const node = flows.find((n) => n.type === 'mcps-serial-port' && n.path === `\${${name}}`);
    if (!node) {
      out.push({ name: check, verdict: 'ok', found: `${path} → ${real}, a tty this user may open${flows.length ? ` (no serial port node of the flow uses \${${name}})` : ''}` });
      continue;
    }
    const parsed = parseSerialSettings({ ...node, path });
    if ('problems' in parsed) {
      out.push({ name: check, verdict: 'fail', found: `the flow's port settings are invalid: ${parsed.problems.map((p) => p.key).join(', ')}`, fix: 'open the serial port node in the editor and correct it' });
      continue;
    }
    const s = parsed.settings;
    const want = FORMAT_LINE[s.format];
    const have = { baud: s.baudRate, dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits };
    const same = want.baud === have.baud && want.dataBits === have.dataBits && want.parity === have.parity && want.stopBits === have.stopBits;
    const line = (l: typeof want): string => `${l.baud} ${l.dataBits}${l.parity[0]!.toUpperCase()}${l.stopBits}`;
    out.push(
      same
        ? { name: check, verdict: 'ok', found: `${path} → ${real}; ${s.format} at ${line(have)}` }
        : { name: check, verdict: 'warn', found: `${path}: the flow reads ${s.format} at ${line(have)}, its devices use ${line(want)}`, fix: 'unless this device is configured otherwise, set the port node to the format\'s line settings (choosing the format in the editor fills them in)' },
    );
  }
  if (out.length === 0) out.push({ name: 'serial', verdict: 'ok', found: 'no serial ports configured (serialPorts has no …_PORT path)' });
  return out;
}

export function clockCheck(chainTimeS: number, nowMs = Date.now()): DoctorCheck {
  const skew = Math.round(nowMs / 1000 - chainTimeS);
  const found = `this clock is ${Math.abs(skew)} s ${skew >= 0 ? 'ahead of' : 'behind'} the chain's latest block`;
  if (skew < -60) return { name: 'clock', verdict: 'fail', found, fix: 'this clock is behind the chain: enable time sync (timedatectl set-ntp true; a Pi has no RTC and needs the network time at boot)' };
  if (skew > 600) return { name: 'clock', verdict: 'warn', found, fix: 'either this clock runs ahead (check timedatectl) or the chain makes no blocks while idle (a development chain)' };
  return { name: 'clock', verdict: 'ok', found };
}

async function chainChecks(rpcUrl: string, registry: string, id: string, expect: (rec: Awaited<ReturnType<RegistryClient['getEntry']>>) => DoctorCheck): Promise<DoctorCheck[]> {
  const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  try {
    const block = await Promise.race([provider.getBlock('latest'), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no answer within 5 s')), 5000).unref())]);
    const out: DoctorCheck[] = [{ name: 'chain', verdict: 'ok', found: `${rpcUrl} answers (block ${block?.number ?? '?'})` }];
    if (block) out.push(clockCheck(block.timestamp));
    try {
      out.push(expect(await new RegistryClient(provider, registry).getEntry(id)));
    } catch (err) {
      out.push({ name: 'registration', verdict: 'fail', found: `cannot read registry ${registry}: ${(err as Error).message}`, fix: 'check chain.registry: the address of the consortium\'s Registry contract on this chain' });
    }
    return out;
  } catch (err) {
    return [{ name: 'chain', verdict: 'fail', found: `${rpcUrl} does not answer: ${(err as Error).message}`, fix: 'check chain.rpcUrl and the network; registration and clock cannot be checked until it answers' }];
  } finally {
    provider.destroy();
  }
}

/** The CA a health probe trusts: the config's tls.ca (the box's own certificate otherwise, for a self-signed one). */
function caOf(tls: TlsFiles | undefined): Buffer | undefined {
  try {
    return tls ? loadCa(tls.ca ?? tls.cert) : undefined;
  } catch {
    return undefined;
  }
}

export async function doctorGateway(configPath: string): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [nodeVersionCheck()];
  let cfg: GatewayConfig;
  try {
    cfg = loadGatewayConfig(configPath);
    out.push({ name: 'config', verdict: 'ok', found: `${configPath} is valid (gateway ${cfg.gatewayId})` });
  } catch (err) {
    out.push({ name: 'config', verdict: 'fail', found: (err as Error).message, fix: 'correct the field it names (docs/operations.md shows a complete gateway config)' });
    return out;
  }
  const health = cfg.metrics ? `${listenerTls(cfg, 'metrics') ? 'https' : 'http'}://${cfg.metrics.host}:${cfg.metrics.port}/healthz` : undefined;
  const ca = caOf(cfg.tls);
  if (cfg.tls) out.push(tlsCheck(cfg.tls, [cfg.mqtt.host, cfg.editor.host, ...(cfg.metrics ? [cfg.metrics.host] : [])]));
  out.push(await portCheck('editor port', cfg.editor.host, cfg.editor.port, health, ca));
  out.push(await portCheck('MQTT port', cfg.mqtt.host, mqttPort(cfg), health, ca));
  if (cfg.metrics) out.push(await portCheck('metrics port', cfg.metrics.host, cfg.metrics.port, health, ca));
  out.push(...serialChecks(cfg));
  out.push(keyFilesCheck(join(cfg.dataDir, 'keys')));
  out.push(diskCheck(cfg.dataDir, (cfg.storage?.budgetMB ?? 1024) * 1048576));
  let publicKey: Uint8Array | null = null;
  try {
    publicKey = blsPublicKey(readKeyFile(gatewayKeyPath(cfg.dataDir), 'mcps/gateway-bls'));
  } catch (err) {
    out.push({ name: 'registration', verdict: 'warn', found: `no usable gateway key: ${(err as Error).message}`, fix: 'start the gateway once to create its key, then register it (mcps admin)' });
  }
  if (publicKey) {
    const pk = publicKey;
    out.push(
      ...(await chainChecks(cfg.chain.rpcUrl, cfg.chain.registry, cfg.gatewayId, (rec) => {
        const record = rec ? { id: rec.id, role: rec.role, epoch: rec.epoch, status: rec.active ? ('active' as const) : ('revoked' as const), blsPublicKey: rec.blsPublicKey } : undefined;
        const r = registrationState(record, { gatewayId: cfg.gatewayId, publicKey: pk, registry: cfg.chain.registry });
        const fix: Record<string, string> = {
          'not-registered': `register gateway ${cfg.gatewayId} with this key and its proof of possession (the hospital's admin)`,
          'other-key': 'the registry holds another key for this id: a reinstalled box? register this key (rotate) or restore the old key file',
          revoked: 'this gateway was revoked: ask the hospital\'s admin',
          'not-a-gateway': `the id ${cfg.gatewayId} is registered as something else: choose another gatewayId`,
        };
        return r.state === 'registered' ? { name: 'registration', verdict: 'ok', found: `gateway ${cfg.gatewayId} is registered with this box's key (epoch ${r.epoch})` } : { name: 'registration', verdict: 'fail', found: `gateway ${cfg.gatewayId}: ${r.state}`, fix: fix[r.state] };
      })),
    );
  }
  return out;
}

export async function doctorChainNode(configPath: string): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [nodeVersionCheck()];
  let cfg: ChainNodeConfig;
  try {
    cfg = loadChainNodeConfig(configPath);
    out.push({ name: 'config', verdict: 'ok', found: `${configPath} is valid (node ${cfg.nodeId})` });
  } catch (err) {
    out.push({ name: 'config', verdict: 'fail', found: (err as Error).message, fix: 'correct the field it names (docs/operations.md shows a chain node config)' });
    return out;
  }
  const health = cfg.metrics ? `${cfg.metrics.tls ?? cfg.tls !== undefined ? 'https' : 'http'}://${cfg.metrics.host}:${cfg.metrics.port}/healthz` : undefined;
  const ca = caOf(cfg.tls);
  if (cfg.tls) out.push(tlsCheck(cfg.tls, [cfg.host, ...(cfg.metrics ? [cfg.metrics.host] : [])]));
  out.push(await portCheck('API port', cfg.host, cfg.port, health, ca));
  if (cfg.metrics) out.push(await portCheck('metrics port', cfg.metrics.host, cfg.metrics.port, health, ca));
  out.push(keyFilesCheck(join(cfg.dataDir, 'keys')));
  out.push(diskCheck(cfg.dataDir));
  out.push(
    ...(await chainChecks(cfg.chain.rpcUrl, cfg.chain.registry, cfg.nodeId, (rec) =>
      rec && rec.role === 'node' ? { name: 'registration', verdict: 'ok', found: `node ${cfg.nodeId} is registered (operator ${rec.operator})` } : { name: 'registration', verdict: 'fail', found: `node ${cfg.nodeId} is not registered as a chain node`, fix: 'a consortium admin registers the node with its operator address and keys' },
    )),
  );
  return out;
}

export function formatChecks(checks: DoctorCheck[]): string {
  const mark: Record<Verdict, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
  const lines = checks.map((c) => `${mark[c.verdict]}  ${c.name.padEnd(22)} ${c.found}${c.fix && c.verdict !== 'ok' ? `\n      ${' '.repeat(22)} → ${c.fix}` : ''}`);
  const fails = checks.filter((c) => c.verdict === 'fail').length;
  const warns = checks.filter((c) => c.verdict === 'warn').length;
  lines.push('', fails === 0 && warns === 0 ? 'all checks passed' : `${fails} failed, ${warns} warnings`);
  return lines.join('\n') + '\n';
}
