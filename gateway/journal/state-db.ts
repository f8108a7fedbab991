/**
 * The gateway's state database: one embedded SQLite file (better-sqlite3) holding the reading
 * journal, the chain head and the outbox, so that sealing a batch (journal rows out, head advanced,
 * batch queued) is one atomic transaction.
 *
 * WAL mode. With `fsync` on (the default, and the only setting for production) every commit is
 * synced to disk before it returns (synchronous=FULL): a reading acknowledged after its commit
 * survives a power cut, not just a process crash. `fsync: false` (synchronous=OFF) exists for the
 * ingest benchmark, to show what durability costs.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type StateDb = Database.Database;

export interface StateDbOptions {
  fsync?: boolean;
}

export function openStateDb(path: string, opts: StateDbOptions = {}): StateDb {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(opts.fsync === false ? 'synchronous = OFF' : 'synchronous = FULL');
  // A burst can grow the WAL; after a checkpoint it is truncated back to this size.
  db.pragma('journal_size_limit = 67108864');
  db.exec(`
    CREATE TABLE IF NOT EXISTS chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, header_hash TEXT NOT NULL);
    INSERT OR IGNORE INTO chain_head (id, seq, header_hash) VALUES (1, 0, '${'0'.repeat(64)}');
    CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, count INTEGER NOT NULL, header_hash TEXT NOT NULL, root TEXT NOT NULL, submission TEXT NOT NULL, sealed_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY AUTOINCREMENT, reading TEXT NOT NULL, journaled_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, seen_at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS seen_by_time ON seen (seen_at);
  `);
  return db;
}

/** Bytes the database holds in live pages plus its write-ahead log: what the disk budget counts. */
export function stateDbBytes(db: StateDb, walBytes: number): number {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  return (pages - free) * pageSize + walBytes;
}

/**
 * Proves the database takes a synced write now (readiness): one tiny row rewritten in its own
 * table, committed like a journal group. Throws what SQLite said when it cannot (disk full, file
 * read-only, I/O error).
 */
export function probeWritable(db: StateDb, now = Date.now()): void {
  db.prepare('CREATE TABLE IF NOT EXISTS write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL)').run();
  db.prepare('INSERT OR REPLACE INTO write_probe (id, at) VALUES (1, ?)').run(now);
}
