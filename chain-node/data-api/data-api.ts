/**
 * The chain node's data API for data users (role user, inside a handshake session): a query for
 * one patient's slices over a time range, answered only under a grant that is valid on chain at
 * that moment, and only after the access is recorded on chain (AccessLog, group-committed by
 * AccessRecorder). docs/sharing.md has the flow; protocol/sharing/data-messages.ts the messages.
 *
 * Checks, in order, each with its own refusal (counted, and named to the user):
 *   the user is registered (unknown-user) and active now (revoked-user), read fresh from the chain;
 *   the grant exists (no-grant), is the user's (wrong-user), is not revoked (revoked) nor expired
 *   (expired) by the chain's clock; the range lies inside the grant's (out-of-range); the tags are
 *   the grant's (their hash is the grant's tagsHash, one per day from the grant's first day:
 *   bad-tags); the chain recorded the access (not-recorded).
 * The node serves, per gateway of the grant's hospital, the run of batches the user needs to check
 * completeness, and the ciphertexts of exactly the slices whose tag is one of the patient's tags
 * for a day of the range and whose span meets the range: nothing of any other patient but the
 * directory's opaque tags and counts. Continuation pages re-check the grant on chain.
 */
import { randomBytes } from 'node:crypto';
import type { LogFn } from '../../common/log';
import type { AccessGrant } from '../../contracts/clients';
import type { ChainRegistry } from '../../contracts/chain-registry';
import { decodeDirectoryPrefix } from '../../protocol/batch';
import { equalBytes } from '../../protocol/hash';
import { decodeUserRequest, encodeUserReply, REFUSALS, type Refusal, type ServedBatch, type ServedGateway, type UserReply, type UserRequest } from '../../protocol/sharing/data-messages';
import { dayOf, rangeDays, tagsHash } from '../../protocol/sharing/tags';
import type { BatchStore } from '../batch-store';
import type { UserAccessCounters } from '../monitoring';
import type { AccessRecorder, AccessTicket } from './access-recorder';
import { HeaderIndex, planRun } from './header-index';

/** What the data API reads of AccessLog (getGrant reverts with UnknownGrant for an id never granted). */
export interface GrantSource {
  getGrant(grantId: number): Promise<AccessGrant>;
  grantCount(): Promise<number>;
}

export interface DataApiOptions {
  readonly store: BatchStore;
  readonly registry: ChainRegistry;
  /** The hospital a gateway belongs to (registry), or undefined for an unknown gateway. */
  readonly gatewayHospital: (gatewayId: string) => Promise<string | undefined>;
  /** null: no AccessLog configured, every query is refused (no-access-log). */
  readonly grants: GrantSource | null;
  readonly recorder: AccessRecorder | null;
  readonly counters: UserAccessCounters;
  readonly log: LogFn;
  /** Ciphertext and directory bytes per page (default 8 MiB). */
  readonly pageBytes?: number;
  /** How long the query of a user's new session is waited for by the access recorder (default 1 s; expectQuery). */
  readonly expectQueryMs?: number;
  /** How long continuation pages of an access may be asked for (default 10 min). */
  readonly accessTtlMs?: number;
  readonly now?: () => number;
}

/** At most this many queries expected per user at once (sessions made and not used yet). */
const MAX_EXPECTED_PER_USER = 64;

class Refused extends Error {
  constructor(readonly refusal: Refusal, readonly status: number, message: string) {
    super(message);
  }
}

interface PlannedBatch {
  readonly gatewayId: string;
  readonly seq: number;
}

interface LiveAccess {
  readonly user: string;
  readonly grantId: number;
  readonly from: number;
  readonly to: number;
  readonly tags: ReadonlySet<string>;
  readonly items: readonly PlannedBatch[];
  readonly runs: ReadonlyMap<string, { lo: number; hi: number }>;
  readonly txHash: string;
  readonly blockNumber: number;
  readonly id: string;
  readonly expiresAt: number;
}

export class DataApi {
  readonly #index: HeaderIndex;
  readonly #accesses = new Map<string, LiveAccess>();
  /** Per user, the queries expected on sessions made and not used yet (expectQuery). */
  readonly #expected = new Map<string, Array<{ ticket: AccessTicket; timer: ReturnType<typeof setTimeout> }>>();
  /** Refusals by reason (a fixed set), for the metrics and health. */
  readonly refusedByReason: Record<Refusal, number> = Object.fromEntries(REFUSALS.map((r) => [r, 0])) as Record<Refusal, number>;

  constructor(readonly opts: DataApiOptions) {
    this.#index = new HeaderIndex(opts.store);
  }

  /** Reads the stored batches' header times ahead of the first query (HeaderIndex.warm). */
  warmIndex(): Promise<void> {
    return this.#index.warm();
  }

  /**
   * A data user has made a session: its query is on its way. Announced to the access recorder now,
   * so that a group of accesses gathering meanwhile waits for it (the users of a burst make their
   * handshakes together, then query one by one); withdrawn if no request comes on a session of that
   * user within expectQueryMs (the group waits 1.5 s at most in any case).
   */
  expectQuery(user: string): void {
    if (!this.opts.recorder || !this.opts.grants) return;
    let list = this.#expected.get(user);
    if (!list) this.#expected.set(user, (list = []));
    if (list.length >= MAX_EXPECTED_PER_USER) return;
    const e = {
      ticket: this.opts.recorder.announce(),
      timer: setTimeout(() => {
        const l = this.#expected.get(user);
        const i = l?.indexOf(e) ?? -1;
        if (i >= 0) l!.splice(i, 1);
        if (l?.length === 0) this.#expected.delete(user);
        e.ticket.withdraw();
      }, this.opts.expectQueryMs ?? 1000),
    };
    e.timer.unref?.();
    list.push(e);
  }

  #takeExpected(user: string): AccessTicket | undefined {
    const list = this.#expected.get(user);
    const e = list?.shift();
    if (list?.length === 0) this.#expected.delete(user);
    if (!e) return undefined;
    clearTimeout(e.timer);
    return e.ticket;
  }

  /** Answers one sealed-session request of a data user (the plaintext in, the plaintext reply out). */
  async handle(peer: { id: string }, plaintext: Uint8Array): Promise<Uint8Array> {
    let reply: UserReply;
    let binary = false;
    // A request of this user: one of its expected queries has come (or was not a query after all).
    const expected = this.#takeExpected(peer.id);
    try {
      let req: UserRequest;
      try {
        req = decodeUserRequest(plaintext);
      } catch (err) {
        if (/unknown type "submit-batch"/.test((err as Error).message)) throw new Refused('bad-request', 403, `session peer ${peer.id} (user) may not submit batches`);
        throw new Refused('bad-request', 400, (err as Error).message);
      }
      binary = req.reply === 'binary';
      reply = req.type === 'user-query' ? await this.#query(peer.id, req, expected) : await this.#page(peer.id, req.access, req.cursor);
      if (req.type === 'user-query') this.opts.counters.served++;
    } catch (err) {
      if (err instanceof Refused) {
        this.refusedByReason[err.refusal]++;
        if (err.refusal !== 'unavailable') this.opts.counters.denied++;
        this.opts.log('info', `data access by ${peer.id} refused (${err.refusal}): ${err.message}`, { component: 'data-api', event: 'access-refused', user: peer.id, refusal: err.refusal });
        reply = { ok: false, status: err.status, refusal: err.refusal, error: err.message };
      } else {
        this.refusedByReason.unavailable++;
        this.opts.log('warn', `data access by ${peer.id} failed: ${(err as Error).stack ?? String(err)}`, { component: 'data-api', event: 'access-failed', user: peer.id });
        reply = { ok: false, status: 503, refusal: 'unavailable', error: 'temporarily unable to answer; retry' };
      }
    } finally {
      expected?.withdraw();
    }
    return encodeUserReply(reply, binary);
  }

  async #checkUser(user: string): Promise<void> {
    this.opts.registry.invalidate(user);
    const rec = await this.opts.registry.fetch(user);
    if (!rec || rec.role !== 'user') throw new Refused('unknown-user', 403, `${user} is not a registered data user`);
    if (rec.status !== 'active') throw new Refused('revoked-user', 403, `data user ${user} is revoked in the registry`);
  }

  async #grant(user: string, grantId: number): Promise<AccessGrant> {
    const grants = this.opts.grants;
    if (!grants) throw new Refused('no-access-log', 503, 'this chain node has no AccessLog contract configured (chain.accessLog)');
    let g: AccessGrant;
    try {
      g = await grants.getGrant(grantId);
    } catch (err) {
      if (grantId >= (await grants.grantCount())) throw new Refused('no-grant', 403, `there is no grant ${grantId} on chain`);
      throw err;
    }
    if (g.user !== user) throw new Refused('wrong-user', 403, `grant ${grantId} is not ${user}'s`);
    if (g.revoked) throw new Refused('revoked', 403, `grant ${grantId} was revoked by ${g.hospital}`);
    if (!g.validNow) {
      await this.#checkUser(user);
      throw new Refused('expired', 403, `grant ${grantId} expired at ${new Date(g.expiry * 1000).toISOString()}`);
    }
    return g;
  }

  /**
   * The user's registry entry and the grant, both read from the chain at once; the refusals as if
   * read one after the other (the user's first).
   */
  async #userAndGrant(user: string, grantId: number): Promise<AccessGrant> {
    const [u, g] = await Promise.allSettled([this.#checkUser(user), this.#grant(user, grantId)]);
    if (u.status === 'rejected') throw u.reason;
    if (g.status === 'rejected') throw g.reason;
    return g.value;
  }

  async #query(user: string, q: Extract<UserRequest, { type: 'user-query' }>, expected?: AccessTicket): Promise<UserReply> {
    if (!this.opts.grants || !this.opts.recorder) throw new Refused('no-access-log', 503, 'this chain node has no AccessLog contract configured (chain.accessLog)');
    // Announced to the recorder while it is checked (since its session was made, or from now), so
    // that a group gathering meanwhile waits for it.
    const ticket = expected ?? this.opts.recorder.announce();
    try {
      return await this.#checkedQuery(user, q, ticket);
    } finally {
      ticket.withdraw();
    }
  }

  async #checkedQuery(user: string, q: Extract<UserRequest, { type: 'user-query' }>, ticket: AccessTicket): Promise<UserReply> {
    const g = await this.#userAndGrant(user, q.grantId);
    if (q.from < g.fromTime || q.to > g.toTime) throw new Refused('out-of-range', 403, `[${q.from}, ${q.to}] is not inside grant ${q.grantId}'s range [${g.fromTime}, ${g.toTime}]`);
    const { firstDay, days } = rangeDays(g.fromTime, g.toTime);
    const tagBytes = q.tags.map((t) => Uint8Array.from(Buffer.from(t, 'hex')));
    if (q.firstDay !== firstDay || q.tags.length !== days || !equalBytes(tagsHash(firstDay, tagBytes), Uint8Array.from(Buffer.from(g.tagsHash.slice(2), 'hex')))) {
      throw new Refused('bad-tags', 403, `the tags are not grant ${q.grantId}'s (one per day from day ${firstDay}, ${days} days, hashing to its tagsHash)`);
    }
    // Only the tags of the days the query's range touches.
    const d0 = dayOf(q.from);
    const d1 = dayOf(q.to);
    const tags = new Set(q.tags.slice(d0 - firstDay, d1 - firstDay + 1));
    const rec = await ticket.record({ grantId: q.grantId, fromTime: q.from, toTime: q.to });
    if (!rec.recorded) throw new Refused('not-recorded', 403, `the chain refused to record the access under grant ${q.grantId} (revoked or expired meanwhile; transaction ${rec.txHash})`);
    // Planned after the access is on chain: every batch anchored up to its block is in the store.
    const items: PlannedBatch[] = [];
    const runs = new Map<string, { lo: number; hi: number }>();
    for (const gw of this.#index.gateways().sort()) {
      if ((await this.opts.gatewayHospital(gw)) !== g.hospital) continue;
      const all = this.#index.batches(gw);
      const run = planRun(all, q.from, q.to);
      // Folded anchoring holds only the last header hash of each group of batches anchored
      // together: the run goes on to the end of its last batch's group, whose headers link it to
      // that head (data-user/verify-range.ts).
      if (run.length > 0) {
        const txOf = (seq: number): string | undefined => this.opts.store.meta(gw, seq)?.receipt?.receipt.txHash;
        const tx = txOf(run[run.length - 1]!.seq);
        for (let i = all.indexOf(run[run.length - 1]!) + 1; tx !== undefined && i < all.length && all[i]!.seq === run[run.length - 1]!.seq + 1 && txOf(all[i]!.seq) === tx; i++) run.push(all[i]!);
      }
      runs.set(gw, run.length > 0 ? { lo: run[0]!.seq, hi: run[run.length - 1]!.seq } : { lo: 0, hi: 0 });
      for (const b of run) items.push({ gatewayId: gw, seq: b.seq });
    }
    const id = randomBytes(16).toString('hex');
    const now = (this.opts.now ?? Date.now)();
    const live: LiveAccess = { id, user, grantId: q.grantId, from: q.from, to: q.to, tags, items, runs, txHash: rec.txHash, blockNumber: rec.blockNumber, expiresAt: now + (this.opts.accessTtlMs ?? 600_000) };
    for (const [k, a] of this.#accesses) if (a.expiresAt < now) this.#accesses.delete(k);
    this.#accesses.set(id, live);
    this.opts.log('info', `data access by ${user} under grant ${q.grantId}: ${items.length} batches of ${runs.size} gateways, recorded in ${rec.txHash}`, { component: 'data-api', event: 'access-served', user, grantId: q.grantId, txHash: rec.txHash });
    return this.#answer(live, 0);
  }

  async #page(user: string, accessId: string, cursor: number): Promise<UserReply> {
    const live = this.#accesses.get(accessId);
    if (!live || live.user !== user || live.expiresAt < (this.opts.now ?? Date.now)()) throw new Refused('unknown-access', 404, 'no such access (expired or another user\'s): query again');
    if (cursor > live.items.length) throw new Refused('bad-request', 400, `cursor ${cursor} past the ${live.items.length} batches of the access`);
    await this.#userAndGrant(user, live.grantId);
    return this.#answer(live, cursor);
  }

  #answer(live: LiveAccess, cursor: number): UserReply {
    const budget = this.opts.pageBytes ?? 8 * 1024 * 1024;
    let bytes = 0;
    let i = cursor;
    const byGw = new Map<string, ServedBatch[]>();
    while (i < live.items.length && (i === cursor || bytes < budget)) {
      const it = live.items[i]!;
      const served = this.#serve(it, live);
      bytes += served.bytes;
      let list = byGw.get(it.gatewayId);
      if (!list) byGw.set(it.gatewayId, (list = []));
      list.push(served.batch);
      i++;
    }
    // Every gateway's run is named on every page (the user checks each against the chain), its batches on the pages that hold them.
    const gateways: ServedGateway[] = [...live.runs].map(([gatewayId, run]) => ({ gatewayId, lo: run.lo, hi: run.hi, batches: byGw.get(gatewayId) ?? [] }));
    return { ok: true, access: { id: live.id, grantId: live.grantId, from: live.from, to: live.to, txHash: live.txHash, blockNumber: live.blockNumber }, cursor, next: i < live.items.length ? i : null, total: live.items.length, gateways };
  }

  #serve(it: PlannedBatch, live: LiveAccess): { batch: ServedBatch; bytes: number } {
    const held = this.opts.store.open(it.gatewayId, it.seq);
    if (!held) throw new Error(`batch ${it.gatewayId}#${it.seq} vanished from the store`);
    const stored = held.meta;
    let dirBytes: Buffer;
    let length: number;
    const picked: number[] = [];
    const ranges: Array<[number, number]> = [];
    let cts: Buffer[];
    try {
      // The directory, then by offset exactly the slices served: nothing else of the batch is read.
      dirBytes = held.read([[0, stored.directoryLength]])[0]!;
      const prefix = decodeDirectoryPrefix(dirBytes);
      length = prefix.length;
      let o = length;
      prefix.directory.slices.forEach((e, index) => {
        const at = o;
        o += e.ciphertextLength;
        if (e.lastReceivedAt < live.from || e.firstReceivedAt > live.to) return;
        if (!live.tags.has(Buffer.from(e.tag).toString('hex'))) return;
        picked.push(index);
        ranges.push([at, e.ciphertextLength]);
      });
      if (o !== stored.envelopeLength) throw new Error(`batch ${it.gatewayId}#${it.seq}: its directory does not describe its ${stored.envelopeLength}-byte envelope`);
      cts = ranges.length > 0 ? held.read(ranges) : [];
    } finally {
      held.close();
    }
    const slices = picked.map((index, k) => ({ index, ciphertext: cts[k]! }));
    const bytes = length + ranges.reduce((n, [, l]) => n + l, 0);
    const r = stored.receipt?.receipt;
    return {
      batch: { seq: it.seq, header: Buffer.from(stored.submission.header, 'hex'), signature: Buffer.from(stored.submission.headerSignature, 'hex'), directory: dirBytes, anchor: r ? { txHash: r.txHash, blockNumber: r.blockNumber } : null, slices },
      bytes,
    };
  }
}
