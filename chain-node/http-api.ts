/**
 * The chain node's HTTP API.
 *   POST /v1/batches   body: BatchSubmission (JSON) → 200 SignedReceipt | 4xx {error}
 *   GET  /v1/health    → {nodeId, ok, counters}
 * Bodies are capped; every refusal answers JSON {error} naming what was wrong.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseSubmission } from '../protocol/submission';
import { IngestError, type BatchIngest } from './ingest';

export const MAX_BODY_BYTES = 32 * 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new IngestError(413, `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface ChainNodeServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startHttpApi(opts: { host: string; port: number; nodeId: string; ingest: BatchIngest; log: (level: 'info' | 'warn', msg: string) => void }): Promise<ChainNodeServer> {
  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.method === 'GET' && req.url === '/v1/health') {
          return send(res, 200, { nodeId: opts.nodeId, ok: true, counters: opts.ingest.counters });
        }
        if (req.url === '/v1/batches') {
          if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
          if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return send(res, 415, { error: 'content-type must be application/json' });
          const body = await readBody(req);
          let parsed: unknown;
          try {
            parsed = JSON.parse(body.toString('utf8'));
          } catch (err) {
            throw new IngestError(400, `body is not JSON: ${(err as Error).message}`);
          }
          let sub;
          try {
            sub = parseSubmission(parsed);
          } catch (err) {
            throw new IngestError(400, (err as Error).message);
          }
          return send(res, 200, await opts.ingest.submit(sub));
        }
        send(res, 404, { error: `no route ${req.method} ${req.url}` });
      } catch (err) {
        if (err instanceof IngestError) return send(res, err.status, { error: err.message });
        opts.log('warn', `internal error on ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
        send(res, 503, { error: 'temporarily unable to process the batch; retry' });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://${opts.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
