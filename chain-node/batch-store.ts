/**
 * The chain node's ciphertext store: written durably before the batch is anchored, so an anchored
 * root always has its ciphertext beside it.
 *
 * Layout (store format 3), per batch in <dir>/<gatewayId>/, seq as 12 digits:
 *   <seq>-<h>.env  the envelope, raw bytes (directory ‖ slice ciphertexts, docs/protocol.md);
 *                  h = the first 16 hex digits of its SHA-256
 *   <seq>.json     {format: 3, submission: {v, gatewayId, header, headerSignature}, envelope:
 *                  {file, length, directoryLength}, receipt | null}
 * The .env file is written (atomically) before the .json that names it, so a batch exists once its
 * .json does and its envelope is then complete, and a crash while another envelope replaces it (an
 * unanchored batch submitted again) leaves the old pair or the new one; a receipt update rewrites
 * only the small .json. A data user's
 * slice is read by offset (the directory gives each ciphertext's length) without reading or parsing
 * the rest of the batch.
 *
 * Format 2 (one <seq>.json = {submission (envelope inline, base64), receipt}) is still read, and
 * rewritten as format 3 the next time that batch is written (a receipt).
 *
 * The node cannot read the readings (they are encrypted for the data owner); it keeps the header,
 * the gateway's signature and the envelope so any data user can later verify and decrypt.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file';
import { decodeDirectoryPrefix } from '../protocol/batch';
import type { BatchSubmission, SignedReceipt } from '../protocol/submission';

export interface StoredBatch {
  readonly submission: BatchSubmission;
  readonly receipt: SignedReceipt | null;
}

/** A stored batch without its envelope: what a data user's answer is planned and headed with. */
export interface StoredBatchMeta {
  readonly submission: Omit<BatchSubmission, 'envelope'>;
  readonly receipt: SignedReceipt | null;
  readonly envelopeLength: number;
  /** Bytes of the directory at the start of the envelope. */
  readonly directoryLength: number;
}

export const STORE_FORMAT = 3;

interface MetaFile {
  readonly format: 3;
  readonly submission: Omit<BatchSubmission, 'envelope'>;
  readonly envelope: { readonly file: string; readonly length: number; readonly directoryLength: number };
  readonly receipt: SignedReceipt | null;
}

type LegacyFile = StoredBatch;

const ENV_FILE = /^\d{12}-[0-9a-f]{16}\.env$/;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;

/** A stored batch held open (BatchStore.open): its record, and reads of its envelope by offset. */
export interface OpenBatch {
  readonly meta: StoredBatchMeta;
  /** Byte ranges of the envelope ([offset, length] each, inside it). */
  read(ranges: ReadonlyArray<readonly [number, number]>): Buffer[];
  close(): void;
}

export class BatchStore {
  constructor(readonly dir: string) {}

  #base(gatewayId: string, seq: number): string {
    if (!SAFE_ID.test(gatewayId)) throw new RangeError(`gateway id "${gatewayId}" is not a safe file name`);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`sequence number ${seq}`);
    return join(this.dir, gatewayId, String(seq).padStart(12, '0'));
  }

  #readMetaFile(gatewayId: string, seq: number): MetaFile | LegacyFile | undefined {
    const p = `${this.#base(gatewayId, seq)}.json`;
    if (!existsSync(p)) return undefined;
    return JSON.parse(readFileSync(p, 'utf8')) as MetaFile | LegacyFile;
  }

  #envPath(gatewayId: string, seq: number, f: MetaFile): string {
    if (!ENV_FILE.test(f.envelope.file) || !f.envelope.file.startsWith(String(seq).padStart(12, '0'))) throw new Error(`batch ${gatewayId}#${seq}: its record names envelope file "${f.envelope.file}"`);
    return join(this.dir, gatewayId, f.envelope.file);
  }

  /** The whole batch, envelope included (ingest, `mcps verify`). */
  get(gatewayId: string, seq: number): StoredBatch | undefined {
    const f = this.#readMetaFile(gatewayId, seq);
    if (!f) return undefined;
    if (!isMeta(f)) return f;
    const envelope = readFileSync(this.#envPath(gatewayId, seq, f));
    if (envelope.length !== f.envelope.length) throw new Error(`batch ${gatewayId}#${seq}: envelope file holds ${envelope.length} bytes, its record says ${f.envelope.length}`);
    return { submission: { ...f.submission, envelope: envelope.toString('base64') }, receipt: f.receipt };
  }

  /** The batch without its envelope (a format 2 file is parsed whole). */
  meta(gatewayId: string, seq: number): StoredBatchMeta | undefined {
    const f = this.#readMetaFile(gatewayId, seq);
    if (!f) return undefined;
    if (isMeta(f)) return { submission: f.submission, receipt: f.receipt, envelopeLength: f.envelope.length, directoryLength: f.envelope.directoryLength };
    const { envelope, ...submission } = f.submission;
    const env = Buffer.from(envelope, 'base64');
    return { submission, receipt: f.receipt, envelopeLength: env.length, directoryLength: decodeDirectoryPrefix(env).length };
  }

  /**
   * Byte ranges of a batch's envelope ([offset, length] each, ascending and inside the envelope),
   * read by offset from the .env file (a format 2 batch is decoded whole).
   */
  readEnvelope(gatewayId: string, seq: number, ranges: ReadonlyArray<readonly [number, number]>): Buffer[] {
    const b = this.open(gatewayId, seq);
    if (!b) throw new Error(`batch ${gatewayId}#${seq}: not stored`);
    try {
      return b.read(ranges);
    } finally {
      b.close();
    }
  }

  /**
   * One batch held open: its record read once, then any number of byte-range reads of its envelope
   * through one file descriptor (the data API reads the directory, then the slices it serves).
   * The caller closes it. undefined when the batch is not stored.
   */
  open(gatewayId: string, seq: number): OpenBatch | undefined {
    const f = this.#readMetaFile(gatewayId, seq);
    if (!f) return undefined;
    if (!isMeta(f)) {
      const { envelope, ...submission } = f.submission;
      const env = Buffer.from(envelope, 'base64');
      const meta: StoredBatchMeta = { submission, receipt: f.receipt, envelopeLength: env.length, directoryLength: decodeDirectoryPrefix(env).length };
      return {
        meta,
        read: (ranges) =>
          ranges.map(([o, n]) => {
            if (o + n > env.length) throw new Error(`batch ${gatewayId}#${seq}: bytes ${o}..${o + n} past its envelope's ${env.length}`);
            return env.subarray(o, o + n);
          }),
        close: () => undefined,
      };
    }
    const meta: StoredBatchMeta = { submission: f.submission, receipt: f.receipt, envelopeLength: f.envelope.length, directoryLength: f.envelope.directoryLength };
    const path = this.#envPath(gatewayId, seq, f);
    let fd: number | null = null;
    return {
      meta,
      read: (ranges) => {
        if (fd === null) fd = openSync(path, 'r');
        const d = fd;
        return ranges.map(([o, n]) => {
          const b = Buffer.allocUnsafe(n);
          let got = 0;
          while (got < n) {
            const r = readSync(d, b, got, n - got, o + got);
            if (r === 0) throw new Error(`batch ${gatewayId}#${seq}: envelope ends before byte ${o + n}`);
            got += r;
          }
          return b;
        });
      },
      close: () => {
        if (fd !== null) closeSync(fd);
        fd = null;
      },
    };
  }

  put(gatewayId: string, seq: number, batch: StoredBatch): void {
    const base = this.#base(gatewayId, seq);
    const { envelope, ...submission } = batch.submission;
    const env = Buffer.from(envelope, 'base64');
    const directoryLength = decodeDirectoryPrefix(env).length;
    const file = `${basename(base)}-${createHash('sha256').update(env).digest('hex').slice(0, 16)}.env`;
    const path = join(dirname(base), file);
    const before = existsSync(`${base}.json`) ? this.#readMetaFile(gatewayId, seq) : undefined;
    // The same envelope is written again with its receipt: only the record changes then.
    if (!sameFile(path, env)) writeFileAtomic(path, env);
    const meta: MetaFile = { format: STORE_FORMAT, submission, envelope: { file, length: env.length, directoryLength }, receipt: batch.receipt };
    writeFileAtomic(`${base}.json`, JSON.stringify(meta));
    if (before && isMeta(before) && before.envelope.file !== file) rmSync(join(dirname(base), before.envelope.file), { force: true });
  }

  gateways(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((d) => SAFE_ID.test(d));
  }

  /** Sequence numbers stored for a gateway, ascending. */
  sequences(gatewayId: string): number[] {
    const d = join(this.dir, gatewayId);
    if (!existsSync(d)) return [];
    return readdirSync(d)
      .filter((f) => /^\d{12}\.json$/.test(f))
      .map((f) => Number(f.slice(0, 12)))
      .sort((a, b) => a - b);
  }
}

function isMeta(f: MetaFile | LegacyFile): f is MetaFile {
  return (f as MetaFile).format === STORE_FORMAT;
}

function sameFile(path: string, bytes: Buffer): boolean {
  try {
    if (statSync(path).size !== bytes.length) return false;
    return readFileSync(path).equals(bytes);
  } catch {
    return false;
  }
}
