/**
 * The gateway's embedded MQTT broker (aedes) with device authentication and per-device topic ACLs.
 *
 * A device logs in with its own id as both client id and username, and may only publish to its own
 * topics: mcps/devices/<id>/readings (QoS 1 readings) and mcps/devices/<id>/status (online/offline,
 * its last will). It may subscribe only below mcps/devices/<id>/. Anything else is refused and
 * counted. The gateway itself consumes readings in-process, not as a client: `onReading` is called
 * from the publish authorisation hook, which aedes runs BEFORE it sends the PUBACK, so the gateway
 * acknowledges a QoS 1 reading only once `onReading` has resolved (the reading is journaled and on
 * disk). When `onReading` rejects, the publish is refused and the device keeps the message.
 */
import type { LogFn } from '../../common/log';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { dirname } from 'node:path';
import { DeviceCredentials } from './device-credentials';
import { serverTlsOptions, verifiedClientName, type TlsMaterial } from '../../common/tls';
import { DeviceLoginCheck, LoginAbandonedError, LoginQueueFullError, type LoginCheckStats } from './login-check';

export const READINGS_TOPIC = 'mcps/devices/+/readings';

/**
 * mqtt-packet (aedes' packet writer) by default fills a table of 65,536 two-byte Buffers, one per
 * packet id, the first time it writes a packet: about 7 MB of the gateway's V8 heap (a tenth of it)
 * to save one 2-byte allocation per PUBACK. The gateway turns it off before its broker writes
 * anything; it takes the copy of mqtt-packet that aedes itself loads.
 */
export function turnOffPacketIdCache(): void {
  const packets = aedesPackets();
  packets.writeToStream.cacheNumbers = false;
}
turnOffPacketIdCache();

/** The copy of mqtt-packet that aedes itself loads (its packet writer, lib/write.js). */
function aedesPackets(): typeof import('mqtt-packet') {
  return require(require.resolve('mqtt-packet', { paths: [dirname(require.resolve('aedes'))] })) as typeof import('mqtt-packet');
}

/**
 * Writes aedes' PUBACKs as one 4-byte buffer. mqtt-packet writes a PUBACK as three small writes
 * (header, length, packet id) into the corked socket, which Node then gathers into a writev: at 1000
 * devices that is 3000 buffered writes a second, each through the stream machinery, for 4000 bytes.
 * aedes writes its packets without options (MQTT 3.1.1 encoding), and a 3.1.1 PUBACK is always
 * 0x40 0x02 and the id; the socket is still corked until the next tick, so the PUBACKs of one
 * journal commit to one device still leave in one system call. Every other packet goes through
 * mqtt-packet as before.
 */
export function writePubacksWhole(): void {
  const packets = aedesPackets() as typeof import('mqtt-packet') & { writeToStream: WriteToStream & { mcpsWholePubacks?: true } };
  const generic = packets.writeToStream;
  if (generic.mcpsWholePubacks) return;
  const whole = function writeToStream(packet: { cmd: string; messageId?: number }, stream: NodeJS.WritableStream & { cork?(): void; uncork?(): void; writableCorked?: number }, opts?: unknown): boolean {
    const id = packet.messageId;
    if (packet.cmd !== 'puback' || opts !== undefined || typeof id !== 'number' || !(id >= 0 && id <= 0xffff)) return generic(packet as never, stream, opts as never);
    if (stream.cork && !stream.writableCorked) {
      stream.cork();
      process.nextTick(uncork, stream);
    }
    const b = Buffer.allocUnsafe(4);
    b[0] = 0x40;
    b[1] = 2;
    b[2] = id >> 8;
    b[3] = id & 0xff;
    return stream.write(b);
  } as WriteToStream & { mcpsWholePubacks?: true };
  whole.mcpsWholePubacks = true;
  Object.defineProperty(whole, 'cacheNumbers', { get: () => generic.cacheNumbers, set: (v: boolean) => (generic.cacheNumbers = v) });
  packets.writeToStream = whole;
}
type WriteToStream = (typeof import('mqtt-packet'))['writeToStream'];
const uncork = (stream: { uncork?(): void }): void => stream.uncork?.();
writePubacksWhole();

/** The device a topic belongs to: its readings (journaled, anchored), its online/offline status, its alarm events and waveform packets (passed to flows, not anchored). */
export function deviceTopicOwner(topic: string): string | undefined {
  const m = /^mcps\/devices\/([^/]+)\/(readings|status|alarms|waveform)$/.exec(topic);
  return m ? m[1] : undefined;
}

export interface BrokerCounters {
  authFailures: number;
  aclDenied: number;
  clientsConnected: number;
  /** Readings whose publish was refused because they could not be stored (the device resends). */
  publishesRefused: number;
}

export interface GatewayBroker {
  readonly aedes: Aedes;
  /** The listening port (0 until it listens). */
  readonly port: number;
  readonly counters: BrokerCounters;
  /** Logins answered from the per-process cache, scrypt checks, logins waiting (gateway/ingest/login-check.ts). */
  readonly logins: LoginCheckStats;
  /** Forgets the verified logins of removed or changed devices. */
  forgetLogins(ids: readonly string[]): void;
  /** Whether devices can connect now (between listen() and close()). */
  readonly listening: boolean;
  /** Starts accepting devices (done at start unless `deferListen`). */
  listen(): Promise<number>;
  close(): Promise<void>;
}

export interface BrokerOptions {
  host?: string;
  port?: number;
  credentials: DeviceCredentials;
  log?: LogFn;
  /** Takes a device's publish to its readings topic; resolves when it may be acknowledged. */
  onReading?: (topic: string, deviceId: string, payload: Buffer) => Promise<void>;
  /**
   * Do not accept devices until `listen()`: the gateway listens only once its flow runs, so no
   * reading is acknowledged while nothing would pass it on.
   */
  deferListen?: boolean;
  /**
   * MQTT over TLS (mqtts). `clientCertificates`: a device may log in with a client certificate
   * signed by the CA in `material.ca` whose common name is its id, instead of a password.
   */
  tls?: { material: TlsMaterial; clientCertificates?: boolean };
}

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export async function startBroker(opts: BrokerOptions): Promise<GatewayBroker> {
  const log = opts.log ?? (() => undefined);
  const counters: BrokerCounters = { authFailures: 0, aclDenied: 0, clientsConnected: 0, publishesRefused: 0 };
  const logins = new DeviceLoginCheck(opts.credentials);
  const aedes = await Aedes.createBroker({
    authenticate(client: Client, username, password, done) {
      const id = client.id;
      const refuse = (): void => {
        counters.authFailures++;
        // Names the client id and why, never the password.
        log('warn', `mqtt: refused login of client "${id}" as "${username ?? ''}": ${username === undefined ? 'no username' : username !== id ? 'username must equal client id' : 'bad username or password'}`, { component: 'mqtt', event: 'login-refused', client: id });
        done(authError('bad username or password', 4), false);
      };
      // A client certificate the CA signed proves the id it names: no password needed.
      const certName = opts.tls?.clientCertificates ? verifiedClientName(client.conn) : undefined;
      if (certName !== undefined) {
        const entry = opts.credentials.get(id);
        if (certName === id && (username === undefined || username === id) && entry && (entry.transport ?? 'mqtt') === 'mqtt') return done(null, true);
        counters.authFailures++;
        log('warn', `mqtt: refused login of client "${id}" with the certificate of "${certName}": ${certName !== id ? 'the certificate names another device' : 'no such MQTT device in devices.json'}`, { component: 'mqtt', event: 'login-refused', client: id });
        return done(authError('certificate does not match the client id', 4), false);
      }
      if (username === undefined || password === undefined || username !== id) return refuse();
      // A login seen before in this process is answered from the cache; the others wait for a
      // bounded number of scrypt checks on the thread pool, so a storm does not stall the broker.
      logins.login(id, password, () => client.closed).then(
        (entry) => (entry ? done(null, true) : refuse()),
        (err: unknown) => {
          // The device gave up waiting and closed the connection: nobody to answer, nothing to count.
          if (err instanceof LoginAbandonedError) return done(authError('connection closed while the login waited', 3), false);
          if (!(err instanceof LoginQueueFullError)) return refuse();
          log('warn', `mqtt: login of "${id}" deferred: ${err.message}`, { component: 'mqtt', event: 'login-deferred', client: id });
          done(authError('server busy', 3), false);
        },
      );
    },
    authorizePublish(client: Client | null, packet: PublishPacket, done) {
      if (client === null) return done(null); // in-process publishes by the gateway itself
      if (deviceTopicOwner(packet.topic) !== client.id) {
        counters.aclDenied++;
        log('warn', `mqtt: device "${client.id}" may not publish to "${packet.topic}"`, { component: 'mqtt', event: 'acl-denied', client: client.id, topic: packet.topic });
        return done(new Error(`topic ${packet.topic} not allowed for ${client.id}`));
      }
      if (opts.onReading && packet.topic.endsWith('/readings')) {
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(String(packet.payload));
        opts.onReading(packet.topic, client.id, payload).then(
          () => done(null),
          (err: Error) => {
            counters.publishesRefused++;
            log('warn', `mqtt: reading from "${client.id}" not accepted: ${err.message}`, { component: 'mqtt', event: 'publish-refused', client: client.id });
            done(err);
          },
        );
        return;
      }
      done(null);
    },
    authorizeSubscribe(client: Client, sub: Subscription, done) {
      if (!sub.topic.startsWith(`mcps/devices/${client.id}/`)) {
        counters.aclDenied++;
        log('warn', `mqtt: device "${client.id}" may not subscribe to "${sub.topic}"`, { component: 'mqtt', event: 'acl-denied', client: client.id, topic: sub.topic });
        return done(new Error(`subscription ${sub.topic} not allowed`), null);
      }
      done(null, sub);
    },
  });
  aedes.on('client', () => counters.clientsConnected++);
  aedes.on('clientDisconnect', () => counters.clientsConnected--);
  const server: Server = opts.tls ? createTlsServer(serverTlsOptions(opts.tls.material, { clientCertificates: opts.tls.clientCertificates }), aedes.handle) : createServer(aedes.handle);
  let port = 0;
  const listen = (): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? (opts.tls ? 8883 : 1883), opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        resolve(port);
      });
    });
  if (!opts.deferListen) await listen();
  return {
    aedes,
    get port() {
      return port;
    },
    counters,
    logins: logins.stats,
    forgetLogins: (ids) => logins.forget(ids),
    get listening() {
      return server.listening;
    },
    listen,
    close: () =>
      new Promise<void>((resolve) => {
        aedes.close(() => (server.listening ? server.close(() => resolve()) : resolve()));
        // close() waits for clients to go; do not let a stuck client hold shutdown.
        setTimeout(() => resolve(), 2000).unref();
      }),
  };
}
