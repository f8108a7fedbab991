/**
 * The chain node's handshake responder and its table of live sessions.
 *
 * M1 and M3 arrive as separate HTTP requests; a session then carries one sealed request and one
 * sealed reply per record. Anything refused is logged here with its precise reason and answered to
 * the peer with one uniform error.
 *
 * Bounds against anonymous peers (issue 12's audit; docs/protocol.md "The node's HTTP API and its
 * limits"), all keyed by the source address the HTTP layer passes in:
 *   - handshake requests per source are rate-limited (token bucket), checked before any work;
 *   - a replayed M1 gets the same answer as the first copy from a replay cache, with no new state
 *     and no cryptography (F1); a replay after the handshake finished is refused;
 *   - pending handshakes are bounded per source and in all; when the table is full the oldest
 *     pending handshake of the source holding the most is dropped, so a flood from a few sources
 *     cannot push out honest ones;
 *   - M3 signatures are verified in rounds that keep sources apart: sources that completed a
 *     handshake before, sources not seen yet, and sources whose signature failed recently
 *     ("suspect": each of their M3s verified alone, at most `suspectVerificationsPerS`) — so forged
 *     M3s cost a few pairings per source and second at most, and never make an honest gateway's
 *     round bisect (F2, F2b);
 *   - a record that fails to open is dropped and counted, and the session continues; the session
 *     ends only after `maxFailedRecords` such records (F6).
 */
import type { LogFn } from '../common/log';
import { createHash, randomBytes } from 'node:crypto';
import { ChainRegistry } from '../contracts/chain-registry';
import { ProtocolError } from '../protocol/errors';
import { NodeResponder, noblePairing, type Authenticated, type OpenedM3, type PairingBackend, type RegistryRecord, type Session } from '../protocol/handshake';
import { ExpiringTable, SourceBuckets } from './source-limits';

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

/** A source asked for more than its share; answered 429 before any work. */
export class Throttled extends Error {
  constructor() {
    super('too many requests from this source; retry later');
    this.name = 'Throttled';
  }
}

/** A record that did not open (forged, replayed, reordered): dropped, the session goes on. */
export class RecordRefused extends Error {
  constructor() {
    super('record refused');
    this.name = 'RecordRefused';
  }
}

export interface HandshakeLimits {
  /** Pending handshakes (M1 answered, M3 not yet) in all. */
  maxPending: number;
  maxPendingPerSource: number;
  pendingTimeoutMs: number;
  /** Handshake requests (M1 and M3) per source and second, and the burst allowed. */
  handshakesPerSourcePerS: number;
  handshakeBurst: number;
  /**
   * M3 signature verifications per second (burst: twice that) for a source whose signature failed
   * recently. Not zero: honest gateways may share an address (NAT) with a misconfigured or hostile one.
   */
  suspectVerificationsPerS: number;
  /** How long a failed signature makes its source suspect. */
  suspectForMs: number;
  /** M3s waiting for verification; past it, more are answered 429. */
  maxQueuedM3: number;
  /** Records that fail to open before the node ends the session. */
  maxFailedRecords: number;
}

export const DEFAULT_HANDSHAKE_LIMITS: HandshakeLimits = {
  maxPending: 4096,
  maxPendingPerSource: 64,
  pendingTimeoutMs: 30_000,
  handshakesPerSourcePerS: 50,
  handshakeBurst: 100,
  suspectVerificationsPerS: 5,
  suspectForMs: 60_000,
  maxQueuedM3: 1024,
  maxFailedRecords: 1024,
};

/** How much the node trusts a source's next M3: it decides the verification round it joins. */
type Trust = 'good' | 'new' | 'suspect';

interface Live {
  readonly session: Session;
  readonly peer: Authenticated['peer'];
  queue: Promise<unknown>;
  failures: number;
}

interface PendingMeta {
  readonly source: string;
  readonly created: number;
}

interface Queued {
  opened: OpenedM3;
  record: RegistryRecord | undefined;
  source: string;
  resolve: (r: Authenticated | ProtocolError) => void;
}

/** Reasons with which openM3 leaves the handshake pending (nothing decrypted). */
const PENDING_KEPT = new Set(['m3.decrypt', 'm3.truncated', 'm3.trailing-bytes', 'm3.version', 'm3.type']);

export class HandshakeService {
  readonly #responder: NodeResponder;
  readonly #sessions = new Map<string, Live>();
  readonly counters = { handshakes: 0, refused: 0, sessions: 0, maxM3Batch: 0, m1Replays: 0, throttled: 0, recordsRefused: 0, pendingDropped: 0, signaturesVerified: 0, failedRounds: { good: 0, new: 0, suspect: 0 } };
  /** Refused handshakes by the protocol's reason code (a fixed set in protocol/), for the metrics. */
  readonly refusedByReason: Record<string, number> = {};
  readonly limits: HandshakeLimits;
  readonly #now: () => number;
  /** Pending handshakes in creation order, with their source (the responder holds the keys). */
  readonly #pending = new Map<string, PendingMeta>();
  readonly #pendingBySource = new Map<string, Set<string>>();
  /** M1 (by hash) → the answer it got, for its whole time window. */
  readonly #m1Answers: ExpiringTable<{ handshakeId: string; m2: Uint8Array }>;
  readonly #requests: SourceBuckets;
  readonly #suspectBudget: SourceBuckets;
  readonly #suspects: ExpiringTable<true>;
  readonly #goodSources: ExpiringTable<true>;

  constructor(
    readonly opts: {
      nodeId: string;
      x25519SecretKey: Uint8Array;
      registry: ChainRegistry;
      log: LogFn;
      maxSessions?: number;
      now?: () => number;
      pairing?: PairingBackend;
      limits?: Partial<HandshakeLimits>;
    },
  ) {
    this.limits = { ...DEFAULT_HANDSHAKE_LIMITS, ...opts.limits };
    this.#now = opts.now ?? Date.now;
    const pairing = opts.pairing ?? noblePairing;
    this.#responder = new NodeResponder({
      nodeId: opts.nodeId,
      x25519SecretKey: opts.x25519SecretKey,
      registry: opts.registry,
      now: this.#now,
      random: (n) => new Uint8Array(randomBytes(n)),
      // The service enforces the bounds (per source, evicting); the responder's own cap is a backstop.
      maxPending: this.limits.maxPending + 1,
      pendingTimeoutMs: this.limits.pendingTimeoutMs,
      pairing: {
        name: pairing.name,
        verifyBatch: (items, random) => {
          this.counters.signaturesVerified += items.length;
          return pairing.verifyBatch(items, random);
        },
      },
    });
    this.#m1Answers = new ExpiringTable(4 * this.limits.maxPending, this.#now);
    this.#requests = new SourceBuckets(this.limits.handshakesPerSourcePerS, this.limits.handshakeBurst, this.#now);
    this.#suspectBudget = new SourceBuckets(this.limits.suspectVerificationsPerS, Math.max(1, 2 * this.limits.suspectVerificationsPerS), this.#now);
    this.#suspects = new ExpiringTable(4096, this.#now);
    this.#goodSources = new ExpiringTable(4096, this.#now);
  }

  /** Pending handshakes (answered M1, no M3 yet). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  #count(reason: string): void {
    this.counters.refused++;
    this.refusedByReason[reason] = (this.refusedByReason[reason] ?? 0) + 1;
  }

  #refuse(where: string, err: unknown): never {
    if (err instanceof ProtocolError) {
      this.#count(err.reason);
      this.opts.log('warn', `handshake ${where} refused: ${err.message}`, { component: 'handshake', event: 'handshake-refused', reason: err.reason });
      throw new HandshakeRefused(err.reason);
    }
    throw err;
  }

  #throttle(): never {
    this.counters.throttled++;
    this.#count('source.throttled');
    throw new Throttled();
  }

  #dropPending(handshakeId: string): void {
    const meta = this.#pending.get(handshakeId);
    if (!meta) return;
    this.#pending.delete(handshakeId);
    const set = this.#pendingBySource.get(meta.source);
    set?.delete(handshakeId);
    if (set && set.size === 0) this.#pendingBySource.delete(meta.source);
  }

  /** Drops timed-out pending handshakes (the table is in creation order) and makes room for one more from `source`. */
  #makeRoom(source: string): void {
    const now = this.#now();
    for (const [id, meta] of this.#pending) {
      if (now - meta.created <= this.limits.pendingTimeoutMs) break;
      this.#dropPending(id);
      this.#responder.forget(id);
    }
    const evict = (from: string): void => {
      const oldest = this.#pendingBySource.get(from)?.values().next().value as string | undefined;
      if (oldest === undefined) return;
      this.#dropPending(oldest);
      this.#responder.forget(oldest);
      this.counters.pendingDropped++;
    };
    if ((this.#pendingBySource.get(source)?.size ?? 0) >= this.limits.maxPendingPerSource) evict(source);
    if (this.#pending.size >= this.limits.maxPending) {
      let biggest = source;
      for (const [src, set] of this.#pendingBySource) if (set.size > (this.#pendingBySource.get(biggest)?.size ?? 0)) biggest = src;
      evict(biggest);
    }
  }

  async m1(bytes: Uint8Array, source = 'local'): Promise<{ handshakeId: string; m2: Uint8Array }> {
    if (!this.#requests.take(source)) this.#throttle();
    const key = createHash('sha256').update(bytes).digest('hex');
    const earlier = this.#m1Answers.get(key);
    if (earlier) {
      this.counters.m1Replays++;
      // The same M1 again (a retry, or a replay): the same answer while it is pending, no new state.
      if (this.#pending.has(earlier.handshakeId)) return earlier;
      this.#refuse('M1', new ProtocolError('m1.replay', 'this M1 was answered before and its handshake is over'));
    }
    await this.opts.registry.fetch(this.opts.nodeId);
    this.#makeRoom(source);
    let answer: { handshakeId: string; m2: Uint8Array };
    try {
      answer = this.#responder.onM1(bytes);
    } catch (err) {
      this.#refuse('M1', err);
    }
    this.#pending.set(answer.handshakeId, { source, created: this.#now() });
    let set = this.#pendingBySource.get(source);
    if (!set) this.#pendingBySource.set(source, (set = new Set()));
    set.add(answer.handshakeId);
    // As long as t_G is inside the node's time window (±120 s), a copy could come back.
    this.#m1Answers.set(key, answer, 2 * 120_000 + this.limits.pendingTimeoutMs);
    return answer;
  }

  #trust(source: string): Trust {
    if (this.#suspects.get(source)) return 'suspect';
    return this.#goodSources.get(source) ? 'good' : 'new';
  }

  /**
   * M3s are verified by group commit: one that arrives while a verification runs waits and is then
   * verified together with the others in one batch (NodeResponder.finishMany), so an idle node
   * answers at once and a busy one does n + 1 Miller loops for n handshakes instead of 2n. Rounds
   * keep sources apart by trust (see the file's comment).
   */
  async m3(handshakeId: string, bytes: Uint8Array, source = 'local'): Promise<{ sessionId: string; peer: Authenticated['peer'] }> {
    if (!this.#requests.take(source)) this.#throttle();
    // A suspect source's M3 costs a pairing only within its small budget: checked before anything.
    if (this.#trust(source) === 'suspect' && !this.#suspectBudget.take(source)) this.#throttle();
    if (this.#m3Queue.length >= this.limits.maxQueuedM3) this.#throttle();
    let opened: OpenedM3;
    try {
      opened = this.#responder.openM3(handshakeId, bytes);
      this.#dropPending(handshakeId);
    } catch (err) {
      if (!(err instanceof ProtocolError) || !PENDING_KEPT.has(err.reason)) this.#dropPending(handshakeId);
      this.#refuse('M3', err);
    }
    const record = await this.opts.registry.fetch(opened.peerId);
    const result = await new Promise<Authenticated | ProtocolError>((resolve) => {
      this.#m3Queue.push({ opened, record, source, resolve });
      if (!this.#verifying) this.#verifyQueued();
    });
    if (result instanceof ProtocolError) this.#refuse(`M3 from ${opened.peerId}`, result);
    const auth = result;
    this.#evict();
    const sessionId = auth.session.sessionIdHex;
    this.#sessions.set(sessionId, { session: auth.session, peer: auth.peer, queue: Promise.resolve(), failures: 0 });
    this.counters.handshakes++;
    this.counters.sessions = this.#sessions.size;
    return { sessionId, peer: auth.peer };
  }

  readonly #m3Queue: Queued[] = [];
  #verifying = false;

  #verifyRound(group: Queued[], trust: Trust): void {
    if (group.length === 0) return;
    let results: Array<Authenticated | ProtocolError>;
    try {
      results = this.#responder.finishMany(group.map((g) => ({ opened: g.opened, peer: g.record })));
    } catch (err) {
      results = group.map(() => new ProtocolError('m3.internal', String(err)));
    }
    this.counters.maxM3Batch = Math.max(this.counters.maxM3Batch, group.length);
    if (results.some((r) => r instanceof ProtocolError && r.reason.startsWith('m3.bad-signature'))) this.counters.failedRounds[trust]++;
    group.forEach((g, i) => {
      const r = results[i]!;
      if (r instanceof ProtocolError) {
        if (r.reason === 'm3.bad-signature' || r.reason === 'm3.bad-signature-encoding') this.#suspects.set(g.source, true, this.limits.suspectForMs);
      } else this.#goodSources.set(g.source, true, 3_600_000);
      g.resolve(r);
    });
  }

  #verifyQueued(): void {
    this.#verifying = true;
    // Let requests already read from their sockets join this round before verifying. One class of
    // source per turn of the event loop, trusted sources first; a suspect's M3 is verified alone.
    setImmediate(() => {
      const take = (trust: Trust, max: number): Queued[] => {
        const out: Queued[] = [];
        for (let i = 0; i < this.#m3Queue.length && out.length < max; ) {
          if (this.#trust(this.#m3Queue[i]!.source) === trust) out.push(...this.#m3Queue.splice(i, 1));
          else i++;
        }
        return out;
      };
      const good = take('good', 256);
      if (good.length > 0) this.#verifyRound(good, 'good');
      else {
        const fresh = take('new', 256);
        if (fresh.length > 0) this.#verifyRound(fresh, 'new');
        else for (const one of take('suspect', 4)) this.#verifyRound([one], 'suspect');
      }
      if (this.#m3Queue.length > 0) this.#verifyQueued();
      else this.#verifying = false;
    });
  }

  /** Whether a record for this session would be read (it exists and is not spent). */
  hasSession(sessionId: string): boolean {
    const live = this.#sessions.get(sessionId);
    return live !== undefined && !live.session.exhausted;
  }

  /**
   * Opens a record, lets `handle` answer it, seals the answer. One record at a time per session.
   * A record that does not open is dropped (RecordRefused) and the session goes on: its id travels
   * in clear, so anyone could otherwise end it with one garbage request. After
   * `maxFailedRecords` such records the session ends (a bound on forgery attempts per key).
   */
  async record(sessionId: string, bytes: Uint8Array, handle: (peer: Authenticated['peer'], request: Uint8Array) => Promise<Uint8Array>): Promise<Uint8Array> {
    const live = this.#sessions.get(sessionId);
    if (!live || live.session.exhausted) {
      this.#sessions.delete(sessionId);
      this.counters.sessions = this.#sessions.size;
      throw new SessionUnknown();
    }
    // The peer's registry record (cached) must still be what the handshake authenticated: a party
    // revoked or given a new key since then has its session ended (a rotated one makes a new
    // handshake with its new key; a revoked one is refused there).
    const now = await this.opts.registry.fetch(live.peer.id);
    if (!now || now.status !== 'active' || now.epoch !== live.peer.epoch || now.role !== live.peer.role) {
      if (this.#sessions.get(sessionId) === live) this.#sessions.delete(sessionId);
      this.counters.sessions = this.#sessions.size;
      this.opts.log('info', `session with ${live.peer.id} ended: its registry record changed (${now ? `${now.status}, epoch ${now.epoch}` : 'gone'})`, { component: 'handshake', event: 'session-ended' });
      throw new SessionUnknown();
    }
    // Opened at once, in arrival order (the record layer refuses anything but the next sequence
    // number), so a forged record is refused without waiting behind the batch being processed;
    // only the handling and the sealing of replies wait their turn.
    let request: Uint8Array;
    try {
      request = live.session.open(bytes);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      live.failures++;
      this.counters.recordsRefused++;
      if (live.failures >= this.limits.maxFailedRecords) {
        this.#sessions.delete(sessionId);
        this.counters.sessions = this.#sessions.size;
        this.opts.log('warn', `session with ${live.peer.id} ended after ${live.failures} records that did not open (last: ${err.message})`);
        throw new SessionUnknown();
      }
      if (err.reason === 'session.expired') throw new SessionUnknown();
      // Logged at 1, 2, 4, 8 … failures: a flood of garbage must not flood the log.
      if ((live.failures & (live.failures - 1)) === 0) this.opts.log('info', `record refused on ${live.peer.id}'s session (${live.failures} so far): ${err.message}`, { component: 'handshake', event: 'record-refused', reason: err.reason });
      throw new RecordRefused();
    }
    const run = live.queue.then(async () => live.session.seal(await handle(live.peer, request)));
    live.queue = run.catch(() => undefined);
    return await run;
  }

  #evict(): void {
    for (const [id, l] of this.#sessions) if (l.session.exhausted) this.#sessions.delete(id);
    const max = this.opts.maxSessions ?? 4096;
    while (this.#sessions.size >= max) this.#sessions.delete(this.#sessions.keys().next().value as string);
  }
}
