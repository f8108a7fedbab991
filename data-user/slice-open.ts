/**
 * One slice opened on the data user's side, as a plain function of plain data so that it can run in
 * a worker thread (slice-pool.ts) or inline: the served ciphertext's length and hash against its
 * directory entry, then openAndCheckSlice (decrypt, count, span, every leaf salted and hashed, the
 * leaves against the slice root, every reading parsed and checked). The leaves come back as one
 * buffer of 32-byte hashes (one transfer instead of a message object per reading).
 */
import { openAndCheckSlice, type DirectoryVersion, type SliceEntry } from '../protocol/batch';
import { equalBytes, sha256 } from '../protocol/hash';
import type { Reading } from '../protocol/reading';

export interface SliceJob {
  readonly id: number;
  readonly key: Uint8Array;
  readonly gatewayId: string;
  readonly seq: number;
  readonly entry: SliceEntry;
  /** The batch directory's version: how the slice's leaves are salted. */
  readonly directoryVersion: DirectoryVersion;
  readonly ciphertext: Uint8Array;
}

export type SliceResult =
  | { readonly id: number; readonly ok: true; readonly readings: Reading[]; readonly saltKey: Uint8Array; readonly leaves: Uint8Array }
  /** altered: the ciphertext is not the one its directory entry names (not opened). */
  | { readonly id: number; readonly ok: false; readonly altered: boolean; readonly error: string };

export function openSliceJob(j: SliceJob): SliceResult {
  if (j.ciphertext.length !== j.entry.ciphertextLength || !equalBytes(sha256(j.ciphertext), j.entry.ciphertextHash)) {
    return { id: j.id, ok: false, altered: true, error: 'the ciphertext does not hash to its directory entry (slice altered)' };
  }
  try {
    const s = openAndCheckSlice(j.key, j.gatewayId, j.seq, j.entry, j.ciphertext, j.directoryVersion);
    return { id: j.id, ok: true, readings: s.readings, saltKey: s.saltKey, leaves: s.leafHashes };
  } catch (err) {
    return { id: j.id, ok: false, altered: false, error: (err as Error).message };
  }
}
