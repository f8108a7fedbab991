/**
 * Pseudo-terminal pairs for simulated serial devices: the device side writes into the master, the
 * gateway opens the slave path (/dev/pts/N) with serialport exactly as it would open /dev/ttyUSB0.
 * Node has no openpty(), so a small python3 bridge (device-sim/pty-bridge.py; python3 ships with
 * Debian and Raspberry Pi OS) holds the pair and relays bytes over its stdio.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface PtyPair {
  readonly path: string;
  write(bytes: Uint8Array): Promise<void>;
  onData(cb: (b: Buffer) => void): void;
  close(): Promise<void>;
}

function bridgeScript(): string {
  for (const p of [join(__dirname, 'pty-bridge.py'), resolve(__dirname, '..', '..', 'device-sim', 'pty-bridge.py')]) {
    if (existsSync(p)) return p;
  }
  throw new Error('device-sim/pty-bridge.py not found next to the simulator (run npm run build)');
}

export async function openPtyPair(): Promise<PtyPair> {
  const script = bridgeScript();
  const child: ChildProcess = spawn('python3', ['-u', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const listeners: Array<(b: Buffer) => void> = [];
  const path = await new Promise<string>((resolvePath, reject) => {
    let head = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(0x0a);
      if (nl < 0) return;
      child.stdout!.off('data', onData);
      try {
        const p = (JSON.parse(head.subarray(0, nl).toString('utf8')) as { path?: unknown }).path;
        if (typeof p !== 'string' || !p.startsWith('/dev/')) throw new Error(`bad first line ${head.subarray(0, nl).toString()}`);
        resolvePath(p);
      } catch (err) {
        reject(new Error(`pty bridge: ${(err as Error).message}`));
      }
      const rest = head.subarray(nl + 1);
      child.stdout!.on('data', (b: Buffer) => listeners.forEach((l) => l(b)));
      if (rest.length > 0) listeners.forEach((l) => l(rest));
    };
    child.stdout!.on('data', onData);
    child.once('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code === 'ENOENT' ? 'python3 is not installed: it is needed to create pseudo-terminals for simulated serial devices' : `pty bridge: ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`pty bridge exited (code ${code}) before opening a pty: ${stderr.trim()}`)));
  });
  return {
    path,
    write: (bytes) =>
      new Promise<void>((res, rej) => {
        child.stdin!.write(bytes, (err) => (err ? rej(err) : res()));
      }),
    onData: (cb) => listeners.push(cb),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    },
  };
}
