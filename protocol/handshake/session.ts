/**
 * The session record layer: what travels after the handshake.
 *
 *   record = 0x01 version ‖ direction (1 = gateway→node, 2 = node→gateway) ‖ seq (8) ‖ AEAD(…) ‖ tag
 *   nonce  = IV ⊕ (0⁴ ‖ seq),  AAD = session id ‖ direction ‖ seq
 *
 * Each direction has its own key and IV. Records are accepted strictly in order (the transport is
 * request/response, so anything else is an attack or a bug): an old sequence number is a replay, a
 * skipped one a reorder, a record in my own sending direction a reflection. Keys ratchet forward
 * every `rekeyEvery` records (key' = HKDF-Expand(key, "mcps-hs-v1/rekey")), far below ChaCha20-
 * Poly1305's limits, and old keys are dropped; a session also ends at `maxRecords` or its expiry
 * time, after which a new handshake is needed.
 */
import { ProtocolError } from '../errors';
import { utf8 } from '../hash';
import { aeadOpen, aeadSeal, hkdfExpand } from './primitives';
import type { TrafficKeys } from './schedule';

export type SessionRole = 'initiator' | 'responder';

export interface SessionOptions {
  now: () => number;
  /** ms since the epoch after which the session refuses to seal or open. */
  expiresAt: number;
  rekeyEvery?: number;
  maxRecords?: number;
}

const DIR_I2R = 1;
const DIR_R2I = 2;
const REKEY_INFO = utf8('mcps-hs-v1/rekey');

class Direction {
  #key: Uint8Array;
  #generation = 0;
  next = 0;

  constructor(key: Uint8Array, readonly iv: Uint8Array, readonly rekeyEvery: number) {
    this.#key = key.slice();
  }

  keyFor(seq: number): Uint8Array {
    const gen = Math.floor(seq / this.rekeyEvery);
    while (this.#generation < gen) {
      this.#key = hkdfExpand(this.#key, REKEY_INFO, 32);
      this.#generation++;
    }
    return this.#key;
  }

  get generation(): number {
    return this.#generation;
  }
}

export class Session {
  readonly id: Uint8Array;
  readonly #send: Direction;
  readonly #recv: Direction;
  readonly #sendDir: number;
  readonly #opts: Required<SessionOptions>;

  constructor(keys: TrafficKeys, readonly role: SessionRole, opts: SessionOptions) {
    this.#opts = { now: opts.now, expiresAt: opts.expiresAt, rekeyEvery: opts.rekeyEvery ?? 1024, maxRecords: opts.maxRecords ?? 2 ** 32 };
    if (!Number.isInteger(this.#opts.rekeyEvery) || this.#opts.rekeyEvery < 1) throw new RangeError(`rekeyEvery ${this.#opts.rekeyEvery} must be a positive integer`);
    this.id = keys.sessionId;
    const i = new Direction(keys.initiatorKey, keys.initiatorIv, this.#opts.rekeyEvery);
    const r = new Direction(keys.responderKey, keys.responderIv, this.#opts.rekeyEvery);
    this.#send = role === 'initiator' ? i : r;
    this.#recv = role === 'initiator' ? r : i;
    this.#sendDir = role === 'initiator' ? DIR_I2R : DIR_R2I;
  }

  get sessionIdHex(): string {
    return Buffer.from(this.id).toString('hex');
  }

  get sent(): number {
    return this.#send.next;
  }

  /** True when the caller should start a new handshake (expired or out of records). */
  get exhausted(): boolean {
    return this.#opts.now() >= this.#opts.expiresAt || this.#send.next >= this.#opts.maxRecords;
  }

  #nonce(iv: Uint8Array, seq: number): Uint8Array {
    const n = iv.slice();
    const s = new Uint8Array(8);
    new DataView(s.buffer).setBigUint64(0, BigInt(seq));
    for (let k = 0; k < 8; k++) n[4 + k]! ^= s[k]!;
    return n;
  }

  #aad(dir: number, seq: number): Uint8Array {
    const a = new Uint8Array(16 + 1 + 8);
    a.set(this.id, 0);
    a[16] = dir;
    new DataView(a.buffer).setBigUint64(17, BigInt(seq));
    return a;
  }

  seal(plaintext: Uint8Array): Uint8Array {
    if (this.#opts.now() >= this.#opts.expiresAt) throw new ProtocolError('session.expired', 'a new handshake is needed');
    const seq = this.#send.next;
    if (seq >= this.#opts.maxRecords) throw new ProtocolError('session.record-limit', 'a new handshake is needed');
    const out = aeadSeal(this.#send.keyFor(seq), this.#nonce(this.#send.iv, seq), plaintext, this.#aad(this.#sendDir, seq), 10);
    this.#send.next++;
    out[0] = 1;
    out[1] = this.#sendDir;
    new DataView(out.buffer, out.byteOffset, 10).setBigUint64(2, BigInt(seq));
    return out;
  }

  open(record: Uint8Array): Uint8Array {
    if (this.#opts.now() >= this.#opts.expiresAt) throw new ProtocolError('session.expired', 'a new handshake is needed');
    if (record.length < 10 + 16) throw new ProtocolError('record.truncated', `${record.length} bytes`);
    if (record[0] !== 1) throw new ProtocolError('record.version', `version ${record[0]}`);
    const dir = record[1]!;
    if (dir === this.#sendDir) throw new ProtocolError('record.reflected', 'a record in my own sending direction');
    if (dir !== DIR_I2R && dir !== DIR_R2I) throw new ProtocolError('record.direction', `direction ${dir}`);
    const big = new DataView(record.buffer, record.byteOffset + 2, 8).getBigUint64(0);
    if (big >= BigInt(this.#opts.maxRecords)) throw new ProtocolError('record.seq-limit', 'sequence number beyond the session limit');
    const seq = Number(big);
    if (seq < this.#recv.next) throw new ProtocolError('record.replay', `sequence ${seq}, expected ${this.#recv.next}`);
    if (seq > this.#recv.next) throw new ProtocolError('record.reorder', `sequence ${seq}, expected ${this.#recv.next}`);
    const pt = aeadOpen(this.#recv.keyFor(seq), this.#nonce(this.#recv.iv, seq), record.subarray(10), this.#aad(dir, seq), 'record.decrypt');
    this.#recv.next++;
    return pt;
  }
}
