/**
 * Secrets taken from standard input (a device password, an account key, a passphrase): the first
 * line of a pipe, or one line typed at a terminal after a prompt on stderr. Never echoed back.
 */
import { createInterface } from 'node:readline';

export async function readStdin(what: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) process.stderr.write(`${what}: `);
  const rl = createInterface({ input: stdin, terminal: false });
  try {
    for await (const line of rl) return line.replace(/\r$/, '');
  } finally {
    rl.close();
  }
  throw new Error(`expected ${what} on stdin, got nothing`);
}
