/**
 * Handshake messages, byte by byte (all integers big-endian):
 *
 *   M1 = 0x01 version ‖ 0x01 type ‖ len ‖ id_N ‖ epoch_N (4) ‖ t_I ms (8) ‖ n_I (16) ‖ X (32)
 *   M2 = 0x01 ‖ 0x02 ‖ Y (32) ‖ n_N (16) ‖ MAC_N (32)
 *   M3 = 0x01 ‖ 0x03 ‖ AEAD ciphertext of [ len ‖ id_I ‖ 0x00 × (31 − len) ‖ epoch_I (4) ‖ σ_I (48) ] ‖ tag (16)
 *
 * M3's plaintext is padded to the longest id, so M3 is 102 bytes whoever sends it (its length
 * does not tell a passive observer which party is calling). Decoding is strict: exact lengths,
 * known version and type, zero padding, no trailing bytes.
 */
import { ProtocolError } from '../errors';
import { HS_VERSION, MAX_ID_LEN, MSG_M1, MSG_M2, MSG_M3, Reader, Writer } from './wire';

/** M3's plaintext: the id padded to MAX_ID_LEN, epoch, signature. */
export const M3_PLAIN_LENGTH = 1 + MAX_ID_LEN + 4 + 48;
/** M3 on the wire: header, sealed plaintext, tag. */
export const M3_LENGTH = 2 + M3_PLAIN_LENGTH + 16;

export interface M1 {
  readonly nodeId: string;
  readonly nodeEpoch: number;
  readonly time: number;
  readonly nonce: Uint8Array;
  readonly ephemeral: Uint8Array;
}

export interface M2 {
  readonly ephemeral: Uint8Array;
  readonly nonce: Uint8Array;
  readonly mac: Uint8Array;
}

export interface M3Plain {
  readonly peerId: string;
  readonly peerEpoch: number;
  readonly signature: Uint8Array;
}

export function encodeM1(m: M1): Uint8Array {
  return new Writer().u8(HS_VERSION).u8(MSG_M1).id(m.nodeId).u32(m.nodeEpoch).u64(m.time).bytes(m.nonce).bytes(m.ephemeral).done();
}

export function decodeM1(b: Uint8Array): M1 {
  const r = new Reader(b, 'm1');
  r.header(MSG_M1);
  const m = { nodeId: r.id(), nodeEpoch: r.u32(), time: r.u64(), nonce: r.take(16), ephemeral: r.take(32) };
  r.end();
  return m;
}

export function encodeM2(m: M2): Uint8Array {
  return new Writer().u8(HS_VERSION).u8(MSG_M2).bytes(m.ephemeral).bytes(m.nonce).bytes(m.mac).done();
}

export function decodeM2(b: Uint8Array): M2 {
  const r = new Reader(b, 'm2');
  r.header(MSG_M2);
  const m = { ephemeral: r.take(32), nonce: r.take(16), mac: r.take(32) };
  r.end();
  return m;
}

export function encodeM3Plain(m: M3Plain): Uint8Array {
  const w = new Writer().id(m.peerId);
  const idLength = new TextEncoder().encode(m.peerId).length;
  return w.bytes(new Uint8Array(MAX_ID_LEN - idLength)).u32(m.peerEpoch).bytes(m.signature).done();
}

export function decodeM3Plain(b: Uint8Array): M3Plain {
  const r = new Reader(b, 'm3');
  const peerId = r.id();
  const padding = r.take(MAX_ID_LEN - new TextEncoder().encode(peerId).length);
  if (padding.some((x) => x !== 0)) throw new ProtocolError('m3.bad-padding', 'the identity padding is not all zero');
  const m = { peerId, peerEpoch: r.u32(), signature: r.take(48) };
  r.end();
  return m;
}

/** The sealed part of M3, after its 2-byte header. */
export function splitM3(b: Uint8Array): Uint8Array {
  const r = new Reader(b, 'm3');
  r.header(MSG_M3);
  const sealed = b.subarray(2);
  if (b.length < M3_LENGTH) throw new ProtocolError('m3.truncated', `${b.length} bytes, expected ${M3_LENGTH}`);
  if (b.length > M3_LENGTH) throw new ProtocolError('m3.trailing-bytes', `${b.length} bytes, expected ${M3_LENGTH}`);
  return sealed;
}

export function joinM3(sealed: Uint8Array): Uint8Array {
  return new Writer().u8(HS_VERSION).u8(MSG_M3).bytes(sealed).done();
}
