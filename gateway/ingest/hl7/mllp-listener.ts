/**
 * A TCP listener for HL7 v2 over MLLP: frames from each connection are handled one after another
 * (so ACKs go back in order), each answered with the handler's ACK framed in MLLP. Bytes outside
 * frames are reported, not fatal; a connection that sends nothing for `idleMs` is closed. MLLP has
 * no authentication of its own: bind it to the ward network's address and register devices.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { serverTlsOptions, type TlsMaterial } from '../../../common/tls';
import { MllpDecoder, mllpFrame } from './mllp';

/** Node-RED setting under which the gateway hands its TLS files to the flow's HL7 listeners. */
export const LISTENER_TLS_SETTING = 'mcpsListenerTls';

export interface ListenerTls {
  material?: TlsMaterial;
  allowPlaintext: boolean;
}

export interface MllpListenerOptions {
  /** MLLP over TLS (HL7 allows it; monitors that support it connect with TLS and the hospital CA). */
  tls?: TlsMaterial;
  host: string;
  port: number;
  /** Handles one message; resolves to the ACK text, or null to send nothing. */
  onMessage(frame: Buffer, peer: string): Promise<string | null>;
  onProblem?(peer: string, reason: string): void;
  onConnections?(n: number): void;
  idleMs?: number;
}

export interface MllpListener {
  readonly port: number;
  /** Remembers that the connection from `peer` sent messages as device `deviceId`. */
  noteDevice(peer: string, deviceId: string): void;
  /** Closes the connections that sent as any of these devices (removed or changed in devices.json). */
  disconnectDevices(ids: readonly string[]): number;
  close(): Promise<void>;
}

export async function startMllpListener(o: MllpListenerOptions): Promise<MllpListener> {
  const sockets = new Set<Socket>();
  const byPeer = new Map<string, { socket: Socket; devices: Set<string> }>();
  const onConnection = (socket: Socket): void => {
    sockets.add(socket);
    o.onConnections?.(sockets.size);
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    byPeer.set(peer, { socket, devices: new Set() });
    const decoder = new MllpDecoder();
    let chain = Promise.resolve();
    socket.setTimeout(o.idleMs ?? 10 * 60_000, () => socket.destroy());
    socket.on('data', (chunk) => {
      for (const ev of decoder.push(chunk)) {
        if (ev.type === 'error') {
          o.onProblem?.(peer, ev.reason);
          continue;
        }
        chain = chain.then(async () => {
          try {
            const ack = await o.onMessage(ev.data, peer);
            if (ack !== null && !socket.destroyed) socket.write(mllpFrame(ack));
          } catch (err) {
            o.onProblem?.(peer, (err as Error).message);
          }
        });
      }
    });
    socket.on('error', () => undefined); // a monitor unplugged: 'close' follows
    socket.on('close', () => {
      sockets.delete(socket);
      byPeer.delete(peer);
      o.onConnections?.(sockets.size);
    });
  };
  const server: Server = o.tls ? createTlsServer(serverTlsOptions(o.tls), onConnection) : createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : o.port,
    noteDevice: (peer, deviceId) => byPeer.get(peer)?.devices.add(deviceId),
    disconnectDevices: (ids) => {
      let n = 0;
      for (const { socket, devices } of byPeer.values()) {
        if (ids.some((id) => devices.has(id))) {
          socket.destroy();
          n++;
        }
      }
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
