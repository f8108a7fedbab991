/**
 * The chain node's HTTP API. Everything but health runs inside a handshake session
 * (docs/protocol.md): there is no unauthenticated way to submit a batch.
 *   POST /v1/handshake/m1            body: M1 (octet-stream)          → {handshake, m2 (base64)}
 *   POST /v1/handshake/m3            body: {handshake, m3 (base64)}    → {session}
 *   POST /v1/sessions/<session id>   body: a sealed record            → a sealed reply (octet-stream)
 *   GET  /v1/health                                                   → {nodeId, ok, counters}
 * Handshake refusals answer 400 "handshake refused" (the reason is only in the local log); an
 * unknown or ended session answers 401, telling the gateway to make a new handshake.
 */
import type { LogFn } from '../common/log';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeSessionRequest, encodeSessionReply, type SessionReply } from '../protocol/session-messages';
import { IngestError, type BatchIngest } from './ingest';
import { HandshakeRefused, SessionUnknown, type HandshakeService } from './sessions';

export const MAX_BODY_BYTES = 32 * 1024 * 1024;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function jsonBody(b: Buffer): Record<string, unknown> {
  try {
    const x = JSON.parse(b.toString('utf8')) as unknown;
    if (typeof x === 'object' && x !== null && !Array.isArray(x)) return x as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'body must be a JSON object');
}

export interface ChainNodeServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startHttpApi(opts: { host: string; port: number; nodeId: string; ingest: BatchIngest; handshakes: HandshakeService; log: LogFn; userRequests?: (peer: { id: string }, plaintext: Uint8Array) => Promise<Uint8Array> }): Promise<ChainNodeServer> {
  const handleRequest = async (peer: { id: string; role: string }, plaintext: Uint8Array): Promise<Uint8Array> => {
    // Data users' queries (chain-node/data-api/): their own messages, their own checks.
    if (peer.role === 'user' && opts.userRequests) return opts.userRequests(peer, plaintext);
    let reply: SessionReply;
    try {
      const req = decodeSessionRequest(plaintext);
      if (peer.role !== 'gateway' || req.submission.gatewayId !== peer.id) {
        reply = { ok: false, status: 403, error: `session peer ${peer.id} (${peer.role}) may not submit batches for ${req.submission.gatewayId}` };
      } else {
        reply = { ok: true, receipt: await opts.ingest.submit(req.submission) };
      }
    } catch (err) {
      if (err instanceof IngestError) reply = { ok: false, status: err.status, error: err.message };
      else if (err instanceof RangeError) reply = { ok: false, status: 400, error: err.message };
      else {
        opts.log('warn', `internal error on a session request: ${(err as Error).stack ?? String(err)}`);
        reply = { ok: false, status: 503, error: 'temporarily unable to process the batch; retry' };
      }
    }
    return encodeSessionReply(reply);
  };

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const url = req.url ?? '';
        if (req.method === 'GET' && url === '/v1/health') {
          return sendJson(res, 200, { nodeId: opts.nodeId, ok: true, counters: { ...opts.ingest.counters, ...opts.handshakes.counters } });
        }
        if (req.method !== 'POST') throw new HttpError(url.startsWith('/v1/') ? 405 : 404, `no route ${req.method} ${url}`);
        if (url === '/v1/handshake/m1') {
          const { handshakeId, m2 } = await opts.handshakes.m1(await readBody(req));
          return sendJson(res, 200, { handshake: handshakeId, m2: Buffer.from(m2).toString('base64') });
        }
        if (url === '/v1/handshake/m3') {
          const b = jsonBody(await readBody(req));
          if (typeof b.handshake !== 'string' || typeof b.m3 !== 'string') throw new HttpError(400, 'expected {handshake, m3}');
          const { sessionId } = await opts.handshakes.m3(b.handshake, Buffer.from(b.m3, 'base64'));
          return sendJson(res, 200, { session: sessionId });
        }
        const m = /^\/v1\/sessions\/([0-9a-f]{32})$/.exec(url);
        if (m) {
          const sealed = await opts.handshakes.record(m[1]!, await readBody(req), handleRequest);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': sealed.length });
          return res.end(sealed);
        }
        throw new HttpError(404, `no route ${req.method} ${url}`);
      } catch (err) {
        if (err instanceof HandshakeRefused) return sendJson(res, 400, { error: 'handshake refused' });
        if (err instanceof SessionUnknown) return sendJson(res, 401, { error: err.message });
        if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message });
        opts.log('warn', `internal error on ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
        sendJson(res, 503, { error: 'temporarily unavailable; retry' });
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
