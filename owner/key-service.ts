/**
 * The hospital's key service (`mcps owner serve`): releases to a registered data user exactly what
 * an on-chain grant covers, without the owner's private key ever leaving the owner.
 *
 *   POST /v1/keys     body: a sealed key request (protocol/sharing/key-messages.ts)
 *                     → 200 the answer sealed to the user's registered encryption key,
 *                       or 4xx/503 {refusal, error} (JSON, in clear: it names no patient)
 *   GET  /v1/health   → {hospital, ok, counters}
 *
 * For every request: it opens (sealed to this hospital's owner key), is fresh (±5 min) and not a
 * replay (nonce), comes from a registered and active user whose registered BLS key signed it; the
 * grant is on chain, this hospital's, that user's, not revoked, not expired (chain time), and its
 * patient commitment is the named patient's (patientScope with the hospital's tag key). "tags"
 * answers the patient's day tags over the grant. "keys" also needs the access recorded on chain
 * (an Accessed event of that grant in the named AccessLog transaction) and releases, for each
 * slice named, the slice key derived from the batch's epoch key — only if the slice's tag is the
 * patient's tag for its day, that day is one of the grant's, and its span meets the recorded
 * access's range. Any slice outside that refuses the whole request.
 */
import type { IncomingMessage, Server } from 'node:http';
import { httpServer, type TlsMaterial } from '../common/tls';
import type { AddressInfo } from 'node:net';
import { ethers } from 'ethers';
import type { LogFn } from '../common/log';
import { hpkeSeal, HpkeRecipient, type X25519KeyPair } from '../common/hpke';
import type { AccessGrant, AccessLogClient, RegistryClient } from '../contracts/clients';
import { EpochKeyOpener } from '../gateway/sealing/envelope';
import { randomBytes } from 'node:crypto';
import { mclPairing } from '../common/mcl-pairing';
import { SIG_DST } from '../protocol/bls';
import { noblePairing } from '../protocol/handshake';
import { equalBytes } from '../protocol/hash';
import { decodeKeyRequest, KEY_REFUSALS, KEY_REQUEST_INFO, keyReleaseInfo, keyRequestMessage, type KeyAnswer, type KeyRefusal, type KeyRequest } from '../protocol/sharing/key-messages';
import { sliceKey } from '../protocol/sharing/slice-keys';
import { dayOf, patientScope, patientTag, rangeDays, rangeTags } from '../protocol/sharing/tags';

export interface KeyServiceOptions {
  readonly hospital: string;
  readonly owner: X25519KeyPair;
  readonly tagKey: Uint8Array;
  readonly registry: Pick<RegistryClient, 'getEntry'>;
  readonly accessLog: Pick<AccessLogClient, 'getGrant' | 'grantCount' | 'contract'>;
  readonly provider: ethers.Provider;
  readonly host: string;
  readonly port: number;
  readonly log: LogFn;
  readonly now?: () => number;
  /** HTTPS with the hospital's certificate. */
  readonly tls?: TlsMaterial;
}

export interface RunningKeyService {
  readonly url: string;
  readonly port: number;
  readonly counters: { released: number; tags: number; refused: number; refusedByReason: Record<KeyRefusal, number> };
  /** Whether the listener is open (readiness). */
  listening(): boolean;
  close(): Promise<void>;
}

class Refused extends Error {
  constructor(readonly refusal: KeyRefusal, readonly status: number, message: string) {
    super(message);
  }
}

const MAX_BODY = 16 * 1024 * 1024;
const SKEW_MS = 5 * 60_000;

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_BODY) throw new Refused('bad-request', 413, `body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startKeyService(o: KeyServiceOptions): Promise<RunningKeyService> {
  const now = o.now ?? Date.now;
  const recipient = new HpkeRecipient(o.owner.privateKey);
  const epochKeys = new EpochKeyOpener(o.owner.privateKey);
  const seen = new Map<string, number>();
  const counters: RunningKeyService['counters'] = { released: 0, tags: 0, refused: 0, refusedByReason: Object.fromEntries(KEY_REFUSALS.map((r) => [r, 0])) as Record<KeyRefusal, number> };
  const accessedTopic = o.accessLog.contract.interface.getEvent('Accessed')!.topicHash;
  const accessLogAddress = (await o.accessLog.contract.getAddress()).toLowerCase();
  // Request signatures checked with mcl-wasm (several times faster than noble, as the chain node's
  // handshakes); noble if mcl cannot load. The same check either way: the registered key signed it.
  const pairing = await mclPairing().catch(() => noblePairing);
  const signedBy = (pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean => pairing.verifyBatch([{ publicKey: pk, message: msg, signature: sig, dst: SIG_DST }], (n) => new Uint8Array(randomBytes(n)))[0] === 'ok';

  const checkGrant = async (r: KeyRequest): Promise<AccessGrant> => {
    let g: AccessGrant;
    try {
      g = await o.accessLog.getGrant(r.grantId);
    } catch (err) {
      if (r.grantId >= (await o.accessLog.grantCount())) throw new Refused('no-grant', 403, `there is no grant ${r.grantId} on chain`);
      throw err;
    }
    if (g.hospital !== o.hospital) throw new Refused('no-grant', 403, `grant ${r.grantId} is ${g.hospital}'s, not ${o.hospital}'s`);
    if (g.user !== r.user) throw new Refused('wrong-user', 403, `grant ${r.grantId} is not ${r.user}'s`);
    // The patient before the grant's state: the user's client asks its revoked grants too, and a
    // "revoked" must be about this patient's grant (the user knows which patient it was granted).
    if (!equalBytes(patientScope(o.tagKey, r.patient), ethers.getBytes(g.patientScope))) throw new Refused('wrong-patient', 403, `grant ${r.grantId} is not for patient ${r.patient}`);
    if (g.revoked) throw new Refused('revoked', 403, `grant ${r.grantId} was revoked`);
    if (!g.validNow) throw new Refused('expired', 403, `grant ${r.grantId} expired at ${new Date(g.expiry * 1000).toISOString()}`);
    return g;
  };

  /** The recorded access of this grant in `tx` (its range), or a refusal. */
  const recordedAccess = async (grantId: number, tx: string): Promise<{ from: number; to: number }> => {
    const rcpt = await o.provider.getTransactionReceipt(tx);
    for (const l of rcpt?.logs ?? []) {
      if (l.address.toLowerCase() !== accessLogAddress || l.topics[0] !== accessedTopic) continue;
      const p = o.accessLog.contract.interface.parseLog(l)!;
      for (const w of p.args[1] as bigint[]) {
        if (Number(w >> 128n) === grantId) return { from: Number((w >> 64n) & ((1n << 64n) - 1n)), to: Number(w & ((1n << 64n) - 1n)) };
      }
    }
    throw new Refused('no-access-recorded', 403, `transaction ${tx} records no access under grant ${grantId}`);
  };

  const answer = async (raw: Buffer): Promise<{ sealed: Uint8Array; r: KeyRequest }> => {
    let inner: Uint8Array;
    let signature: Uint8Array;
    try {
      const outer = JSON.parse(Buffer.from(await recipient.open(KEY_REQUEST_INFO, raw)).toString('utf8')) as { request?: unknown; signature?: unknown };
      if (typeof outer.request !== 'string' || typeof outer.signature !== 'string' || !/^[0-9a-f]{96}$/.test(outer.signature)) throw new Error('expected {request, signature}');
      inner = Buffer.from(outer.request, 'base64');
      signature = Buffer.from(outer.signature, 'hex');
    } catch (err) {
      throw new Refused('bad-request', 400, `the request does not open with ${o.hospital}'s owner key or is malformed (${(err as Error).message})`);
    }
    let r: KeyRequest;
    try {
      r = decodeKeyRequest(inner);
    } catch (err) {
      throw new Refused('bad-request', 400, (err as Error).message);
    }
    const t = now();
    if (Math.abs(r.time - t) > SKEW_MS) throw new Refused('stale', 400, `request time ${new Date(r.time).toISOString()} is more than 5 minutes from the service's clock`);
    const user = await o.registry.getEntry(r.user);
    if (!user || user.role !== 'user' || !user.encryptionPublicKey) throw new Refused('unknown-user', 403, `${r.user} is not a registered data user`);
    if (!user.active) throw new Refused('revoked-user', 403, `data user ${r.user} is revoked`);
    if (!signedBy(user.blsPublicKey, keyRequestMessage(inner), signature)) throw new Refused('bad-signature', 403, `the request is not signed by ${r.user}'s registered key`);
    for (const [k, at] of seen) if (t - at > 2 * SKEW_MS) seen.delete(k);
    if (seen.has(r.nonce)) throw new Refused('replay', 400, 'this request was seen before');
    seen.set(r.nonce, t);
    const g = await checkGrant(r);
    let reply: KeyAnswer;
    if (r.kind === 'tags') {
      const { firstDay, tags } = rangeTags(o.tagKey, r.patient, g.fromTime, g.toTime);
      reply = { ok: true, firstDay, tags: tags.map((x) => Buffer.from(x).toString('hex')) };
      counters.tags++;
    } else {
      const access = await recordedAccess(r.grantId, r.accessTx!);
      const { firstDay, days } = rangeDays(g.fromTime, g.toTime);
      const keys: string[] = [];
      for (const [i, s] of r.slices!.entries()) {
        const what = `slice ${i} (${s.gatewayId}#${s.seq})`;
        if (s.day < firstDay || s.day >= firstDay + days || dayOf(s.first) !== s.day || dayOf(s.last) !== s.day || s.last < s.first) throw new Refused('not-covered', 403, `${what}: day ${s.day} is not a day of grant ${r.grantId}`);
        if (s.last < access.from || s.first > access.to) throw new Refused('not-covered', 403, `${what}: its readings lie outside the recorded access's range`);
        const tag = Buffer.from(s.tag, 'hex');
        if (!equalBytes(patientTag(o.tagKey, r.patient, s.day), tag)) throw new Refused('not-covered', 403, `${what}: not patient ${r.patient}'s slice`);
        let epochKey: Uint8Array;
        try {
          epochKey = await epochKeys.open(s.gatewayId, s.epochId, Buffer.from(s.wrappedEpochKey, 'hex'));
        } catch {
          throw new Refused('not-covered', 403, `${what}: its epoch key is not wrapped to ${o.hospital}'s owner key`);
        }
        keys.push(Buffer.from(sliceKey(epochKey, { gatewayId: s.gatewayId, seq: s.seq, tag, day: s.day, count: s.count, firstReceivedAt: s.first, lastReceivedAt: s.last })).toString('hex'));
      }
      reply = { ok: true, keys };
      counters.released += keys.length;
    }
    o.log('info', `released ${r.kind} to ${r.user} under grant ${r.grantId}${r.kind === 'keys' ? ` (${r.slices!.length} slice keys, access ${r.accessTx})` : ''}`, { component: 'key-service', event: 'released', user: r.user, grantId: r.grantId, kind: r.kind });
    const sealed = await hpkeSeal(user.encryptionPublicKey, keyReleaseInfo(inner), Buffer.from(JSON.stringify(reply)));
    return { sealed, r };
  };

  const server: Server = httpServer((req, res) => {
    void (async () => {
      const json = (status: number, x: unknown): void => {
        const s = JSON.stringify(x);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
        res.end(s);
      };
      try {
        if (req.method === 'GET' && req.url === '/v1/health') return json(200, { hospital: o.hospital, ok: true, counters });
        if (req.method !== 'POST' || req.url !== '/v1/keys') return json(404, { error: `no route ${req.method} ${req.url}` });
        const { sealed } = await answer(await body(req));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': sealed.length });
        res.end(sealed);
      } catch (err) {
        if (err instanceof Refused) {
          counters.refused++;
          counters.refusedByReason[err.refusal]++;
          o.log('info', `key request refused (${err.refusal}): ${err.message}`, { component: 'key-service', event: 'refused', refusal: err.refusal });
          return json(err.status, { refusal: err.refusal, error: err.message });
        }
        counters.refusedByReason.unavailable++;
        o.log('warn', `key request failed: ${(err as Error).stack ?? String(err)}`, { component: 'key-service', event: 'failed' });
        json(503, { refusal: 'unavailable', error: 'temporarily unable to answer; retry' });
      }
    })();
  }, o.tls);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    listening: () => server.listening,
    url: `${o.tls ? 'https' : 'http'}://${o.host}:${port}`,
    port,
    counters,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
