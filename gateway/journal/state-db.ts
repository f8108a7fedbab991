/**
 * The gateway's state database: one embedded SQLite file (better-sqlite3) holding the reading
 * journal, the chain head and the outbox, so that sealing a batch (journal rows out, head advanced,
 * batch queued) is one atomic transaction.
 *
 * WAL mode. With `fsync` on (the default, and the only setting for production) a commit writes its
 * pages to the write-ahead log, and `syncCommitted(db)` then syncs that log to disk (fdatasync) on
 * libuv's thread pool, so the event loop goes on taking messages while the disk works; whoever
 * acknowledges anything (the journal's PUBACK, the sealer's send) waits for it. What is synced is
 * exactly what synchronous=FULL would sync at the commit: a reading acknowledged after it survives a
 * power cut, not just a process crash. SQLite itself runs with synchronous=NORMAL, which still syncs
 * the log before each checkpoint and the database after it, so the log's frames are on disk by one
 * path or the other. Syncs coalesce: commits made while one sync runs share the next one.
 * `fsync: false` (synchronous=OFF, no syncs) exists for the ingest benchmark, to show what
 * durability costs.
 */
import Database from 'better-sqlite3';
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

export type StateDb = Database.Database;

export interface StateDbOptions {
  fsync?: boolean;
}

/**
 * Syncs a database's write-ahead log off the event loop. At most one fdatasync runs at a time;
 * callers that arrive while it runs share the next one (their commits may have missed the running
 * one). A failed sync is not retried: after a failed fsync the kernel may have dropped the unwritten
 * pages, so a later "successful" sync would prove nothing; every later sync fails too, and the
 * gateway refuses readings until it is restarted.
 */
export class WalSync {
  #running: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  #failed: Error | null = null;
  /** fdatasync calls made (each shared by every commit before it). */
  syncs = 0;

  constructor(
    readonly fd: number,
    private readonly datasync: (fd: number, cb: (err: Error | null) => void) => void = fdatasync,
  ) {}

  /** Resolves once everything committed before the call is on disk; rejects if the disk said no. */
  sync(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#running === null) return this.#start();
    this.#queued ??= this.#running.then(
      () => this.#startQueued(),
      () => this.#startQueued(),
    );
    return this.#queued;
  }

  /** The same, blocking (rare writes: the readiness probe). */
  syncNow(): void {
    if (this.#failed) throw this.#failed;
    fdatasyncSync(this.fd);
  }

  /** Closes the log's descriptor once no sync is running or waiting (none may start after). */
  close(): void {
    const fd = this.fd;
    this.#failed ??= new Error('the state database is closed');
    const last = this.#queued ?? this.#running ?? Promise.resolve();
    last.then(
      () => closeSync(fd),
      () => closeSync(fd),
    );
  }

  #startQueued(): Promise<void> {
    this.#queued = null;
    return this.#start();
  }

  #start(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    this.syncs++;
    const p = new Promise<void>((resolve, reject) =>
      this.datasync(this.fd, (err) => {
        if (this.#running === p) this.#running = null;
        if (err) {
          this.#failed = new Error(`syncing the state database to disk failed (${err.message}); readings are refused until the gateway restarts`);
          return reject(this.#failed);
        }
        resolve();
      }),
    );
    this.#running = p;
    return p;
  }
}

const walSyncs = new WeakMap<StateDb, WalSync>();

/**
 * Resolves once every transaction committed on `db` so far is on disk (immediately for a database
 * opened with fsync off). Anything acknowledged or sent on the strength of a commit waits for this.
 */
export function syncCommitted(db: StateDb): Promise<void> {
  return walSyncs.get(db)?.sync() ?? Promise.resolve();
}

/** The blocking form of syncCommitted, for rare writes off the hot path. */
export function syncCommittedNow(db: StateDb): void {
  walSyncs.get(db)?.syncNow();
}

/** The database's WAL syncer (undefined with fsync off): its counters, and tests. */
export function walSyncOf(db: StateDb): WalSync | undefined {
  return walSyncs.get(db);
}

export function openStateDb(path: string, opts: StateDbOptions = {}): StateDb {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(opts.fsync === false ? 'synchronous = OFF' : 'synchronous = NORMAL');
  // A burst can grow the WAL; after a checkpoint it is truncated back to this size.
  db.pragma('journal_size_limit = 67108864');
  db.exec(`
    CREATE TABLE IF NOT EXISTS chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, header_hash TEXT NOT NULL);
    INSERT OR IGNORE INTO chain_head (id, seq, header_hash) VALUES (1, 0, '${'0'.repeat(64)}');
    CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, count INTEGER NOT NULL, header_hash TEXT NOT NULL, root TEXT NOT NULL, submission TEXT NOT NULL, sealed_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY AUTOINCREMENT, reading TEXT NOT NULL, journaled_at INTEGER NOT NULL, received_at INTEGER);
    CREATE TABLE IF NOT EXISTS dedupe (device_time INTEGER NOT NULL, key TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (device_time, key)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS dedupe_by_seen ON dedupe (seen_at);
    CREATE TABLE IF NOT EXISTS dedupe_last (source TEXT NOT NULL, slot INTEGER NOT NULL, key TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (source, slot)) WITHOUT ROWID;
  `);
  migrateJournal(db);
  db.exec('CREATE INDEX IF NOT EXISTS journal_by_received_at ON journal (received_at)');
  if (opts.fsync !== false) {
    // The write-ahead log exists now (the statements above wrote to it) and stays while the database
    // is open. Its directory entry is made durable once, as SQLite does on a log's first sync.
    const fd = openSync(`${path}-wal`, 'r');
    fdatasyncSync(fd);
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    const ws = new WalSync(fd);
    walSyncs.set(db, ws);
    const close = db.close.bind(db);
    db.close = () => {
      const r = close();
      walSyncs.delete(db);
      ws.close();
      return r;
    };
  }
  return db;
}

/**
 * Brings a state database written by an older gateway to the current journal layout, in one
 * transaction: the receive time becomes a plain column (it was read out of each row's JSON, also by
 * its index, at every insert), and the dedupe keys move from `seen` (ordered by key, so every new
 * key landed on a page of its own) to `dedupe`, ordered by device time first, where new keys go
 * next to each other at the end of the tree.
 */
function migrateJournal(db: StateDb): void {
  const hasReceivedAt = (db.prepare("SELECT 1 FROM pragma_table_info('journal') WHERE name = 'received_at'").get() as unknown) !== undefined;
  const hasSeen = (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'seen'").get() as unknown) !== undefined;
  if (hasReceivedAt && !hasSeen) return;
  db.transaction(() => {
    if (!hasReceivedAt) {
      db.exec(`
        ALTER TABLE journal ADD COLUMN received_at INTEGER;
        UPDATE journal SET received_at = json_extract(reading, '$.receivedAt');
        DROP INDEX IF EXISTS journal_by_received;
      `);
    }
    if (hasSeen) {
      // Keys end with the device time (journal.ts, dedupeKey); SQLite's string functions stop at
      // the NUL separators, so a function of ours takes it out.
      db.function('mcps_key_device_time', { deterministic: true }, (key: unknown) => {
        const k = String(key);
        const t = Number(k.slice(k.lastIndexOf('\u0000') + 1));
        return Number.isFinite(t) ? t : 0;
      });
      db.exec('INSERT OR IGNORE INTO dedupe (device_time, key, seen_at) SELECT mcps_key_device_time(key), key, seen_at FROM seen; DROP TABLE seen;');
    }
  })();
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
  syncCommittedNow(db);
}
