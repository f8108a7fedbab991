/**
 * The monitoring listener of a service (gateway or chain node), on its own port (127.0.0.1 unless
 * configured otherwise), apart from the API and the editor:
 *   GET /metrics  Prometheus text format (prom-client registry)
 *   GET /healthz  alive: the event loop answers (200 {"status":"alive"})
 *   GET /readyz   ready: every readiness check passes (200), else 503; the body names each check
 * Nothing here changes state; HEAD works like GET; anything else is 405, unknown paths 404.
 */
import type { Server } from 'node:http';
import { httpServer, type TlsMaterial } from './tls';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { LogFn } from './log';

export interface ReadinessCheck {
  readonly name: string;
  readonly ok: boolean;
  /** What was found, and when not ok, what to do. */
  readonly detail: string;
}

export interface MonitoringOptions {
  host: string;
  port: number;
  registry: Registry;
  readiness: () => Promise<ReadinessCheck[]>;
  log?: LogFn;
  /** HTTPS (Prometheus then scrapes with scheme: https and the CA in tls_config). */
  tls?: TlsMaterial;
}

export interface MonitoringServer {
  readonly server: Server;
  readonly port: number;
  /** http://host:port (the base; /metrics, /healthz and /readyz under it). */
  readonly url: string;
  close(): Promise<void>;
}

export async function startMonitoringServer(opts: MonitoringOptions): Promise<MonitoringServer> {
  const server = httpServer((req, res) => {
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
    void (async () => {
      try {
        if (path === '/metrics') return send(200, opts.registry.contentType, await opts.registry.metrics());
        if (path === '/healthz') return send(200, 'application/json', JSON.stringify({ status: 'alive', uptimeS: Math.round(process.uptime()) }) + '\n');
        if (path === '/readyz') {
          const checks = await opts.readiness();
          const ready = checks.every((c) => c.ok);
          return send(ready ? 200 : 503, 'application/json', JSON.stringify({ status: ready ? 'ready' : 'not ready', checks }) + '\n');
        }
        send(404, 'text/plain; charset=utf-8', 'not found: /metrics, /healthz, /readyz\n');
      } catch (err) {
        opts.log?.('warn', `monitoring: ${path} failed: ${(err as Error).message}`, { component: 'monitoring', event: 'scrape-failed', path });
        send(500, 'text/plain; charset=utf-8', 'internal error\n');
      }
    })();
  }, opts.tls);
  // Scrapes are short; a stuck client must not hold a socket for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`metrics port ${opts.host}:${opts.port} is in use (another process, or another gateway on this box): choose another "metrics.port"`) : err),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    port,
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
