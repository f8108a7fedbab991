/**
 * The handshake's primitives, all from node:crypto (pure computation, constant time where it
 * matters): X25519 from raw 32-byte keys, HKDF-SHA256, HMAC-SHA256, ChaCha20-Poly1305. Nothing here
 * is hand-rolled; this module only adapts raw bytes to KeyObjects and names failures.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, timingSafeEqual, type KeyObject } from 'node:crypto';
import { ProtocolError } from '../errors';
import { hmacSha256 } from '../hash';

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
/** A placeholder public half for JWK private-key import: node:crypto derives the real one from d. */
const JWK_X_PLACEHOLDER = Buffer.alloc(32).toString('base64url');

/**
 * A KeyObject from a raw X25519 secret. node:crypto's JWK import builds the key straight from the
 * raw bytes (EVP_PKEY_new_raw_private_key), about 6x cheaper here than its PKCS#8 DER import, which
 * goes through OpenSSL's decoder search (0.08 vs 0.46 ms of CPU). JWK requires an "x" member that
 * the private-key import does not use (the public half is recomputed from d); should a Node
 * version ever check it, the DER path answers instead. test/handshake-primitives.test.ts checks
 * both paths give the same keys.
 */
function privateKeyObject(secret: Uint8Array): KeyObject {
  try {
    return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(secret).toString('base64url'), x: JWK_X_PLACEHOLDER }, format: 'jwk' });
  } catch {
    return privateKeyObjectDer(secret);
  }
}

/** The reference path (PKCS#8 DER), kept for the fallback and for the tests. */
export function privateKeyObjectDer(secret: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, secret]), format: 'der', type: 'pkcs8' });
}

function publicBytes(priv: KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(priv.export({ format: 'jwk' }).x!, 'base64url'));
}

export function x25519PublicKey(secret: Uint8Array): Uint8Array {
  if (secret.length !== 32) throw new ProtocolError('x25519.secret-length', `${secret.length} bytes`);
  return publicBytes(privateKeyObject(secret));
}

/** A peer's X25519 public key as a KeyObject, made once per handshake message. */
export function x25519Peer(peer: Uint8Array, reason: string): KeyObject {
  if (peer.length !== 32) throw new ProtocolError(reason, `public key of ${peer.length} bytes`);
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peer).toString('base64url') }, format: 'jwk' });
  } catch {
    try {
      return createPublicKey({ key: Buffer.concat([SPKI_X25519, peer]), format: 'der', type: 'spki' });
    } catch {
      throw new ProtocolError(reason, 'X25519 refused the public key');
    }
  }
}

/**
 * An X25519 secret held as a KeyObject: a node keeps its static key as one of these, and each side
 * builds its ephemeral once per handshake.
 */
export class X25519Secret {
  readonly #key: KeyObject;

  constructor(secret: Uint8Array) {
    if (secret.length !== 32) throw new ProtocolError('x25519.secret-length', `${secret.length} bytes`);
    this.#key = privateKeyObject(secret);
  }

  publicKey(): Uint8Array {
    return publicBytes(this.#key);
  }

  /** DH with a peer key; an all-zero result (low-order peer key) is refused with `reason`. */
  dh(peer: KeyObject, reason: string): Uint8Array {
    let shared: Buffer;
    try {
      shared = diffieHellman({ privateKey: this.#key, publicKey: peer });
    } catch {
      throw new ProtocolError(reason, 'X25519 refused the public key');
    }
    if (shared.every((b) => b === 0)) throw new ProtocolError(reason, 'low-order public key (all-zero shared secret)');
    return new Uint8Array(shared);
  }
}

/** X25519(secret, peer). A low-order peer key (all-zero shared secret) is refused with `reason`. */
export function x25519(secret: Uint8Array, peer: Uint8Array, reason: string): Uint8Array {
  return new X25519Secret(secret).dh(x25519Peer(peer, reason), reason);
}

/** HKDF-Expand only, from an existing pseudorandom key (RFC 5869 with an empty salt would re-extract). */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let prev: Uint8Array = new Uint8Array(0);
  let o = 0;
  for (let i = 1; o < length; i++) {
    prev = hmacSha256(prk, prev, info, Uint8Array.of(i));
    out.set(prev.subarray(0, Math.min(32, length - o)), o);
    o += 32;
  }
  return out;
}

export function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function aeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, prefix = 0): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  // One copy into the output (`prefix` bytes left free before it for a caller's record header).
  const ct = c.update(plaintext);
  const fin = c.final();
  const tag = c.getAuthTag();
  const out = new Uint8Array(prefix + ct.length + fin.length + tag.length);
  out.set(ct, prefix);
  out.set(fin, prefix + ct.length);
  out.set(tag, prefix + ct.length + fin.length);
  return out;
}

export function aeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, reason: string): Uint8Array {
  if (sealed.length < 16) throw new ProtocolError(reason, 'shorter than the authentication tag');
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: sealed.length - 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    const pt = d.update(sealed.subarray(0, sealed.length - 16));
    const fin = d.final();
    // The plaintext as a Uint8Array of its own memory (no copy when the cipher's buffer is exactly it).
    if (fin.length === 0 && pt.byteOffset === 0 && pt.buffer.byteLength === pt.length) return new Uint8Array(pt.buffer, 0, pt.length);
    return new Uint8Array(Buffer.concat([pt, fin]));
  } catch {
    throw new ProtocolError(reason, 'authentication failed');
  }
}
