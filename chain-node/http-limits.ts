/**
 * What the chain node's HTTP API lets an anonymous peer make it hold, per route and per source
 * address, checked before the node reads or computes anything (docs/operations.md, "The node
 * under attack"):
 *   - a body limit per route, checked against Content-Length before any byte of the body is read
 *     and counted while a body without a length streams in (M1 is at most 94 bytes, the M3 request
 *     about 200, a session record at most `maxRecordBytes`);
 *   - a deadline for the whole body, so a slow sender cannot hold a request open;
 *   - a budget of record bytes being buffered, per source address and over all sources;
 *   - a bound on open connections per source address.
 */
import { MAX_ID_LEN } from '../protocol/handshake/wire';

/** M1 = version ‖ type ‖ len ‖ id_N (≤ 31) ‖ epoch (4) ‖ t_G (8) ‖ n_G (16) ‖ X (32). */
export const MAX_M1_BYTES = 2 + 1 + MAX_ID_LEN + 4 + 8 + 16 + 32;
/** {"handshake": 32 hex, "m3": base64 of at most ~110 bytes}, with room for whitespace. */
export const MAX_M3_REQUEST_BYTES = 512;
/** A sealed session record (one batch submission). */
export const MAX_RECORD_BYTES = 32 * 1024 * 1024;

export interface HttpLimits {
  maxRecordBytes: number;
  /** Record bytes buffered at once over all requests; past it a record is answered 503 (retry). */
  maxBufferedRecordBytes: number;
  /** Deadline for reading a handshake body (ms). */
  handshakeBodyTimeoutMs: number;
  /** Deadline for reading a record body (ms). */
  recordBodyTimeoutMs: number;
  /** Open connections one source address may hold; more are closed at once. */
  maxConnectionsPerSource: number;
  /** Records per second (burst: twice that) from a source whose record failed to open in the last minute. */
  suspectRecordsPerS: number;
  /** Record bytes one source address may have buffered at once; past it a record is answered 429. */
  maxBufferedRecordBytesPerSource: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxRecordBytes: MAX_RECORD_BYTES,
  maxBufferedRecordBytes: 4 * MAX_RECORD_BYTES,
  handshakeBodyTimeoutMs: 5_000,
  recordBodyTimeoutMs: 60_000,
  maxConnectionsPerSource: 64,
  maxBufferedRecordBytesPerSource: MAX_RECORD_BYTES + 64 * 1024,
  suspectRecordsPerS: 5,
};
