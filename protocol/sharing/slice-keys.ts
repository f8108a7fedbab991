/**
 * Slice keys: each patient-day slice of a batch is encrypted under its own key, derived from the
 * gateway's current epoch key and everything the batch directory says about the slice:
 *
 *   K_slice = HKDF-Expand(K_epoch, "mcps/slice-key/v2" ‖ len ‖ gatewayId ‖ u64(seq) ‖ tag ‖ u32(day)
 *                         ‖ u32(count) ‖ u64(first) ‖ u64(last), 32)
 *   K_salt  = HKDF-Expand(K_slice, "mcps/leaf-salt-key/v2", 32)      (salts of the slice's leaves; directory v2)
 *   K_salt  = HKDF-Expand(K_slice, "mcps/leaf-salt-key/v3", 32)      (directory v3: keystream salts, protocol/merkle.ts)
 *   ct      = ChaCha20-Poly1305(K_slice, nonce = 0¹², aad = "mcps/slice/v2" ‖ len ‖ gatewayId ‖ u64(seq) ‖ tag, slice payload)
 *
 * K_epoch (32 random bytes, a new one every UTC hour and at every gateway start) is wrapped to the
 * data owner's key once per epoch and travels in every batch directory of that epoch. The owner's
 * key service derives exactly the slice keys a grant covers: a user who misstates any directory
 * field (another tag, day, count or time span) gets a key that opens nothing. Each slice key
 * encrypts one message, so the fixed nonce is never reused under a key.
 */
import { ProtocolError } from '../errors';
import { utf8 } from '../hash';
import { aeadOpen, aeadSeal, hkdfExpand } from '../handshake/primitives';

const SLICE_KEY_LABEL = utf8('mcps/slice-key/v2');
const SALT_KEY_LABEL = utf8('mcps/leaf-salt-key/v2');
const SALT_KEY_LABEL_V3 = utf8('mcps/leaf-salt-key/v3');
const SLICE_AAD_LABEL = utf8('mcps/slice/v2');
const ZERO_NONCE = new Uint8Array(12);

/** What binds a slice key: the batch and the slice's directory entry. */
export interface SliceBinding {
  readonly gatewayId: string;
  readonly seq: number;
  readonly tag: Uint8Array;
  readonly day: number;
  readonly count: number;
  readonly firstReceivedAt: number;
  readonly lastReceivedAt: number;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

function idBytes(id: string): Uint8Array {
  const b = utf8(id);
  if (b.length < 1 || b.length > 31) throw new ProtocolError('slice.gateway-id', `gateway id "${id}"`);
  return Uint8Array.of(b.length, ...b);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function sliceKey(epochKey: Uint8Array, s: SliceBinding): Uint8Array {
  if (epochKey.length !== 32) throw new ProtocolError('slice.epoch-key-length', `epoch key of ${epochKey.length} bytes`);
  if (s.tag.length !== 32) throw new ProtocolError('slice.tag-length', `tag of ${s.tag.length} bytes`);
  for (const [k, v] of [['seq', s.seq], ['firstReceivedAt', s.firstReceivedAt], ['lastReceivedAt', s.lastReceivedAt]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new ProtocolError('slice.field', `${k} ${v}`);
  }
  for (const [k, v] of [['day', s.day], ['count', s.count]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ProtocolError('slice.field', `${k} ${v}`);
  }
  const info = concat([SLICE_KEY_LABEL, idBytes(s.gatewayId), u64(s.seq), s.tag, u32(s.day), u32(s.count), u64(s.firstReceivedAt), u64(s.lastReceivedAt)]);
  return hkdfExpand(epochKey, info, 32);
}

/** The slice's leaf-salt key; `directoryVersion` 3 gets its own label (its salts are a keystream, not HMACs). */
export function sliceSaltKey(sliceKeyBytes: Uint8Array, directoryVersion: 2 | 3 = 2): Uint8Array {
  return hkdfExpand(sliceKeyBytes, directoryVersion === 3 ? SALT_KEY_LABEL_V3 : SALT_KEY_LABEL, 32);
}

function sliceAad(gatewayId: string, seq: number, tag: Uint8Array): Uint8Array {
  return concat([SLICE_AAD_LABEL, idBytes(gatewayId), u64(seq), tag]);
}

export function sealSlice(key: Uint8Array, gatewayId: string, seq: number, tag: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return aeadSeal(key, ZERO_NONCE, plaintext, sliceAad(gatewayId, seq, tag));
}

/** Throws ProtocolError("slice.decrypt") if the key is wrong or a byte was changed. */
export function openSlice(key: Uint8Array, gatewayId: string, seq: number, tag: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return aeadOpen(key, ZERO_NONCE, ciphertext, sliceAad(gatewayId, seq, tag), 'slice.decrypt');
}

/** The HPKE `info` under which an epoch key is wrapped to the data owner. */
export function epochKeyInfo(gatewayId: string, epochId: number): Uint8Array {
  if (!Number.isSafeInteger(epochId) || epochId < 0) throw new ProtocolError('slice.epoch-id', `epoch id ${epochId}`);
  return concat([utf8('mcps/epoch-key/v2'), idBytes(gatewayId), u64(epochId)]);
}
