/**
 * TLS for every listener and for the gateway's client to its chain node: the box's certificate and
 * key files (from `mcps tls init`, or the hospital's own), read and checked once at start, turned
 * into the options node:tls / node:https take. Servers stay as they are and only pick
 * `createServer` from node:tls or node:https when TLS is on (listenerServer below), so TLS is a thin
 * layer where each server is made.
 *
 * Policy for plaintext (plaintextAllowed): on a loopback address plaintext is fine (nothing crosses
 * a network); on any other address a listener without TLS is refused unless the config says
 * `allowPlaintext: true`, and then a warning is logged at every start.
 */
import { readFileSync, statSync } from 'node:fs';
import { createServer as createHttp, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { LogFn } from './log';

/** JSON schema of a config's `tls` field (TlsFiles), shared by the gateway, chain node and key service configs. */
export const TLS_FILES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['cert', 'key'],
  properties: { cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 }, ca: { type: 'string', minLength: 1 } },
} as const;

/** Where a box's TLS files are (config field `tls`). */
export interface TlsFiles {
  /** The box's certificate chain (PEM): the leaf first, intermediates after it. */
  cert: string;
  /** Its private key (PEM, mode 0600). */
  key: string;
  /** The CA certificate(s) (PEM) that devices' client certificates and peers are checked against. */
  ca?: string;
}

/** The files' contents, checked: a key and certificate that belong together, a CA that parses. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
  /** For messages: where the certificate came from. */
  readonly certPath: string;
}

export class TlsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsConfigError';
  }
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TlsConfigError(`${what} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (make one with mcps tls init, or give the hospital\'s own)' : (err as Error).message}`);
  }
}

/** Reads and checks the box's TLS files; every error names the file and what to do. */
export function loadTlsMaterial(files: TlsFiles, where = 'tls'): TlsMaterial {
  const cert = readFile(files.cert, `${where}.cert`);
  let mode: number;
  try {
    mode = statSync(files.key).mode;
  } catch {
    mode = 0;
  }
  const key = readFile(files.key, `${where}.key`);
  if ((mode & 0o077) !== 0) throw new TlsConfigError(`${where}.key ${files.key}: permissions ${(mode & 0o777).toString(8)} let others read it; expected 600 (chmod 600 it only if you are sure it never leaked)`);
  const ca = files.ca !== undefined ? readFile(files.ca, `${where}.ca`) : undefined;
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsConfigError(`${where}: ${files.cert} and ${files.key} do not make a usable certificate and key (${(err as Error).message})`);
  }
  if (ca) {
    try {
      createSecureContext({ ca });
    } catch (err) {
      throw new TlsConfigError(`${where}.ca ${files.ca}: not a PEM certificate (${(err as Error).message})`);
    }
  }
  return { cert, key, ...(ca ? { ca } : {}), certPath: files.cert };
}

/** A CA file for a client (the gateway calling its chain node, a device, a test). */
export function loadCa(path: string, what = 'ca'): Buffer {
  const ca = readFile(path, what);
  try {
    createSecureContext({ ca });
  } catch (err) {
    throw new TlsConfigError(`${what} ${path}: not a PEM certificate (${(err as Error).message})`);
  }
  return ca;
}

/**
 * Options for a TLS server. `clientCertificates`: ask clients for a certificate and let the
 * application decide (an MQTT device may log in with one instead of a password); a client without
 * one, or with one the CA did not sign, still connects and must log in otherwise.
 */
export function serverTlsOptions(m: TlsMaterial, opts: { clientCertificates?: boolean } = {}): SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean; minVersion: 'TLSv1.2' } {
  const base = { cert: m.cert, key: m.key, minVersion: 'TLSv1.2' as const };
  if (!opts.clientCertificates) return base;
  if (!m.ca) throw new TlsConfigError(`client certificates need tls.ca (the CA that signs the devices' certificates)`);
  return { ...base, ca: m.ca, requestCert: true, rejectUnauthorized: false };
}

/**
 * The identity a client proved with its certificate: the subject's common name, when the CA
 * signed the certificate (the socket is authorized); undefined otherwise.
 */
export function verifiedClientName(socket: unknown): string | undefined {
  const s = socket as Partial<TLSSocket> | null;
  if (!s || typeof s.getPeerCertificate !== 'function' || s.authorized !== true) return undefined;
  const cn = s.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' ? cn : undefined;
}

/**
 * An HTTP server, or with `tls` an HTTPS one. Typed as http.Server: https.Server offers the same
 * API (listen, close, closeAllConnections, 'request'), and callers need nothing else.
 */
export function httpServer(handler: RequestListener, tls?: TlsMaterial): HttpServer {
  return tls ? (createHttps(serverTlsOptions(tls), handler) as unknown as HttpServer) : createHttp(handler);
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * Whether a listener may run without TLS: always on loopback; elsewhere only when the config says
 * `allowPlaintext: true`, and then with a warning (every start). Throws a message naming the
 * listener and the way out otherwise.
 */
export function checkPlaintextListener(listener: string, host: string, allowPlaintext: boolean | undefined, log: LogFn): void {
  if (isLoopback(host)) return;
  if (!allowPlaintext) {
    throw new TlsConfigError(`${listener} would listen on ${host} without TLS: passwords and readings would cross the network in clear. Give the config "tls" (mcps tls init) to encrypt it, bind it to 127.0.0.1, or set "allowPlaintext": true if this network is protected otherwise`);
  }
  log('warn', `${listener} listens on ${host} WITHOUT TLS (allowPlaintext is set): anything on that network can read and forge its traffic`, { component: 'tls', event: 'plaintext-listener', listener, host });
}
