/**
 * Batch envelopes: a batch payload encrypted for the data owner (the hospital) with HPKE (RFC 9180).
 *
 * Every batch gets a fresh data key from HPKE's ephemeral KEM, wrapped for the owner's X25519 key, so
 * the chain node stores ciphertext it cannot read and only the owner (and whoever the owner later
 * re-wraps for) can open it. Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 —
 * ChaCha20 because a Raspberry Pi 4 has no AES instructions.
 *
 * Wire layout: "MCE1" (4) ‖ enc (32, the ephemeral public key) ‖ AEAD ciphertext (plaintext + 16).
 * The batch identity (gateway id, sequence number) is bound as the HPKE `info`, so an envelope moved
 * to another batch slot fails to open.
 */
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';

const MAGIC = new Uint8Array([0x4d, 0x43, 0x45, 0x31]); // "MCE1"
const ENC_LEN = 32;

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Chacha20Poly1305(),
});

export interface OwnerKeyPair {
  /** Raw 32-byte X25519 private key. Secret: lives only in the owner's 0600 key file. */
  readonly privateKey: Uint8Array;
  /** Raw 32-byte X25519 public key, published for gateways. */
  readonly publicKey: Uint8Array;
}

function batchInfo(gatewayId: string, seq: number): Uint8Array {
  return new TextEncoder().encode(`mcps/batch-envelope/v1|${gatewayId}|${seq}`);
}

export async function generateOwnerKeyPair(): Promise<OwnerKeyPair> {
  const kp = await suite.kem.generateKeyPair();
  const publicKey = new Uint8Array(await suite.kem.serializePublicKey(kp.publicKey));
  const privateKey = new Uint8Array(await suite.kem.serializePrivateKey(kp.privateKey));
  return { privateKey, publicKey };
}

/** Encrypts a batch payload for the owner. */
export async function sealEnvelope(ownerPublicKey: Uint8Array, gatewayId: string, seq: number, payload: Uint8Array): Promise<Uint8Array> {
  if (ownerPublicKey.length !== 32) throw new RangeError(`owner public key: ${ownerPublicKey.length} bytes, expected 32`);
  const recipientPublicKey = await suite.kem.deserializePublicKey(ownerPublicKey.slice().buffer);
  const res = await suite.seal({ recipientPublicKey, info: batchInfo(gatewayId, seq).buffer as ArrayBuffer }, payload.slice().buffer);
  const enc = new Uint8Array(res.enc);
  const ct = new Uint8Array(res.ct);
  const out = new Uint8Array(MAGIC.length + enc.length + ct.length);
  out.set(MAGIC, 0);
  out.set(enc, MAGIC.length);
  out.set(ct, MAGIC.length + enc.length);
  return out;
}

/** Decrypts an envelope with the owner's key; throws if it was altered or belongs to another batch. */
export async function openEnvelope(owner: OwnerKeyPair, gatewayId: string, seq: number, envelope: Uint8Array): Promise<Uint8Array> {
  if (envelope.length < MAGIC.length + ENC_LEN + 16) throw new RangeError(`envelope of ${envelope.length} bytes is too short`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (envelope[i] !== MAGIC[i]) throw new RangeError('envelope: unknown format (bad magic)');
  }
  const enc = envelope.slice(MAGIC.length, MAGIC.length + ENC_LEN);
  const ct = envelope.slice(MAGIC.length + ENC_LEN);
  const recipientKey = await suite.kem.importKey('raw', owner.privateKey.slice().buffer, false);
  const pt = await suite.open(
    { recipientKey, enc: enc.buffer, info: batchInfo(gatewayId, seq).buffer as ArrayBuffer },
    ct.buffer,
  );
  return new Uint8Array(pt);
}
