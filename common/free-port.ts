/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for services that must know their port before
 * they start or keep it across restarts (the local stack hands ports to its children; the crash drill
 * restarts the gateway and the chain node, whose peers have the old address).
 *
 * The port is chosen *below* the kernel's ephemeral range (Linux: /proc/sys/net/ipv4/
 * ip_local_port_range, usually 32768-60999). Asking the kernel for port 0 would give an ephemeral
 * port, and between our check and the child's listen() any outgoing connection on the machine (a
 * thousand simulated devices, an RPC client) may be given that same port as its local end — the
 * child then fails with EADDRINUSE. Ports outside the ephemeral range are never handed out that way,
 * so only another listener can take one, and we test for that by binding it.
 */
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';

const LOWEST = 10000;
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
export function ephemeralLow(rangeFile = '/proc/sys/net/ipv4/ip_local_port_range'): number {
  try {
    const low = Number(readFileSync(rangeFile, 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1000 ? low : 32768;
  } catch {
    return 32768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (high - LOWEST + 1));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: no free port found in ${LOWEST}-${high} on 127.0.0.1 after 200 tries`);
}
