/**
 * Forking and stopping the stack's child processes (gateway, chain node) from `mcps up`.
 * Each child is `mcps <role> --config FILE` with an IPC channel; its stderr log is prefixed and
 * passed through; stop() asks politely (IPC + SIGTERM) and kills after a grace period.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { ChildMessage, ParentMessage } from './ipc';
import { GATEWAY_MALLOC_ENV, GATEWAY_YOUNG_GEN_ARGS, explicitHeapCapMb, heapCapArgs } from './heap-cap';

export interface Child {
  readonly proc: ChildProcess;
  readonly role: string;
  send(m: ParentMessage): void;
  waitFor<T extends ChildMessage['type']>(type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>>;
  stop(graceMs?: number): Promise<void>;
}

export function forkChild(role: 'gateway' | 'chain-node', configPath: string, onMessage: (m: ChildMessage) => void, onLog: (line: string) => void): Child {
  // MCPS_CHILD_NODE_ARGS passes extra Node.js flags to the children (e.g. "--cpu-prof" to profile).
  const extra = (process.env.MCPS_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // The gateway starts under its heap cap (memory.heapMB of its config) unless told otherwise.
  const parentCap = process.execArgv.filter((a) => !/^--max[-_]old[-_]space[-_]size/.test(a));
  const gatewayArgs = explicitHeapCapMb(extra, '') === null ? heapCapArgs(configPath) : [...GATEWAY_YOUNG_GEN_ARGS];
  const execArgv = [...parentCap, ...(role === 'gateway' ? gatewayArgs : []), ...extra];
  const proc = fork(join(__dirname, 'mcps.js'), [role, '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv, env: role === 'gateway' ? { ...process.env, ...GATEWAY_MALLOC_ENV } : process.env });
  let exited = false;
  const exit = new Promise<void>((resolve) => proc.once('exit', () => {
    exited = true;
    resolve();
  }));
  const lines = (s: NodeJS.ReadableStream | null): void => {
    let buf = '';
    s?.setEncoding('utf8');
    s?.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLog(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  };
  lines(proc.stdout);
  lines(proc.stderr);
  proc.on('message', (m: ChildMessage) => onMessage(m));
  return {
    proc,
    role,
    send: (m) => {
      if (proc.connected) proc.send(m);
    },
    waitFor: (type, timeoutMs) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          cleanup();
          reject(new Error(`${role}: no "${type}" within ${timeoutMs} ms`));
        }, timeoutMs);
        const onMsg = (m: ChildMessage): void => {
          if (m.type === type) {
            cleanup();
            resolve(m as Extract<ChildMessage, { type: typeof type }>);
          } else if (m.type === 'fatal') {
            cleanup();
            reject(new Error(`${role}: ${m.error}`));
          }
        };
        const onExit = (code: number | null): void => {
          cleanup();
          reject(new Error(`${role} exited (code ${code}) before "${type}"`));
        };
        const cleanup = (): void => {
          clearTimeout(t);
          proc.off('message', onMsg);
          proc.off('exit', onExit);
        };
        proc.on('message', onMsg);
        proc.once('exit', onExit);
      }),
    stop: async (graceMs = 10_000) => {
      if (exited) return;
      if (proc.connected) proc.send({ type: 'stop' } satisfies ParentMessage);
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(t);
    },
  };
}
