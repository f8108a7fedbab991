/**
 * The running gateway follows devices.json: `mcps devices add|remove|passwd|move` (or any atomic
 * rewrite) takes effect without a restart. The file is watched (inotify through fs.watch on its
 * directory, since an atomic write replaces the file) and also checked every `pollMs` for
 * filesystems that do not report changes. A reload swaps the device set in place and reports what
 * changed; the caller disconnects the sessions of removed and changed devices, and devices that
 * did not change keep their connections. A file that does not parse is logged and the gateway
 * keeps the devices it had.
 */
import { watch, statSync, readFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { LogFn } from '../../common/log';
import { parseDevicesFile, type DeviceChanges, type DeviceCredentials } from './device-credentials';

export interface DeviceWatch {
  /** Reloads now (tests, and after a signal); resolves with what changed. */
  reload(): DeviceChanges | null;
  close(): void;
}

export interface DeviceWatchOptions {
  path: string;
  devices: DeviceCredentials;
  log: LogFn;
  onChange(changes: DeviceChanges): void;
  pollMs?: number;
  debounceMs?: number;
}

export function watchDevices(o: DeviceWatchOptions): DeviceWatch {
  const stamp = (): string => {
    try {
      const s = statSync(o.path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'absent';
    }
  };
  let seen = stamp();
  let lastBad = '';
  const apply = (): DeviceChanges | null => {
    seen = stamp();
    let changes: DeviceChanges;
    try {
      const entries = seen === 'absent' ? [] : parseDevicesFile(readFileSync(o.path, 'utf8'), `devices file ${o.path}`);
      changes = o.devices.replace(entries);
    } catch (err) {
      const msg = (err as Error).message;
      if (msg !== lastBad) o.log('error', `${msg}: keeping the ${o.devices.list().length} devices loaded before`, { component: 'devices', event: 'reload-refused' });
      lastBad = msg;
      return null;
    }
    lastBad = '';
    const { added, removed, changed } = changes;
    if (added.length + removed.length + changed.length > 0) {
      const say = (what: string, ids: string[]): string => (ids.length ? `${what} ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ` and ${ids.length - 10} more` : ''}` : '');
      o.log('info', `devices reloaded: ${[say('added', added), say('removed', removed), say('changed', changed)].filter(Boolean).join('; ')} (${o.devices.list().length} registered)`, { component: 'devices', event: 'reloaded', added: added.length, removed: removed.length, changed: changed.length });
      o.onChange(changes);
    }
    return changes;
  };
  let timer: NodeJS.Timeout | null = null;
  const soon = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      apply();
    }, o.debounceMs ?? 100);
  };
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dirname(o.path), { persistent: false }, (_event, name) => {
      if (name === null || name === basename(o.path)) soon();
    });
    watcher.on('error', () => undefined); // the poll below still sees changes
  } catch {
    watcher = null; // no inotify here: polling only
  }
  const poll = setInterval(() => {
    if (stamp() !== seen) soon();
  }, o.pollMs ?? 2000);
  poll.unref();
  return {
    reload: apply,
    close: () => {
      watcher?.close();
      clearInterval(poll);
      if (timer) clearTimeout(timer);
    },
  };
}

/** Closes the MQTT sessions of these devices on the embedded broker (they must log in again). */
export function closeDeviceSessions(aedes: object, ids: readonly string[]): number {
  // aedes keeps connected clients by id in `clients`, which its typings do not declare.
  const clients = (aedes as { clients?: Record<string, { close(cb?: () => void): void } | undefined> }).clients ?? {};
  let n = 0;
  for (const id of ids) {
    const c = clients[id];
    if (c) {
      c.close();
      n++;
    }
  }
  return n;
}
