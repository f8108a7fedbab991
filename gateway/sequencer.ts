/**
 * The gateway's batch chain state: the last sealed sequence number and header hash.
 *
 * Every batch header names its predecessor's hash, and the anchor contract refuses gaps and
 * rewrites, so this state must survive restarts: it is rewritten atomically (temp file, fsync,
 * rename) each time a batch is sealed, before the batch is handed to the outbox.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface ChainHead {
  readonly seq: number;
  readonly headerHash: Uint8Array;
}

const GENESIS: ChainHead = { seq: 0, headerHash: new Uint8Array(32) };

export class BatchSequencer {
  #head: ChainHead;

  constructor(readonly path: string) {
    this.#head = existsSync(path) ? BatchSequencer.#read(path) : GENESIS;
  }

  static #read(path: string): ChainHead {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { seq?: unknown; headerHash?: unknown };
    if (typeof raw.seq !== 'number' || !Number.isSafeInteger(raw.seq) || raw.seq < 0) throw new Error(`${path}: field "seq" must be a non-negative integer`);
    if (typeof raw.headerHash !== 'string' || !/^[0-9a-f]{64}$/.test(raw.headerHash)) throw new Error(`${path}: field "headerHash" must be 64 hex digits`);
    return { seq: raw.seq, headerHash: Uint8Array.from(Buffer.from(raw.headerHash, 'hex')) };
  }

  get head(): ChainHead {
    return this.#head;
  }

  /** Records that batch `seq` with `headerHash` was sealed. Durable when it returns. */
  advance(seq: number, headerHash: Uint8Array): void {
    if (seq !== this.#head.seq + 1) throw new Error(`batch sequence ${seq} does not follow ${this.#head.seq}`);
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ seq, headerHash: Buffer.from(headerHash).toString('hex') }) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    this.#head = { seq, headerHash: headerHash.slice() };
  }
}
