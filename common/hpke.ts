/**
 * HPKE (RFC 9180) with raw X25519 keys, over @hpke/core: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * ChaCha20-Poly1305 (a Raspberry Pi 4 has no AES instructions). Single-shot seal and open with an
 * `info` that binds the ciphertext to its use. Output: enc (32 bytes) ‖ ciphertext (plaintext + 16).
 *
 * Used for: a gateway's epoch keys wrapped to the data owner (gateway/sealing), a data user's key
 * request sealed to the owner, and the owner's key release sealed to the user (owner/, data-user/).
 */
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { x25519 } from '@noble/curves/ed25519.js';

export const HPKE_ENC_LENGTH = 32;
export const HPKE_OVERHEAD = HPKE_ENC_LENGTH + 16;

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });

// A copy in an ArrayBuffer of its own: Buffer#slice is a view into a shared pool, so its .buffer
// would hand the cipher suite other bytes.
const ab = (b: Uint8Array): ArrayBuffer => {
  const c = new Uint8Array(b.length);
  c.set(b);
  return c.buffer;
};

export interface X25519KeyPair {
  /** Raw 32-byte private key: secret, kept in a 0600 key file. */
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export async function hpkeKeyPair(): Promise<X25519KeyPair> {
  const kp = await suite.kem.generateKeyPair();
  const privateKey = new Uint8Array(await suite.kem.serializePrivateKey(kp.privateKey));
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

export function hpkePublicKey(privateKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(privateKey);
}

export async function hpkeSeal(recipientPublicKey: Uint8Array, info: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  if (recipientPublicKey.length !== 32) throw new RangeError(`HPKE recipient key of ${recipientPublicKey.length} bytes, expected 32 (X25519)`);
  const pk = await suite.kem.deserializePublicKey(ab(recipientPublicKey));
  const res = await suite.seal({ recipientPublicKey: pk, info: ab(info) }, ab(plaintext));
  const out = new Uint8Array(HPKE_ENC_LENGTH + res.ct.byteLength);
  out.set(new Uint8Array(res.enc), 0);
  out.set(new Uint8Array(res.ct), HPKE_ENC_LENGTH);
  return out;
}

/** A recipient's private key, imported once (importing costs more than opening). */
export class HpkeRecipient {
  readonly #key: Promise<CryptoKey>;

  constructor(privateKey: Uint8Array) {
    if (privateKey.length !== 32) throw new RangeError(`HPKE private key of ${privateKey.length} bytes, expected 32 (X25519)`);
    this.#key = suite.kem.importKey('raw', ab(privateKey), false);
  }

  /** Throws if the ciphertext was altered, is for another key, or was sealed under another `info`. */
  async open(info: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> {
    if (sealed.length < HPKE_OVERHEAD) throw new RangeError(`HPKE ciphertext of ${sealed.length} bytes is too short`);
    const pt = await suite.open({ recipientKey: await this.#key, enc: ab(sealed.subarray(0, HPKE_ENC_LENGTH)), info: ab(info) }, ab(sealed.subarray(HPKE_ENC_LENGTH)));
    return new Uint8Array(pt);
  }
}
