/**
 * A simulated device's TCP connection to the gateway: plain, or TLS (MLLP over TLS) checking the
 * gateway's certificate against the hospital CA it was given. `onReady` runs once the connection
 * (and, with TLS, the handshake) is up.
 */
import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export function dial(host: string, port: number, ca: Buffer | undefined, onReady: () => void): Socket {
  if (!ca) return connect({ host, port }, onReady);
  return tlsConnect({ host, port, ca, ...(isIP(host) ? {} : { servername: host }) }, onReady);
}
