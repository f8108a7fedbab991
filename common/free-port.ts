/**
 * A TCP port on 127.0.0.1 that was free a moment ago (listen on 0, read the port, close). For
 * services that must keep their port across restarts (the crash drill restarts the gateway and the
 * chain node, whose peers have the old address).
 */
import { createServer, type AddressInfo } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
