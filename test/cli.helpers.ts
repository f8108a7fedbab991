// Runs the real `mcps` command (the compiled CLI) as a child process, as a user's shell would.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const MCPS = join(__dirname, '..', 'cli', 'mcps.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function mcps(args: string[], o: { cwd?: string; env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MCPS, ...args], { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(o.input ?? '');
  });
}

/** The last line of stdout as JSON (what --json prints). */
export function lastJson(r: CliResult): Record<string, unknown> {
  const lines = r.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
  } catch {
    throw new Error(`no JSON on stdout (code ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}
