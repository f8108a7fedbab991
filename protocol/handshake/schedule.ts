/**
 * The key schedule and transcript hashes.
 *
 *   h2  = H("mcps-hs-v1/h2" ‖ M1 ‖ H(record_N) ‖ Y ‖ n_N)
 *   PRK = HKDF-Extract(salt = h2, ikm = DH(y, X) ‖ DH(k_N, X))
 *   k_confirm = Expand(PRK, "mcps-hs-v1/node-confirm", 32); MAC_N = HMAC(k_confirm, "node-confirm" ‖ h2)
 *   k_hs, iv_hs = Expand(PRK, "mcps-hs-v1/m3", 32 + 12)             (M3 AEAD, ad = h2 ‖ MAC_N)
 *   h3  = H("mcps-hs-v1/h3" ‖ h2 ‖ MAC_N ‖ id_I ‖ H(record_I))       (what σ_I signs)
 *   traffic = Expand(PRK, "mcps-hs-v1/traffic" ‖ H(h3 ‖ σ_I), 2 × (32 + 12))
 *   session id = H("mcps-hs-v1/sid" ‖ h3 ‖ σ_I)[0..16]
 *
 * M1 enters h2 whole, so every field the gateway chose (node id, epoch, time, nonce, X) is bound.
 */
import { hmacSha256, sha256, utf8 } from '../hash';
import { hkdfExpand } from './primitives';
import { createHmac } from 'node:crypto';

export const HS_SIG_DST = 'MCPS-EDGE-V1-BLS-HS-BLS12381G1_XMD:SHA-256_SSWU_RO_';

export function transcriptH2(m1: Uint8Array, nodeRecordHash: Uint8Array, y: Uint8Array, nodeNonce: Uint8Array): Uint8Array {
  return sha256(utf8('mcps-hs-v1/h2'), m1, nodeRecordHash, y, nodeNonce);
}

export function extract(h2: Uint8Array, dhEphemeral: Uint8Array, dhStatic: Uint8Array): Uint8Array {
  // HKDF-Extract = HMAC(salt, ikm)
  return new Uint8Array(createHmac('sha256', h2).update(dhEphemeral).update(dhStatic).digest());
}

export function nodeMac(prk: Uint8Array, h2: Uint8Array): Uint8Array {
  const k = hkdfExpand(prk, utf8('mcps-hs-v1/node-confirm'), 32);
  return hmacSha256(k, utf8('node-confirm'), h2);
}

export function m3Keys(prk: Uint8Array): { key: Uint8Array; iv: Uint8Array } {
  const k = hkdfExpand(prk, utf8('mcps-hs-v1/m3'), 44);
  return { key: k.slice(0, 32), iv: k.slice(32) };
}

export function transcriptH3(h2: Uint8Array, mac: Uint8Array, peerId: string, peerRecordHash: Uint8Array): Uint8Array {
  return sha256(utf8('mcps-hs-v1/h3'), h2, mac, utf8(peerId), peerRecordHash);
}

export interface TrafficKeys {
  readonly sessionId: Uint8Array;
  readonly initiatorKey: Uint8Array;
  readonly initiatorIv: Uint8Array;
  readonly responderKey: Uint8Array;
  readonly responderIv: Uint8Array;
}

export function trafficKeys(prk: Uint8Array, h3: Uint8Array, signature: Uint8Array): TrafficKeys {
  const bind = sha256(h3, signature);
  const k = hkdfExpand(prk, new Uint8Array([...utf8('mcps-hs-v1/traffic'), ...bind]), 88);
  return {
    sessionId: sha256(utf8('mcps-hs-v1/sid'), h3, signature).slice(0, 16),
    initiatorKey: k.slice(0, 32),
    initiatorIv: k.slice(32, 44),
    responderKey: k.slice(44, 76),
    responderIv: k.slice(76, 88),
  };
}
