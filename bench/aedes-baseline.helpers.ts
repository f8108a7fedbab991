/**
 * The baseline broker for bench/ingest: a plain aedes with its defaults (in-memory persistence, no
 * authentication, no hooks) in its own process, like the gateway. Prints its port and waits.
 */
import { Aedes } from 'aedes';
import { createServer, type AddressInfo } from 'node:net';

async function main(): Promise<void> {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
  process.on('SIGTERM', () => aedes.close(() => server.close(() => process.exit(0))));
}

void main();
