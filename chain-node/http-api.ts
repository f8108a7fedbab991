/**
 * The chain node's HTTP API. Everything but health runs inside a handshake session
 * (docs/protocol.md): there is no unauthenticated way to submit a batch.
 *   POST /v1/handshake/m1            body: M1 (octet-stream)          → {handshake, m2 (base64)}
 *   POST /v1/handshake/m3            body: {handshake, m3 (base64)}    → {session}
 *   POST /v1/sessions/<session id>   body: a sealed record            → a sealed reply (octet-stream)
 *   GET  /v1/health                                                   → {nodeId, ok}
 * Handshake refusals answer 400 "handshake refused" (the reason is only in the local log); an
 * unknown or ended session answers 401, telling the gateway to make a new handshake. Bodies are
 * bounded per route before they are read (http-limits.ts): 413 too large, 408 too slow, 429 and
 * 503 when a bound on what one peer or all peers may hold is reached.
 */
import type { LogFn } from '../common/log';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { httpServer, type TlsMaterial } from '../common/tls';
import type { AddressInfo, Socket } from 'node:net';
import { ExpiringTable, SourceBuckets } from './source-limits';
import { DEFAULT_HTTP_LIMITS, MAX_M1_BYTES, MAX_M3_REQUEST_BYTES, type HttpLimits } from './http-limits';
import { decodeSessionRequest, encodeSessionReply, type BatchResult, type SessionReply } from '../protocol/session-messages';
import { IngestError, type BatchIngest } from './ingest';
import { HandshakeRefused, RecordRefused, SessionUnknown, Throttled, type HandshakeService } from './sessions';

/** A refused request's unread body up to this size is drained rather than the connection closed. */
const SMALL_BODY_DRAINED = 64 * 1024;

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

/**
 * Reads a body of at most `limit` bytes within `deadlineMs`: a declared length over the limit is
 * refused before any byte is read, a body without a declared length is counted as it streams.
 */
function readBody(req: IncomingMessage, limit: number, deadlineMs: number, reserve: (n: number) => void = () => undefined): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && !(Number(declared) <= limit)) return Promise.reject(new HttpError(413, `body over ${limit} bytes`));
  if (declared !== undefined) reserve(Number(declared));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (err: HttpError): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.pause();
      reject(err);
    };
    const timer = setTimeout(() => fail(new HttpError(408, `body not received within ${deadlineMs} ms`)), deadlineMs);
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) return fail(new HttpError(413, `body over ${limit} bytes`));
      if (declared === undefined) {
        try {
          reserve(chunk.length);
        } catch (err) {
          return fail(err as HttpError);
        }
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.once('error', () => fail(new HttpError(400, 'request aborted')));
  });
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

export async function startHttpApi(opts: { host: string; port: number; nodeId: string; ingest: BatchIngest; handshakes: HandshakeService; log: LogFn; tls?: TlsMaterial; userRequests?: (peer: { id: string }, plaintext: Uint8Array) => Promise<Uint8Array>; userSession?: (peer: { id: string }) => void; limits?: Partial<HttpLimits> }): Promise<ChainNodeServer> {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  let bufferedRecordBytes = 0;
  // A source that sent a record that did not open (forged, or the session id was sniffed) may send
  // only a few records per second for a minute: opening a large forged record costs the node an
  // AEAD pass over it, and honest gateways send one record at a time.
  const recordSuspects = new ExpiringTable<true>(4096);
  const suspectRecords = new SourceBuckets(limits.suspectRecordsPerS, 2 * limits.suspectRecordsPerS);
  /** Record bytes being buffered, per source address. */
  const bufferedBySource = new Map<string, number>();
  const handleRequest = async (peer: { id: string; role: string }, plaintext: Uint8Array): Promise<Uint8Array> => {
    // Data users' queries (chain-node/data-api/): their own messages, their own checks.
    if (peer.role === 'user' && opts.userRequests) return opts.userRequests(peer, plaintext);
    const resultOf = (err: unknown): BatchResult => {
      if (err instanceof IngestError) return { ok: false, status: err.status, error: err.message };
      if (err instanceof RangeError) return { ok: false, status: 400, error: err.message };
      opts.log('warn', `internal error on a session request: ${(err as Error).stack ?? String(err)}`);
      return { ok: false, status: 503, error: 'temporarily unable to process the batch; retry' };
    };
    let reply: SessionReply;
    try {
      const req = decodeSessionRequest(plaintext);
      const subs = req.type === 'submit-batch' ? [req.submission] : req.submissions;
      const foreign = subs.find((s) => s.gatewayId !== peer.id);
      if (peer.role !== 'gateway' || foreign) {
        reply = { ok: false, status: 403, error: `session peer ${peer.id} (${peer.role}) may not submit batches for ${(foreign ?? subs[0]!).gatewayId}` };
      } else if (req.type === 'submit-batch') {
        reply = { ok: true, receipt: await opts.ingest.submit(req.submission) };
      } else {
        // Handed to ingest in order (its per-gateway queue keeps them so); each checked and stored
        // before it is anchored, so consecutive batches fold into one transaction.
        const settled = await Promise.allSettled(req.submissions.map((x) => opts.ingest.submit(x)));
        reply = { ok: true, results: settled.map((r) => (r.status === 'fulfilled' ? { ok: true, receipt: r.value } : resultOf(r.reason))) };
      }
    } catch (err) {
      reply = resultOf(err);
    }
    return encodeSessionReply(reply);
  };

  const server = httpServer((req, res) => {
    void (async () => {
      try {
        const url = req.url ?? '';
        const source = req.socket.remoteAddress ?? '?';
        if (req.method === 'GET' && url === '/v1/health') {
          // Nothing about activity here: counters are for the operator's monitoring listener only.
          return sendJson(res, 200, { nodeId: opts.nodeId, ok: true });
        }
        if (req.method !== 'POST') throw new HttpError(url.startsWith('/v1/') ? 405 : 404, `no route ${req.method} ${url}`);
        if (url === '/v1/handshake/m1') {
          const body = await readBody(req, MAX_M1_BYTES, limits.handshakeBodyTimeoutMs);
          const { handshakeId, m2 } = await opts.handshakes.m1(body, source);
          return sendJson(res, 200, { handshake: handshakeId, m2: Buffer.from(m2).toString('base64') });
        }
        if (url === '/v1/handshake/m3') {
          const b = jsonBody(await readBody(req, MAX_M3_REQUEST_BYTES, limits.handshakeBodyTimeoutMs));
          if (typeof b.handshake !== 'string' || typeof b.m3 !== 'string') throw new HttpError(400, 'expected {handshake, m3}');
          const { sessionId, peer } = await opts.handshakes.m3(b.handshake, Buffer.from(b.m3, 'base64'), source);
          // A data user's session: its query is on its way (the access recorder waits for it).
          if (peer.role === 'user') opts.userSession?.(peer);
          return sendJson(res, 200, { session: sessionId });
        }
        const m = /^\/v1\/sessions\/([0-9a-f]{32})$/.exec(url);
        if (m) {
          const sid = m[1]!;
          // The session first: an unknown one costs no body read.
          if (!opts.handshakes.hasSession(sid)) throw new SessionUnknown();
          if (recordSuspects.get(source) && !suspectRecords.take(source)) throw new HttpError(429, 'too many records that did not open from this source; retry later');
          let reserved = 0;
          try {
            const body = await readBody(req, limits.maxRecordBytes, limits.recordBodyTimeoutMs, (n) => {
              // One source may buffer about one largest record at a time; all sources together a few.
              const mine = bufferedBySource.get(source) ?? 0;
              if (mine + n > limits.maxBufferedRecordBytesPerSource) throw new HttpError(429, 'this source is sending too many records at once; retry');
              if (bufferedRecordBytes + n > limits.maxBufferedRecordBytes) throw new HttpError(503, 'the node is buffering too many records; retry');
              bufferedRecordBytes += n;
              bufferedBySource.set(source, mine + n);
              reserved += n;
            });
            const sealed = await opts.handshakes.record(sid, body, handleRequest).catch((err: unknown) => {
              if (err instanceof RecordRefused) recordSuspects.set(source, true, 60_000);
              throw err;
            });
            res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': sealed.length });
            return res.end(sealed);
          } finally {
            bufferedRecordBytes -= reserved;
            const left = (bufferedBySource.get(source) ?? 0) - reserved;
            if (left > 0) bufferedBySource.set(source, left);
            else bufferedBySource.delete(source);
          }
        }
        throw new HttpError(404, `no route ${req.method} ${url}`);
      } catch (err) {
        // A body not read to its end: a small one is drained by node:http after the answer (the
        // connection stays usable); a large, unannounced or too slow one is not read (closed).
        const slowOrLarge = err instanceof HttpError && (err.status === 408 || err.status === 413);
        if (!req.complete && (slowOrLarge || !(Number(req.headers['content-length']) <= SMALL_BODY_DRAINED))) {
          res.setHeader('connection', 'close');
          res.once('finish', () => req.socket.destroy());
        }
        if (err instanceof HandshakeRefused) return sendJson(res, 400, { error: 'handshake refused' });
        if (err instanceof SessionUnknown) return sendJson(res, 401, { error: err.message });
        if (err instanceof RecordRefused) return sendJson(res, 400, { error: err.message });
        if (err instanceof Throttled) {
          res.setHeader('retry-after', '1');
          return sendJson(res, 429, { error: err.message });
        }
        if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message });
        opts.log('warn', `internal error on ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
        sendJson(res, 503, { error: 'temporarily unavailable; retry' });
      }
    })();
  }, opts.tls);
  // Bounds on what a slow or greedy client can hold: headers within 10 s, a whole request within
  // the record deadline, and a bounded number of connections per source address.
  server.headersTimeout = 10_000;
  server.requestTimeout = limits.recordBodyTimeoutMs + 5_000;
  const connections = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const src = socket.remoteAddress ?? '?';
    const n = (connections.get(src) ?? 0) + 1;
    if (n > limits.maxConnectionsPerSource) {
      socket.destroy();
      return;
    }
    connections.set(src, n);
    socket.once('close', () => {
      const left = (connections.get(src) ?? 1) - 1;
      if (left > 0) connections.set(src, left);
      else connections.delete(src);
    });
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
    url: `${opts.tls ? 'https' : 'http'}://${opts.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
