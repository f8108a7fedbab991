/**
 * Byte-level building blocks of the handshake: a strict reader that refuses truncation and trailing
 * bytes with a reason naming the message, a writer, and the message type numbers.
 */
import { ProtocolError } from '../errors';
import { isPartyId, PARTY_ID_MAX_LEN } from '../party-id';

export const HS_VERSION = 1;
export const MSG_M1 = 1;
export const MSG_M2 = 2;
export const MSG_M3 = 3;
export const MAX_ID_LEN = PARTY_ID_MAX_LEN;

export class Reader {
  #o = 0;
  constructor(readonly bytes: Uint8Array, readonly where: string) {}

  take(n: number): Uint8Array {
    if (this.#o + n > this.bytes.length) throw new ProtocolError(`${this.where}.truncated`, `needs ${this.#o + n} bytes, has ${this.bytes.length}`);
    const out = this.bytes.slice(this.#o, this.#o + n);
    this.#o += n;
    return out;
  }

  u8(): number {
    return this.take(1)[0]!;
  }

  u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }

  u64(): number {
    const b = this.take(8);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`${this.where}.range`, 'integer above 2^53');
    return Number(v);
  }

  /** A length-prefixed party id (protocol/party-id.ts: 1..31 bytes, first a letter or digit). */
  id(): string {
    const n = this.u8();
    if (n < 1 || n > MAX_ID_LEN) throw new ProtocolError(`${this.where}.bad-id`, `identifier length ${n}`);
    const b = this.take(n);
    const s = String.fromCharCode(...b);
    if (!isPartyId(s)) throw new ProtocolError(`${this.where}.bad-id`, 'identifier is not 1..31 characters of [A-Za-z0-9._-] starting with a letter or digit');
    return s;
  }

  end(): void {
    if (this.#o !== this.bytes.length) throw new ProtocolError(`${this.where}.trailing-bytes`, `${this.bytes.length - this.#o} bytes after the message`);
  }

  /** Version and type, checked first so an unknown version is named as such. */
  header(type: number): void {
    const v = this.u8();
    if (v !== HS_VERSION) throw new ProtocolError(`${this.where}.version`, `version ${v}, expected ${HS_VERSION}`);
    const t = this.u8();
    if (t !== type) throw new ProtocolError(`${this.where}.type`, `message type ${t}, expected ${type}`);
  }
}

export class Writer {
  readonly #parts: Uint8Array[] = [];

  bytes(b: Uint8Array): this {
    this.#parts.push(b);
    return this;
  }

  u8(n: number): this {
    return this.bytes(Uint8Array.of(n));
  }

  u32(n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return this.bytes(b);
  }

  u64(n: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n));
    return this.bytes(b);
  }

  id(s: string): this {
    const b = new TextEncoder().encode(s);
    if (!isPartyId(s)) throw new ProtocolError('encode.bad-id', `identifier "${s}"`);
    return this.u8(b.length).bytes(b);
  }

  done(): Uint8Array {
    const out = new Uint8Array(this.#parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of this.#parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
