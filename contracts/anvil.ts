/**
 * Starts anvil — a real EVM node from the npm package @foundry-rs/anvil — on 127.0.0.1 with a port
 * chosen at run time, for the local stack and the tests. Hardfork Prague (EIP-2537 BLS precompiles),
 * instant mining. Its default accounts come from a public development mnemonic: they exist for a
 * local chain only and must never hold anything of value.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort } from '../common/free-port';

export interface RunningAnvil {
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const candidates: string[] = [];
  try {
    candidates.push(join(dirname(require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/package.json`)), 'bin', 'anvil'));
  } catch {
    // platform package not installed: try the wrapper's bin below
  }
  candidates.push(join(__dirname, '..', '..', 'node_modules', '.bin', 'anvil'));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`anvil binary not found for ${process.platform}-${process.arch} (looked in ${candidates.join(', ')}); run npm ci`);
  return found;
}

async function rpcAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }), signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

const running = new Set<ChildProcess>();
let exitHook = false;

export async function startAnvil(opts: { port?: number } = {}): Promise<RunningAnvil> {
  const bin = anvilBinary();
  if (!exitHook) {
    exitHook = true;
    // Never leave an orphaned chain behind, whatever way this process ends.
    process.on('exit', () => {
      for (const p of running) p.kill('SIGKILL');
    });
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = opts.port && opts.port > 0 ? opts.port : await freePort();
    const child = spawn(bin, ['--host', '127.0.0.1', '--port', String(port), '--hardfork', 'prague', '--silent'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      // Its own process group: a terminal Ctrl-C must not stop the chain before the stack has drained.
      detached: true,
    });
    running.add(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()).slice(-2000));
    let exited: number | null | undefined;
    const exit = new Promise<void>((r) => child.once('exit', (code) => {
      exited = code;
      running.delete(child);
      r();
    }));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    while (exited === undefined && Date.now() < deadline && !(await rpcAnswers(url))) await new Promise((r) => setTimeout(r, 100));
    if (exited === undefined && Date.now() < deadline) {
      return {
        url,
        port,
        process: child,
        stop: async () => {
          if (exited !== undefined) return;
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exit;
          clearTimeout(t);
        },
      };
    }
    child.kill('SIGKILL');
    await exit;
    if (!/address already in use/i.test(stderr) || opts.port) throw new Error(`anvil did not start on ${url}: ${stderr.trim() || `exit code ${String(exited)}`}`);
  }
  throw new Error('anvil: no free port after 5 attempts');
}
