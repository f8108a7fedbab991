/**
 * The chain node's side: answers M1 statelessly-cheap (one X25519 key pair, two DH, no pairing),
 * keeps a bounded table of pending handshakes with a timeout, and on M3 decrypts the initiator's
 * identity, checks it against the registry and verifies its BLS signature over the transcript with
 * one pairing product. A pending handshake is used once: a replayed M3 finds nothing.
 */
import { ProtocolError } from '../errors';
import { decodeM1, decodeM3Plain, encodeM2, splitM3 } from './messages';
import { aeadOpen, x25519Peer, X25519Secret } from './primitives';
import { recordHash, type PartyRole, type Registry, type RegistryRecord } from './registry';
import { extract, HS_SIG_DST, m3Keys, nodeMac, trafficKeys, transcriptH2, transcriptH3 } from './schedule';
import { Session } from './session';
import { noblePairing, type PairingBackend, type SignatureCheck, type SignatureVerdict } from './batch-verify';

export interface ResponderOptions {
  nodeId: string;
  x25519SecretKey: Uint8Array;
  registry: Registry;
  now: () => number;
  random: (n: number) => Uint8Array;
  /** Accepted clock difference for t_I (DoS control, not security). */
  timeWindowMs?: number;
  maxPending?: number;
  pendingTimeoutMs?: number;
  sessionLifetimeMs?: number;
  rekeyEvery?: number;
  /** Pairing arithmetic for M3 signatures (default: noble). */
  pairing?: PairingBackend;
}

interface Pending {
  readonly h2: Uint8Array;
  readonly mac: Uint8Array;
  readonly prk: Uint8Array;
  readonly created: number;
}

export interface Authenticated {
  readonly session: Session;
  readonly peer: { readonly id: string; readonly role: PartyRole; readonly epoch: number };
}

export class NodeResponder {
  readonly #pending = new Map<string, Pending>();
  readonly #static: X25519Secret;
  readonly #opts: Required<ResponderOptions>;

  constructor(opts: ResponderOptions) {
    this.#opts = {
      ...opts,
      timeWindowMs: opts.timeWindowMs ?? 120_000,
      maxPending: opts.maxPending ?? 1024,
      pendingTimeoutMs: opts.pendingTimeoutMs ?? 30_000,
      sessionLifetimeMs: opts.sessionLifetimeMs ?? 3_600_000,
      rekeyEvery: opts.rekeyEvery ?? 1024,
      pairing: opts.pairing ?? noblePairing,
    };
    this.#static = new X25519Secret(opts.x25519SecretKey);
  }

  /** Drops a pending handshake (the node's own bounds decide which to drop when its table is full). */
  forget(handshakeId: string): void {
    this.#pending.delete(handshakeId);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  #self(): RegistryRecord {
    const me = this.#opts.registry.lookup(this.#opts.nodeId);
    if (!me || me.role !== 'node' || me.status !== 'active') throw new ProtocolError('self.not-active', `${this.#opts.nodeId} is not an active node in the registry`);
    return me;
  }

  #evictExpired(now: number): void {
    for (const [id, p] of this.#pending) if (now - p.created > this.#opts.pendingTimeoutMs) this.#pending.delete(id);
  }

  onM1(m1bytes: Uint8Array): { handshakeId: string; m2: Uint8Array } {
    const m1 = decodeM1(m1bytes);
    const me = this.#self();
    if (m1.nodeId !== me.id) throw new ProtocolError('m1.wrong-node', `addressed to ${m1.nodeId}`);
    if (m1.nodeEpoch !== me.epoch) throw new ProtocolError('m1.epoch', `node epoch ${m1.nodeEpoch}, current ${me.epoch}`);
    const now = this.#opts.now();
    if (m1.time < now - this.#opts.timeWindowMs) throw new ProtocolError('time.stale', `t_I is ${now - m1.time} ms old`);
    if (m1.time > now + this.#opts.timeWindowMs) throw new ProtocolError('time.future', `t_I is ${m1.time - now} ms ahead`);
    this.#evictExpired(now);
    if (this.#pending.size >= this.#opts.maxPending) throw new ProtocolError('m1.too-many-pending', `${this.#pending.size} handshakes pending`);
    const X = x25519Peer(m1.ephemeral, 'm1.bad-ephemeral');
    const dhS = this.#static.dh(X, 'm1.bad-ephemeral');
    const yBytes = this.#opts.random(32);
    const y = new X25519Secret(yBytes);
    yBytes.fill(0);
    const Y = y.publicKey();
    const dhE = y.dh(X, 'm1.bad-ephemeral');
    const nonce = this.#opts.random(16);
    const h2 = transcriptH2(m1bytes, recordHash(me), Y, nonce);
    const prk = extract(h2, dhE, dhS);
    const mac = nodeMac(prk, h2);
    const handshakeId = Buffer.from(this.#opts.random(16)).toString('hex');
    this.#pending.set(handshakeId, { h2, mac, prk, created: now });
    return { handshakeId, m2: encodeM2({ ephemeral: Y, nonce, mac }) };
  }

  /**
   * First half of M3: consume the pending handshake, decrypt, and learn who claims to be calling,
   * so the caller can fetch that party's registry record (possibly from the chain) before `finish`.
   */
  openM3(handshakeId: string, m3bytes: Uint8Array): OpenedM3 {
    const p = this.#pending.get(handshakeId);
    if (!p) throw new ProtocolError('m3.unknown-handshake', 'no pending handshake with that id (replayed, expired or never started)');
    if (this.#opts.now() - p.created > this.#opts.pendingTimeoutMs) {
      this.#pending.delete(handshakeId);
      throw new ProtocolError('m3.expired', 'the handshake timed out');
    }
    const sealed = splitM3(m3bytes);
    const { key, iv } = m3Keys(p.prk);
    const opened = aeadOpen(key, iv, sealed, new Uint8Array([...p.h2, ...p.mac]), 'm3.decrypt');
    // Used once from here on, whatever happens next: a replayed or second M3 finds nothing. An M3
    // that does not decrypt leaves the handshake pending, so a third party who sees the handshake
    // id (it travels in clear) cannot cancel the initiator's handshake with garbage.
    this.#pending.delete(handshakeId);
    const plain = decodeM3Plain(opened);
    if (plain.peerId === this.#opts.nodeId) throw new ProtocolError('m3.self-identity', 'the initiator claims to be this node');
    const prepare = (peer: RegistryRecord | undefined): Prepared => {
      if (!peer || peer.id !== plain.peerId) throw new ProtocolError('m3.unknown-peer', `${plain.peerId} is not registered`);
      if (peer.role !== 'gateway' && peer.role !== 'user') throw new ProtocolError('m3.wrong-role', `${plain.peerId} is a ${peer.role}`);
      if (peer.status !== 'active') throw new ProtocolError('m3.revoked', `${plain.peerId} is revoked`);
      if (peer.epoch !== plain.peerEpoch) throw new ProtocolError('m3.epoch', `key epoch ${plain.peerEpoch}, registry has ${peer.epoch}`);
      const h3 = transcriptH3(p.h2, p.mac, peer.id, recordHash(peer));
      return {
        check: { publicKey: peer.blsPublicKey, message: h3, signature: plain.signature, dst: HS_SIG_DST },
        complete: (): Authenticated => {
          const session = new Session(trafficKeys(p.prk, h3, plain.signature), 'responder', {
            now: this.#opts.now,
            expiresAt: this.#opts.now() + this.#opts.sessionLifetimeMs,
            rekeyEvery: this.#opts.rekeyEvery,
          });
          return { session, peer: { id: peer.id, role: peer.role, epoch: peer.epoch } };
        },
      };
    };
    return {
      peerId: plain.peerId,
      prepare,
      finish: (peer: RegistryRecord | undefined): Authenticated => {
        const prep = prepare(peer);
        const verdict = this.#opts.pairing.verifyBatch([prep.check], this.#opts.random)[0];
        if (verdict !== 'ok') throw verdictError(verdict!, plain.peerId);
        return prep.complete();
      },
    };
  }

  /**
   * Finishes many opened M3 at once with one batch verification of their signatures (n + 1 Miller
   * loops, one final exponentiation); each entry gets its session or its precise refusal.
   */
  finishMany(entries: ReadonlyArray<{ opened: OpenedM3; peer: RegistryRecord | undefined }>): Array<Authenticated | ProtocolError> {
    const prepared: Array<Prepared | ProtocolError> = entries.map(({ opened, peer }) => {
      try {
        return opened.prepare(peer);
      } catch (err) {
        if (err instanceof ProtocolError) return err;
        throw err;
      }
    });
    const live = prepared.filter((x): x is Prepared => !(x instanceof ProtocolError));
    const verdicts = this.#opts.pairing.verifyBatch(live.map((x) => x.check), this.#opts.random);
    let k = 0;
    return prepared.map((x, i) => {
      if (x instanceof ProtocolError) return x;
      const v = verdicts[k++]!;
      return v === 'ok' ? x.complete() : verdictError(v, entries[i]!.opened.peerId);
    });
  }

  /** Both halves with the injected registry. */
  onM3(handshakeId: string, m3bytes: Uint8Array): Authenticated {
    const opened = this.openM3(handshakeId, m3bytes);
    return opened.finish(this.#opts.registry.lookup(opened.peerId));
  }
}

function verdictError(v: SignatureVerdict, peerId: string): ProtocolError {
  return v === 'bad-encoding'
    ? new ProtocolError('m3.bad-signature-encoding', 'σ is not a valid compressed G1 point of the prime-order subgroup')
    : new ProtocolError('m3.bad-signature', `signature does not verify against ${peerId}'s registered key`);
}

export interface OpenedM3 {
  readonly peerId: string;
  /** Verifies the signature and returns the session. */
  finish(peer: RegistryRecord | undefined): Authenticated;
  /** For NodeResponder.finishMany: every check but the signature; completing is up to it. */
  prepare(peer: RegistryRecord | undefined): Prepared;
}

interface Prepared {
  readonly check: SignatureCheck;
  complete(): Authenticated;
}

/** What the peer is told about any refusal: nothing more than that. */
export function uniformWireError(): { error: 'handshake refused' } {
  return { error: 'handshake refused' };
}

