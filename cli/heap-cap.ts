/**
 * The gateway's V8 heap cap, set by the gateway itself.
 *
 * A Raspberry-Pi-class box shares 1–4 GB between the OS and everything else, and Node's default heap
 * limit (about a quarter of RAM, several GB here) lets garbage pile up long before V8 collects it.
 * The gateway runs with `--max-old-space-size` = `memory.heapMB` of its config (default 128 MB,
 * the cap bench/footprint measures). V8 fixes the limit when the process starts, so when
 * `mcps gateway` finds itself without one (run by hand, by a supervisor that passes no flags) it
 * runs itself again with the flag, passing signals, exit status and the IPC channel through. A
 * process started with the flag already (the systemd unit, `mcps up`, NODE_OPTIONS) runs as it is:
 * an explicit cap wins. The launcher and the capped gateway are one unit to whoever started them:
 * the gateway holds a pipe from its launcher and ends at once (as if killed) when the launcher ends
 * without passing a signal (SIGKILL, a crash), so it never outlives it holding the data directory;
 * and the data-directory lock names the launcher's pid, the one the operator started and signals.
 *
 * The rerun also bounds V8's young generation (GATEWAY_YOUNG_GEN_ARGS): by default each
 * isolate (the main thread and the sealing worker) grows its new space to two 16 MB semi-spaces
 * under a steady flow of short-lived objects (every reading, every packet), about 55 MB of resident
 * memory for the two at 300 devices. With 2 MB semi-spaces the gateway's resident memory at 300
 * devices went from 209 to 158 MB (bench/footprint), the scavenges just run more often (each
 * shorter).
 *
 * The same rerun sets glibc's malloc to hand large blocks back to the system when they are freed
 * (MALLOC_MMAP_THRESHOLD_, see GATEWAY_MALLOC_ENV): each scrypt password check takes a 16 MB block
 * on a thread-pool thread, and with glibc's default (a threshold that rises after the first such
 * block) every pool thread kept its 16 MB for good, 64 MB of resident memory for nothing.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { LAUNCHER_PID_ENV } from '../common/dir-lock';

export const DEFAULT_GATEWAY_HEAP_MB = 128;

/**
 * V8 flags bounding the young generation of every isolate of the gateway (see above), and running
 * its garbage collection on the isolate's own thread (`--single-threaded-gc`): with 2 MB semi-spaces
 * V8 scavenges several times a second, and each parallel scavenge woke V8's helper threads to share
 * a few hundred kilobytes of work, costing more CPU in hand-offs than it saved (docs/raspberry-pi.md).
 */
export const GATEWAY_YOUNG_GEN_ARGS: readonly string[] = ['--max-semi-space-size=2', '--single-threaded-gc'];

const hasYoungGenFlag = (args: readonly string[]): boolean => args.some((a) => /^--max[-_]semi[-_]space[-_]size/.test(a));

/** Environment for the gateway process: blocks of 1 MB and more are mapped and unmapped, never kept in an arena. */
export const GATEWAY_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '1048576' };

const hasMallocEnv = (env: NodeJS.ProcessEnv): boolean => Object.entries(GATEWAY_MALLOC_ENV).every(([k, v]) => env[k] === v);

/** The cap given to this process by flag or NODE_OPTIONS, in MB; null when none. */
export function explicitHeapCapMb(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): number | null {
  const all = [...execArgv, ...nodeOptions.split(/\s+/)].join(' ');
  const m = /--max[-_]old[-_]space[-_]size[= ](\d+)/.exec(all);
  return m ? Number(m[1]) : null;
}

/** memory.heapMB of a gateway config file (default 128); the file is validated properly later. */
export function configuredHeapMb(configPath: string): number {
  try {
    const v = (JSON.parse(readFileSync(configPath, 'utf8')) as { memory?: { heapMB?: unknown } }).memory?.heapMB;
    return typeof v === 'number' && Number.isInteger(v) && v >= 64 ? v : DEFAULT_GATEWAY_HEAP_MB;
  } catch {
    return DEFAULT_GATEWAY_HEAP_MB;
  }
}

/** Node flags that start a gateway under its cap (for a parent that forks it: `mcps up`). */
export function heapCapArgs(configPath: string): string[] {
  return [`--max-old-space-size=${configuredHeapMb(configPath)}`, ...GATEWAY_YOUNG_GEN_ARGS];
}

/**
 * Runs this command again under the heap cap unless it has one; resolves with the child's exit
 * code when it did (the caller exits with it), or null when this process should go on itself.
 */
export async function rerunUnderHeapCap(heapMb: number): Promise<number | null> {
  const explicit = explicitHeapCapMb();
  if ((explicit !== null && hasMallocEnv(process.env)) || process.env.MCPS_HEAP_CAP_SET === '1') return null;
  const ipc = typeof process.send === 'function';
  const cap = explicit === null ? [`--max-old-space-size=${heapMb}`] : [];
  const young = hasYoungGenFlag([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]) ? [] : GATEWAY_YOUNG_GEN_ARGS;
  // fd 3 of the child: a pipe it only watches for the launcher's end (see watchLauncher).
  const child = spawn(process.execPath, [...process.execArgv, ...cap, ...young, ...process.argv.slice(1)], {
    stdio: ipc ? ['inherit', 'inherit', 'inherit', 'pipe', 'ipc'] : ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, ...GATEWAY_MALLOC_ENV, MCPS_HEAP_CAP_SET: '1', [LAUNCHER_PID_ENV]: String(process.pid), [LAUNCHER_FD_ENV]: '3' },
  });
  if (ipc) {
    child.on('message', (m) => process.send?.(m));
    process.on('message', (m) => {
      if (child.connected) child.send(m as Parameters<typeof child.send>[0]);
    });
  }
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const s of signals) process.on(s, () => child.kill(s));
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      if (ipc) process.disconnect?.();
      resolve(code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15) : 1));
    });
  });
}

/** Set in the capped gateway's environment: the fd of the pipe from its launcher (its pid: LAUNCHER_PID_ENV). */
const LAUNCHER_FD_ENV = 'MCPS_LAUNCHER_FD';

/**
 * In a gateway run again under its heap cap: ends this process at once when its launcher is gone
 * (the pipe from it closes). A launcher that got SIGTERM or SIGINT passed it on and waits for the
 * drain, so the pipe closing means the launcher was killed outright or crashed; the gateway then
 * stops the same way (SIGKILL), as the durability design expects of any crash, and its data
 * directory is free for the next start at once. Returns whether a launcher is watched.
 */
export function watchLauncher(env: NodeJS.ProcessEnv = process.env): boolean {
  const fd = Number(env[LAUNCHER_FD_ENV]);
  if (env.MCPS_HEAP_CAP_SET !== '1' || !Number.isInteger(fd) || fd < 3) return false;
  // Required lazily: only the capped gateway needs node:net here.
  const { Socket } = require('node:net') as typeof import('node:net');
  const pipe = new Socket({ fd, readable: true, writable: false });
  const gone = (): void => {
    process.kill(process.pid, 'SIGKILL');
  };
  pipe.on('end', gone);
  pipe.on('close', gone);
  pipe.on('error', gone);
  pipe.resume();
  pipe.unref();
  return true;
}
