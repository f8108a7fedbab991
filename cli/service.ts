/**
 * `mcps service install gateway|chain-node --config FILE`: the systemd unit for a service, rendered
 * from deploy/systemd/ with this box's paths (node, this package, the config, the data directory —
 * the only path the service may write), written to /etc/systemd/system (or printed), and the
 * commands that finish the job: the service user (in the dialout group for serial ports), the data
 * directory's owner, daemon-reload and enable. Nothing runs as root behind the operator's back.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadGatewayConfig } from '../gateway/config';
import { loadChainNodeConfig } from '../chain-node/config';
import { DEFAULT_GATEWAY_HEAP_MB, configuredHeapMb } from './heap-cap';

export type ServiceRole = 'gateway' | 'chain-node';

/** The package root: dist/cli → ../.. */
export const PACKAGE_ROOT = resolve(__dirname, '..', '..');

export function unitTemplate(role: ServiceRole): string {
  return readFileSync(join(PACKAGE_ROOT, 'deploy', 'systemd', `mcps-${role}.service`), 'utf8');
}

export interface UnitParams {
  node: string;
  mcps: string;
  config: string;
  user: string;
  dataDir: string;
  packageRoot: string;
  /** The gateway's V8 heap cap (memory.heapMB of its config). */
  heapMb?: number;
}

export function renderUnit(role: ServiceRole, p: UnitParams): string {
  const { heapMb, ...paths } = p;
  for (const [k, v] of Object.entries(paths)) {
    // systemd splits on whitespace and treats % and $ specially: refuse such paths rather than escape them.
    if (/[\s%$"'\\]/.test(v)) throw new Error(`${k} "${v}" contains a space, quote, % or $: use a path without them`);
  }
  const out = unitTemplate(role)
    .replaceAll('@NODE@', p.node)
    .replaceAll('@MCPS@', p.mcps)
    .replaceAll('@CONFIG@', p.config)
    .replaceAll('@USER@', p.user)
    .replaceAll('@DATA_DIR@', p.dataDir)
    .replaceAll('@PACKAGE@', p.packageRoot)
    .replaceAll('@HEAP_MB@', String(heapMb ?? DEFAULT_GATEWAY_HEAP_MB));
  const left = /@[A-Z_]+@/.exec(out);
  if (left) throw new Error(`unit template mcps-${role}.service: ${left[0]} not filled in`);
  return out;
}

export function dataDirOf(role: ServiceRole, configPath: string): string {
  return resolve(role === 'gateway' ? loadGatewayConfig(configPath).dataDir : loadChainNodeConfig(configPath).dataDir);
}

export function installService(o: { role: ServiceRole; config: string; user: string; unitDir: string; print: boolean }): string {
  const config = resolve(o.config);
  const dataDir = dataDirOf(o.role, config);
  const unit = renderUnit(o.role, { node: process.execPath, mcps: join(PACKAGE_ROOT, 'dist', 'cli', 'mcps.js'), config, user: o.user, dataDir, packageRoot: PACKAGE_ROOT, ...(o.role === 'gateway' ? { heapMb: configuredHeapMb(config) } : {}) });
  const name = `mcps-${o.role}.service`;
  if (o.print) return unit;
  mkdirSync(o.unitDir, { recursive: true });
  const path = join(o.unitDir, name);
  writeFileSync(path, unit, { mode: 0o644 });
  const groups = o.role === 'gateway' ? ' --groups dialout' : '';
  return [
    `wrote ${path}`,
    'now, as root:',
    `  id ${o.user} >/dev/null 2>&1 || useradd --system --no-create-home --home-dir ${dataDir} --shell /usr/sbin/nologin${groups} ${o.user}`,
    ...(o.role === 'gateway' ? [`  usermod -aG dialout ${o.user}    # serial ports`] : []),
    `  install -d -m 0700 -o ${o.user} -g ${o.user} ${dataDir} && chown -R ${o.user}:${o.user} ${dataDir}`,
    `  chmod 0640 ${config} && chgrp ${o.user} ${config}`,
    `  systemctl daemon-reload && systemctl enable --now ${name}`,
    `  systemctl status ${name}; journalctl -u ${name} -f -o cat    # JSON log lines`,
    existsSync('/run/systemd/system') ? '' : '(systemd does not run on this machine: the unit is written but cannot start here)',
  ]
    .filter(Boolean)
    .join('\n');
}
