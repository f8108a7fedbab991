/**
 * The gateway's client for a chain node: every batch travels inside a handshake session
 * (docs/protocol.md). The client makes the handshake when it has no session or its session is
 * expired or spent, and makes a new one whenever the node says the session is gone (node restart,
 * a record that failed to open). Before each record it checks (from the registry cache) that the
 * node is still active with the key epoch it authenticated; a revoked or rotated node gets no more
 * records over the old session. A receipt counts only if it is signed by the BLS key the on-chain
 * registry lists for that node and matches the batch sent.
 */
import { randomBytes } from 'node:crypto';
import type { Agent } from 'node:https';
import { caAgent, httpsPost } from '../../common/https-post';
import type { ChainRegistry } from '../../contracts/chain-registry';
import { blsVerify, type BlsSigner } from '../../protocol/bls';
import { ProtocolError } from '../../protocol/errors';
import { InitiatorHandshake, type Session } from '../../protocol/handshake';
import { decodeSessionReply, encodeSessionRequest, type SessionReply, type SessionRequest } from '../../protocol/session-messages';
import { receiptMessage, type BatchSubmission, type SignedReceipt } from '../../protocol/submission';

export class SubmitError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly status?: number) {
    super(message);
    this.name = 'SubmitError';
  }
}

export interface ChainNodeClientOptions {
  url: string;
  nodeId: string;
  /** This gateway's registry id and BLS secret key (it signs the handshake transcript). */
  selfId: string;
  blsSecretKey: Uint8Array;
  registry: ChainRegistry;
  timeoutMs?: number;
  /** Checks the node's receipt signature (default: noble; the gateway passes mcl when it loads). */
  verify?: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;
  /** Shared counters for the metrics (a private set when absent). */
  stats?: ChainClientStats;
  /** For an https:// node: the CA that signed its certificate (else the system's CAs). */
  ca?: Buffer;
  /** Computes the handshake signature (default: noble; the gateway passes mcl-wasm's when it loads: same bytes). */
  signer?: BlsSigner;
}

/**
 * What the gateway's clients did, summed over every client it makes (the default one and those of
 * a flow's chain-node configuration), for the metrics: counters only grow.
 */
export interface ChainClientStats {
  handshakes: number;
  /** Failed handshakes by reason (a small fixed set: see handshakeFailureReason). */
  handshakeFailures: Record<string, number>;
  sessionsLost: number;
  failovers: number;
}

export function newChainClientStats(): ChainClientStats {
  return { handshakes: 0, handshakeFailures: {}, sessionsLost: 0, failovers: 0 };
}

/** Why a handshake failed, as a metric label: one of a fixed set, never free text. */
export function handshakeFailureReason(err: unknown): string {
  if (err instanceof SubmitError) {
    if (err.status === 400) return 'refused';
    if (err.status !== undefined) return 'http_error';
    if (/ unreachable: /.test(err.message)) return 'unreachable';
    if (/ refused locally: /.test(err.message)) return 'node_not_verified';
    return 'malformed_answer';
  }
  return 'registry_unavailable';
}

export class ChainNodeClient {
  #session: { id: string; session: Session; nodeEpoch: number } | null = null;
  readonly counters = { handshakes: 0, sessionsLost: 0 };
  readonly #stats: ChainClientStats;
  readonly #agent: Agent | undefined;

  constructor(readonly opts: ChainNodeClientOptions) {
    this.#stats = opts.stats ?? newChainClientStats();
    this.#agent = opts.ca && opts.url.startsWith('https:') ? caAgent(opts.ca) : undefined;
  }

  /** The current session's id (it travels in clear in each record's URL), or null; for diagnostics. */
  get sessionId(): string | null {
    return this.#session?.id ?? null;
  }

  async #post(path: string, body: Uint8Array | string, contentType: string): Promise<{ status: number; body: Buffer }> {
    if (this.#agent) {
      try {
        return await httpsPost(new URL(path, this.opts.url), typeof body === 'string' ? body : Buffer.from(body), contentType, this.#agent, this.opts.timeoutMs ?? 60_000);
      } catch (err) {
        throw new SubmitError(`chain node ${this.opts.url} unreachable: ${(err as Error).message}`, true);
      }
    }
    let res: Response;
    try {
      res = await fetch(new URL(path, this.opts.url), { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : Buffer.from(body), signal: AbortSignal.timeout(this.opts.timeoutMs ?? 60_000) });
    } catch (err) {
      throw new SubmitError(`chain node ${this.opts.url} unreachable: ${(err as Error).message}`, true);
    }
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  }

  async #handshake(): Promise<{ id: string; session: Session; nodeEpoch: number }> {
    const { registry, nodeId, selfId } = this.opts;
    registry.invalidate(nodeId);
    await registry.fetch(nodeId);
    await registry.fetch(selfId);
    const hs = new InitiatorHandshake({ id: selfId, blsSecretKey: this.opts.blsSecretKey, nodeId, registry, now: Date.now, random: (n) => new Uint8Array(randomBytes(n)), ...(this.opts.signer ? { signer: this.opts.signer } : {}) });
    try {
      const r1 = await this.#post('/v1/handshake/m1', hs.start(), 'application/octet-stream');
      if (r1.status !== 200) throw new SubmitError(`handshake with ${nodeId}: HTTP ${r1.status} ${r1.body.toString('utf8').slice(0, 200)}`, true, r1.status);
      const a = JSON.parse(r1.body.toString('utf8')) as { handshake?: unknown; m2?: unknown };
      if (typeof a.handshake !== 'string' || typeof a.m2 !== 'string') throw new SubmitError(`handshake with ${nodeId}: malformed answer to M1`, true);
      const { m3, session } = hs.onM2(Buffer.from(a.m2, 'base64'));
      const r3 = await this.#post('/v1/handshake/m3', JSON.stringify({ handshake: a.handshake, m3: Buffer.from(m3).toString('base64') }), 'application/json');
      if (r3.status !== 200) throw new SubmitError(`handshake with ${nodeId}: HTTP ${r3.status} ${r3.body.toString('utf8').slice(0, 200)}`, true, r3.status);
      const b = JSON.parse(r3.body.toString('utf8')) as { session?: unknown };
      if (b.session !== session.sessionIdHex) throw new SubmitError(`handshake with ${nodeId}: the node names another session`, true);
      this.counters.handshakes++;
      this.#stats.handshakes++;
      return { id: session.sessionIdHex, session, nodeEpoch: registry.lookup(nodeId)?.epoch ?? -1 };
    } catch (err) {
      if (err instanceof ProtocolError) throw new SubmitError(`handshake with ${nodeId} refused locally: ${err.message}`, true);
      throw err;
    }
  }

  async submit(sub: BatchSubmission, expect: { seq: number; headerHash: string; root: string }): Promise<SignedReceipt> {
    const reply = await this.#exchange({ type: 'submit-batch', submission: sub }, `batch ${expect.seq}`);
    if ('results' in reply) throw new SubmitError(`reply for batch ${expect.seq} refused: a list of results for one batch`, true);
    if (!reply.ok) throw new SubmitError(`chain node refused batch ${expect.seq}: ${reply.status} ${reply.error}`, true, reply.status);
    return this.#checkReceipt(reply.receipt, sub, expect);
  }

  /**
   * Several consecutive batches in one record (`submit-batches`), so the node can fold them into one
   * anchor transaction: one result per batch, in order, a receipt (checked as `submit` checks it)
   * or the SubmitError for that batch.
   */
  async submitMany(items: ReadonlyArray<{ sub: BatchSubmission; expect: { seq: number; headerHash: string; root: string } }>): Promise<Array<SignedReceipt | SubmitError>> {
    if (items.length === 0) return [];
    const label = `batches ${items[0]!.expect.seq}..${items[items.length - 1]!.expect.seq}`;
    const reply = await this.#exchange({ type: 'submit-batches', submissions: items.map((i) => i.sub) }, label);
    if (!reply.ok) throw new SubmitError(`chain node refused ${label}: ${reply.status} ${reply.error}`, true, reply.status);
    if (!('results' in reply) || reply.results.length !== items.length) throw new SubmitError(`reply for ${label} refused: not one result per batch`, true);
    const out: Array<SignedReceipt | SubmitError> = [];
    for (const [k, r] of reply.results.entries()) {
      const { sub, expect } = items[k]!;
      if (!r.ok) out.push(new SubmitError(`chain node refused batch ${expect.seq}: ${r.status} ${r.error}`, true, r.status));
      else out.push(await this.#checkReceipt(r.receipt, sub, expect).catch((err: unknown) => err as SubmitError));
    }
    return out;
  }

  /** One request record and its reply over the session (a handshake first when needed). */
  async #exchange(request: SessionRequest, label: string): Promise<SessionReply> {
    for (let attempt = 0; ; attempt++) {
      if (!this.#session || this.#session.session.exhausted) {
        this.#session = await this.#handshake().catch((err: unknown) => {
          const reason = handshakeFailureReason(err);
          this.#stats.handshakeFailures[reason] = (this.#stats.handshakeFailures[reason] ?? 0) + 1;
          throw err;
        });
      }
      const s = this.#session;
      // The node's registry record may have changed since the handshake (revoked, or a new key
      // epoch): a session with a node that is no longer what was authenticated carries nothing more.
      const node = await this.opts.registry.fetch(this.opts.nodeId);
      if (!node || node.role !== 'node' || node.status !== 'active' || node.epoch !== s.nodeEpoch) {
        this.#session = null;
        this.counters.sessionsLost++;
        this.#stats.sessionsLost++;
        if (attempt === 0) continue;
        throw new SubmitError(`chain node ${this.opts.nodeId} changed in the registry during the handshake`, true);
      }
      const r = await this.#post(`/v1/sessions/${s.id}`, s.session.seal(encodeSessionRequest(request)), 'application/octet-stream');
      if ((r.status === 401 || r.status === 400) && attempt === 0) {
        // The node no longer knows the session (restart, expiry), or did not open our record (a
        // corrupted record: the sequence numbers no longer agree): one new handshake, then retry.
        // Only once per request, so forged 401s cannot make the gateway handshake in a loop.
        this.#session = null;
        this.counters.sessionsLost++;
        this.#stats.sessionsLost++;
        continue;
      }
      if (r.status !== 200) {
        this.#session = null;
        throw new SubmitError(`chain node: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 200)}`, true, r.status);
      }
      try {
        return decodeSessionReply(s.session.open(r.body));
      } catch (err) {
        this.#session = null;
        throw new SubmitError(`reply for ${label} refused: ${(err as Error).message}`, true);
      }
    }
  }

  async #checkReceipt(signed: SignedReceipt, sub: BatchSubmission, expect: { seq: number; headerHash: string; root: string }): Promise<SignedReceipt> {
    const r = signed.receipt;
    if (r.nodeId !== this.opts.nodeId || r.gatewayId !== sub.gatewayId || r.seq !== expect.seq || r.headerHash !== expect.headerHash || r.root !== expect.root) {
      throw new SubmitError(`receipt for batch ${expect.seq} does not match what was sent (node ${r.nodeId}, seq ${r.seq})`, true);
    }
    const node = await this.opts.registry.fetch(this.opts.nodeId);
    if (!node || node.role !== 'node' || node.status !== 'active') throw new SubmitError(`chain node ${this.opts.nodeId} is not an active node in the registry`, true);
    if (!(this.opts.verify ?? blsVerify)(node.blsPublicKey, receiptMessage(r), Uint8Array.from(Buffer.from(signed.signature, 'hex')))) {
      throw new SubmitError(`receipt for batch ${expect.seq} is not signed by node ${this.opts.nodeId}'s registered key`, true);
    }
    return signed;
  }
}
