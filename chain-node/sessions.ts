/**
 * The chain node's handshake responder and its table of live sessions.
 *
 * M1 and M3 arrive as separate HTTP requests; a session then carries one sealed request and one
 * sealed reply per record. Anything refused is logged here with its precise reason and answered to
 * the peer with one uniform error. A record that fails to open ends its session (the gateway makes
 * a new handshake), so a desynchronised or attacked session never lingers.
 */
import type { LogFn } from '../common/log';
import { randomBytes } from 'node:crypto';
import { ChainRegistry } from '../contracts/chain-registry';
import { ProtocolError } from '../protocol/errors';
import { NodeResponder, type Authenticated, type OpenedM3, type PairingBackend, type RegistryRecord, type Session } from '../protocol/handshake';

export class HandshakeRefused extends Error {
  constructor(readonly reason: string) {
    super('handshake refused');
    this.name = 'HandshakeRefused';
  }
}

export class SessionUnknown extends Error {
  constructor() {
    super('no such session: make a new handshake');
    this.name = 'SessionUnknown';
  }
}

interface Live {
  readonly session: Session;
  readonly peer: Authenticated['peer'];
  queue: Promise<unknown>;
}

export class HandshakeService {
  readonly #responder: NodeResponder;
  readonly #sessions = new Map<string, Live>();
  readonly counters = { handshakes: 0, refused: 0, sessions: 0, maxM3Batch: 0 };
  /** Refused handshakes by the protocol's reason code (a fixed set in protocol/), for the metrics. */
  readonly refusedByReason: Record<string, number> = {};

  constructor(
    readonly opts: {
      nodeId: string;
      x25519SecretKey: Uint8Array;
      registry: ChainRegistry;
      log: LogFn;
      maxSessions?: number;
      now?: () => number;
      pairing?: PairingBackend;
    },
  ) {
    this.#responder = new NodeResponder({
      nodeId: opts.nodeId,
      x25519SecretKey: opts.x25519SecretKey,
      registry: opts.registry,
      now: opts.now ?? Date.now,
      random: (n) => new Uint8Array(randomBytes(n)),
      ...(opts.pairing ? { pairing: opts.pairing } : {}),
    });
  }

  #refuse(where: string, err: unknown): never {
    if (err instanceof ProtocolError) {
      this.counters.refused++;
      this.refusedByReason[err.reason] = (this.refusedByReason[err.reason] ?? 0) + 1;
      this.opts.log('warn', `handshake ${where} refused: ${err.message}`, { component: 'handshake', event: 'handshake-refused', reason: err.reason });
      throw new HandshakeRefused(err.reason);
    }
    throw err;
  }

  async m1(bytes: Uint8Array): Promise<{ handshakeId: string; m2: Uint8Array }> {
    await this.opts.registry.fetch(this.opts.nodeId);
    try {
      return this.#responder.onM1(bytes);
    } catch (err) {
      this.#refuse('M1', err);
    }
  }

  /**
   * M3s are verified by group commit: one that arrives while a verification runs waits and is then
   * verified together with the others in one batch (NodeResponder.finishMany), so an idle node
   * answers at once and a busy one does n + 1 Miller loops for n handshakes instead of 2n.
   */
  async m3(handshakeId: string, bytes: Uint8Array): Promise<{ sessionId: string; peer: Authenticated['peer'] }> {
    let opened: OpenedM3;
    try {
      opened = this.#responder.openM3(handshakeId, bytes);
    } catch (err) {
      this.#refuse('M3', err);
    }
    const record = await this.opts.registry.fetch(opened.peerId);
    const result = await new Promise<Authenticated | ProtocolError>((resolve) => {
      this.#m3Queue.push({ opened, record, resolve });
      if (!this.#verifying) this.#verifyQueued();
    });
    if (result instanceof ProtocolError) this.#refuse(`M3 from ${opened.peerId}`, result);
    const auth = result;
    this.#evict();
    const sessionId = auth.session.sessionIdHex;
    this.#sessions.set(sessionId, { session: auth.session, peer: auth.peer, queue: Promise.resolve() });
    this.counters.handshakes++;
    this.counters.sessions = this.#sessions.size;
    return { sessionId, peer: auth.peer };
  }

  readonly #m3Queue: Array<{ opened: OpenedM3; record: RegistryRecord | undefined; resolve: (r: Authenticated | ProtocolError) => void }> = [];
  #verifying = false;

  #verifyQueued(): void {
    this.#verifying = true;
    // Let requests already read from their sockets join this round before verifying.
    setImmediate(() => {
      const group = this.#m3Queue.splice(0, 256);
      let results: Array<Authenticated | ProtocolError>;
      try {
        results = this.#responder.finishMany(group.map((g) => ({ opened: g.opened, peer: g.record })));
      } catch (err) {
        results = group.map(() => new ProtocolError('m3.internal', String(err)));
      }
      this.counters.maxM3Batch = Math.max(this.counters.maxM3Batch, group.length);
      group.forEach((g, i) => g.resolve(results[i]!));
      if (this.#m3Queue.length > 0) this.#verifyQueued();
      else this.#verifying = false;
    });
  }

  /** Whether a record for this session would be read (it exists and is not spent). */
  hasSession(sessionId: string): boolean {
    const live = this.#sessions.get(sessionId);
    return live !== undefined && !live.session.exhausted;
  }

  /** Opens a record, lets `handle` answer it, seals the answer. One record at a time per session. */
  record(sessionId: string, bytes: Uint8Array, handle: (peer: Authenticated['peer'], request: Uint8Array) => Promise<Uint8Array>): Promise<Uint8Array> {
    const live = this.#sessions.get(sessionId);
    if (!live || live.session.exhausted) {
      this.#sessions.delete(sessionId);
      return Promise.reject(new SessionUnknown());
    }
    const run = live.queue.then(async () => {
      let request: Uint8Array;
      try {
        request = live.session.open(bytes);
      } catch (err) {
        this.#sessions.delete(sessionId);
        this.counters.sessions = this.#sessions.size;
        if (err instanceof ProtocolError) this.opts.log('warn', `session with ${live.peer.id} ended: ${err.message}`);
        throw new SessionUnknown();
      }
      return live.session.seal(await handle(live.peer, request));
    });
    live.queue = run.catch(() => undefined);
    return run;
  }

  #evict(): void {
    for (const [id, l] of this.#sessions) if (l.session.exhausted) this.#sessions.delete(id);
    const max = this.opts.maxSessions ?? 4096;
    while (this.#sessions.size >= max) this.#sessions.delete(this.#sessions.keys().next().value as string);
  }
}
