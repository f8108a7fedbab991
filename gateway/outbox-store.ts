/**
 * The gateway's durable batch state in one embedded SQLite database (better-sqlite3, WAL,
 * synchronous=FULL): the chain head (last sealed sequence number and header hash) and the outbox of
 * sealed batches waiting for a receipt.
 *
 * Sealing commits both in one transaction, so after a crash a batch is either sealed AND queued or
 * neither: there is no window where the sequence advanced but the batch was lost (the previous
 * file-based head had one). A batch leaves the outbox only when its receipt is recorded.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { OutboxItem } from './outbox';

export interface ChainHead {
  readonly seq: number;
  readonly headerHash: Uint8Array;
}

export class OutboxStore {
  readonly #db: Database.Database;
  readonly #commit: (item: OutboxItem) => void;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, header_hash TEXT NOT NULL);
      INSERT OR IGNORE INTO chain_head (id, seq, header_hash) VALUES (1, 0, '${'0'.repeat(64)}');
      CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, count INTEGER NOT NULL, header_hash TEXT NOT NULL, root TEXT NOT NULL, submission TEXT NOT NULL, sealed_at INTEGER NOT NULL);
    `);
    const advance = this.#db.prepare('UPDATE chain_head SET seq = ?, header_hash = ? WHERE id = 1 AND seq = ?');
    const insert = this.#db.prepare('INSERT INTO outbox (seq, count, header_hash, root, submission, sealed_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.#commit = this.#db.transaction((item: OutboxItem) => {
      if (advance.run(item.seq, item.headerHash, item.seq - 1).changes !== 1) throw new Error(`batch ${item.seq} does not follow the sealed head ${this.head.seq}`);
      insert.run(item.seq, item.count, item.headerHash, item.root, JSON.stringify(item.submission), Date.now());
    });
  }

  get head(): ChainHead {
    const r = this.#db.prepare('SELECT seq, header_hash FROM chain_head WHERE id = 1').get() as { seq: number; header_hash: string };
    return { seq: r.seq, headerHash: Uint8Array.from(Buffer.from(r.header_hash, 'hex')) };
  }

  /** Advances the head and queues the batch, atomically and durably. */
  commit(item: OutboxItem): void {
    this.#commit(item);
  }

  /** The batch has its receipt: it leaves the outbox. */
  remove(seq: number): void {
    // A receipt arriving while the gateway shuts down is not recorded; the batch is resent after
    // the restart and the chain node answers with the same receipt (idempotent ingest).
    if (!this.#db.open) return;
    this.#db.prepare('DELETE FROM outbox WHERE seq = ?').run(seq);
  }

  /** Batches still waiting for a receipt, in sequence order. */
  pending(): OutboxItem[] {
    const rows = this.#db.prepare('SELECT seq, count, header_hash, root, submission FROM outbox ORDER BY seq').all() as Array<{ seq: number; count: number; header_hash: string; root: string; submission: string }>;
    return rows.map((r) => ({ seq: r.seq, count: r.count, headerHash: r.header_hash, root: r.root, submission: JSON.parse(r.submission) as OutboxItem['submission'] }));
  }

  close(): void {
    this.#db.close();
  }
}
