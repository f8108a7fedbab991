/**
 * A data user's client for a chain node's data API: the same two-way handshake a gateway makes
 * (role user, signed with the user's registered BLS key, the node authenticated by its registered
 * X25519 key), then sealed requests and replies (protocol/sharing/data-messages.ts). A query's
 * answer comes in pages; `query` fetches them all, reporting progress.
 */
import { randomBytes } from 'node:crypto';
import type { Agent } from 'node:https';
import { caAgent, postBody } from '../common/https-post';
import type { ChainRegistry } from '../contracts/chain-registry';
import { InitiatorHandshake, type Session } from '../protocol/handshake';
import { ProtocolError } from '../protocol/errors';
import { nobleSigner, type BlsSigner } from '../protocol/bls';
import { mclSigner } from '../common/mcl-pairing';
import { decodeUserReply, encodeUserRequest, type Refusal, type ServedGateway, type UserReply, type UserRequest, type AccessRef } from '../protocol/sharing/data-messages';

/** The node refused the query: `refusal` says why (no-grant, expired, revoked, …). */
export class AccessRefused extends Error {
  constructor(readonly refusal: Refusal | 'handshake', readonly status: number, message: string) {
    super(message);
    this.name = 'AccessRefused';
  }
}

export interface NodeClientOptions {
  readonly url: string;
  readonly nodeId: string;
  readonly userId: string;
  readonly blsSecretKey: Uint8Array;
  readonly registry: ChainRegistry;
  readonly timeoutMs?: number;
  /** Computes the handshake signature (default: mcl-wasm's, as the gateway does: the same bytes as noble's, several times cheaper; noble if mcl cannot load). */
  readonly signer?: BlsSigner;
  /** A CA to trust for an https:// node (the consortium's); otherwise the system's. */
  readonly ca?: Buffer;
}

export interface QueryAnswer {
  readonly access: AccessRef;
  readonly gateways: ServedGateway[];
  /** Bytes of sealed replies received (what reached the user). */
  readonly bytesReceived: number;
  /** The decrypted reply bodies as received, for a caller that checks what reached it. */
  readonly rawReplies: Uint8Array[];
}

/** What to do when a certificate was not trusted. */
export function tlsHint(err: unknown): string {
  const m = `${(err as Error).message} ${String((err as { cause?: Error }).cause?.message ?? '')}`;
  return /self[- ]signed|unable to (get|verify)|certificate/i.test(m) ? ' (its TLS certificate is not trusted: give the CA that signed it with --ca FILE; `mcps up --tls` puts it at <data>/tls/ca.pem)' : '';
}

export class DataNodeClient {
  #session: Session | null = null;
  #signer: Promise<BlsSigner> | null = null;
  readonly #agent: Agent | undefined;

  constructor(readonly opts: NodeClientOptions) {
    this.#agent = opts.ca ? caAgent(opts.ca) : undefined;
  }

  /** The signer this client's handshakes use (mcl-wasm unless one was given or mcl cannot load). */
  signer(): Promise<BlsSigner> {
    return (this.#signer ??= this.opts.signer ? Promise.resolve(this.opts.signer) : mclSigner().catch(() => nobleSigner));
  }

  async #post(path: string, body: Uint8Array | string, contentType: string): Promise<{ status: number; body: Buffer }> {
    try {
      return await postBody(new URL(path, this.opts.url), typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength), contentType, this.#agent, this.opts.timeoutMs ?? 120_000);
    } catch (err) {
      throw new Error(`chain node ${this.opts.nodeId} at ${this.opts.url} unreachable: ${(err as Error).message}${tlsHint(err)}`);
    }
  }

  async #handshake(): Promise<Session> {
    const { registry, nodeId, userId } = this.opts;
    registry.invalidate(nodeId);
    registry.invalidate(userId);
    const [, me] = await Promise.all([registry.fetch(nodeId), registry.fetch(userId)]);
    if (!me || me.role !== 'user') throw new AccessRefused('unknown-user', 403, `${userId} is not a registered data user`);
    if (me.status !== 'active') throw new AccessRefused('revoked-user', 403, `data user ${userId} is revoked in the registry`);
    const signer = await this.signer();
    const hs = new InitiatorHandshake({ id: userId, blsSecretKey: this.opts.blsSecretKey, nodeId, registry, now: Date.now, random: (n) => new Uint8Array(randomBytes(n)), signer });
    try {
      const r1 = await this.#post('/v1/handshake/m1', hs.start(), 'application/octet-stream');
      if (r1.status === 400) throw new AccessRefused('handshake', 400, `chain node ${nodeId} refused the handshake (is ${userId}'s key the registered one?)`);
      if (r1.status !== 200) throw new Error(`handshake with ${nodeId}: HTTP ${r1.status} ${r1.body.toString('utf8').slice(0, 200)}`);
      const a = JSON.parse(r1.body.toString('utf8')) as { handshake?: unknown; m2?: unknown };
      if (typeof a.handshake !== 'string' || typeof a.m2 !== 'string') throw new Error(`handshake with ${nodeId}: malformed answer to M1`);
      const { m3, session } = hs.onM2(Buffer.from(a.m2, 'base64'));
      const r3 = await this.#post('/v1/handshake/m3', JSON.stringify({ handshake: a.handshake, m3: Buffer.from(m3).toString('base64') }), 'application/json');
      if (r3.status === 400) throw new AccessRefused('handshake', 400, `chain node ${nodeId} refused the handshake (is ${userId} registered, active, and its key the registered one?)`);
      if (r3.status !== 200) throw new Error(`handshake with ${nodeId}: HTTP ${r3.status} ${r3.body.toString('utf8').slice(0, 200)}`);
      const b = JSON.parse(r3.body.toString('utf8')) as { session?: unknown };
      if (b.session !== session.sessionIdHex) throw new Error(`handshake with ${nodeId}: the node names another session`);
      return session;
    } catch (err) {
      if (err instanceof ProtocolError) throw new Error(`handshake with ${nodeId} failed here: ${err.message}`);
      throw err;
    }
  }

  /** Makes the session now (the handshake), if there is none yet. */
  async connect(): Promise<void> {
    if (!this.#session || this.#session.exhausted) this.#session = await this.#handshake();
  }

  /** One request, one reply (a new handshake if the node no longer knows the session). */
  async request(req: UserRequest): Promise<{ reply: UserReply; raw: Uint8Array; bytes: number }> {
    for (let attempt = 0; ; attempt++) {
      if (!this.#session || this.#session.exhausted) this.#session = await this.#handshake();
      const s = this.#session;
      const r = await this.#post(`/v1/sessions/${s.sessionIdHex}`, s.seal(encodeUserRequest({ ...req, reply: 'binary' })), 'application/octet-stream');
      if (r.status === 401 && attempt === 0) {
        this.#session = null;
        continue;
      }
      if (r.status !== 200) {
        this.#session = null;
        throw new Error(`chain node ${this.opts.nodeId}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
      }
      let raw: Uint8Array;
      try {
        raw = s.open(r.body);
      } catch (err) {
        this.#session = null;
        throw new Error(`reply of chain node ${this.opts.nodeId} refused: ${(err as Error).message}`);
      }
      return { reply: decodeUserReply(raw), raw, bytes: r.body.length };
    }
  }

  /** A whole query: the first page, then every continuation page; `onProgress(done, total)` batches. */
  async query(q: Omit<Extract<UserRequest, { type: 'user-query' }>, 'type'>, onProgress?: (done: number, total: number) => void, onPage?: (page: Extract<UserReply, { ok: true }>) => void): Promise<QueryAnswer> {
    const rawReplies: Uint8Array[] = [];
    let bytesReceived = 0;
    const take = (x: { reply: UserReply; raw: Uint8Array; bytes: number }): Extract<UserReply, { ok: true }> => {
      rawReplies.push(x.raw);
      bytesReceived += x.bytes;
      if (!x.reply.ok) throw new AccessRefused(x.reply.refusal, x.reply.status, `chain node ${this.opts.nodeId} refused: ${x.reply.error}`);
      return x.reply;
    };
    let page = take(await this.request({ type: 'user-query', ...q }));
    const access = page.access;
    const gateways = new Map<string, ServedGateway & { batches: ServedGateway['batches'][number][] }>();
    for (;;) {
      let done = page.cursor;
      for (const g of page.gateways) {
        let acc = gateways.get(g.gatewayId);
        if (!acc) gateways.set(g.gatewayId, (acc = { gatewayId: g.gatewayId, lo: g.lo, hi: g.hi, batches: [] }));
        if (acc.lo !== g.lo || acc.hi !== g.hi) throw new Error(`chain node ${this.opts.nodeId} changed gateway ${g.gatewayId}'s run between pages`);
        acc.batches.push(...g.batches);
        done += g.batches.length;
      }
      onProgress?.(done, page.total);
      if (page.next !== null && page.next <= page.cursor) throw new Error(`chain node ${this.opts.nodeId} sent a page that does not advance`);
      // The next page is asked for before this one is handed on: the node reads it meanwhile.
      const next = page.next === null ? null : this.request({ type: 'user-query-page', access: access.id, cursor: page.next });
      try {
        onPage?.(page);
      } catch (err) {
        next?.catch(() => undefined);
        throw err;
      }
      if (!next) break;
      page = take(await next);
      if (page.access.id !== access.id) throw new Error(`chain node ${this.opts.nodeId} answered for another access`);
    }
    return { access, gateways: [...gateways.values()], bytesReceived, rawReplies };
  }
}
