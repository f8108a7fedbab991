/**
 * The reading journal: every reading the gateway accepts is written here, and synced to disk, before
 * it is acknowledged to its source (the MQTT PUBACK) or passed on to the flow. A reading leaves the
 * journal only in the transaction that seals it into a batch (see OutboxStore.commit), so after a
 * crash each accepted reading is either in a sealed batch or still in the journal, never both and
 * never neither.
 *
 * Group commit: appends made in the same turn of the event loop are committed together in one
 * transaction, after the turn (setImmediate), and acknowledged once the write-ahead log is synced
 * (syncCommitted: an fdatasync on the thread pool). While that sync runs, new appends wait in memory
 * (unacknowledged) and are committed together, in one transaction, the moment it ends, then synced:
 * their sync could not have started before the running one ended anyway, so they are acknowledged
 * no later, and the journal makes one transaction per sync instead of one per turn of the event
 * loop (at 1000 devices sending once a second, a turn mostly carries one or two readings). Commits
 * are also paced: one starts no sooner than `commitIntervalMs` (default 10 ms) after the last one
 * started, so a steady trickle is gathered into groups instead of a sync per reading or two. When
 * idle a reading is committed and synced alone, at once.
 *
 * Duplicates: a device that did not get its PUBACK (the gateway died before sending it) publishes the
 * same message again. Readings appended with a dedupe key (device, kind, sequence number, device
 * time) are recorded in the `dedupe` table for `dedupeWindowMs`; a second reading with the same key is
 * acknowledged but not journaled again. That table is ordered by device time first, so a commit's
 * keys land together at the end of its tree (ordered by key alone, each new key dirtied a page of its
 * own, written to the log at the commit and to the database at the next checkpoint).
 */
import type { Reading } from '../../protocol/reading';
import { syncCommitted, type StateDb } from './state-db';

export type AppendResult = { readonly id: number; readonly duplicate?: undefined } | { readonly id?: undefined; readonly duplicate: true };

export interface JournalEntry {
  readonly id: number;
  readonly reading: Reading;
  readonly journaledAt: number;
}

export interface JournalStats {
  /** Readings written. */
  appended: number;
  /** Readings recognised as re-sent and not written again. */
  duplicates: number;
  /** Transactions (each one fsync). */
  commits: number;
  /** Most readings committed in one transaction. */
  maxGroup: number;
}

interface PendingAppend {
  reading: Reading;
  dedupeKey: string | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: Error) => void;
}

export interface JournalOptions {
  /** How long dedupe keys are remembered (default 6 h: longer than a device buffers while offline). */
  dedupeWindowMs?: number;
  /**
   * Commits (each one fsync) start at most this often (default DEFAULT_COMMIT_INTERVAL_MS): a reading
   * arriving within this time of the last commit's start waits, unacknowledged, for the next one.
   * 0: commit as soon as the last sync has ended.
   */
  commitIntervalMs?: number;
  now?: () => number;
}

/**
 * At 1000 devices sending once a second a sync (about 1 ms here) ends before the next reading has
 * arrived, so without a pause each commit carried one or two readings: 500-1000 transactions and
 * fsyncs a second, each costing the gateway CPU (SQLite's commit, the write-ahead log's pages, the
 * system call, waking the event loop). 10 ms caps that at 100 a second with ten readings each, for
 * at most 10 ms more before a PUBACK; an idle gateway still commits a lone reading at once.
 */
export const DEFAULT_COMMIT_INTERVAL_MS = 10;

export class ReadingJournal {
  readonly stats: JournalStats = { appended: 0, duplicates: 0, commits: 0, maxGroup: 0 };
  #pending: PendingAppend[] = [];
  #scheduled = false;
  /** performance.now() when the last commit started (the pacing of commitIntervalMs). */
  #lastCommitAt = -Infinity;
  readonly #commitIntervalMs: number;
  readonly #now: () => number;
  readonly #dedupeWindowMs: number;
  readonly #commitGroup: (group: PendingAppend[], now: number) => AppendResult[];
  readonly #exists: (id: number) => boolean;
  readonly #existing: (ids: string) => number[];
  readonly #oldest: (exclude: string) => number | null;
  readonly #count: () => number;
  readonly #db: StateDb;

  constructor(db: StateDb, opts: JournalOptions = {}) {
    this.#db = db;
    this.#now = opts.now ?? Date.now;
    this.#dedupeWindowMs = opts.dedupeWindowMs ?? 6 * 3600_000;
    this.#commitIntervalMs = opts.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
    const insert = db.prepare('INSERT INTO journal (reading, journaled_at, received_at) VALUES (?, ?, ?)');
    // Keyed by device time first: a commit's new keys sit together at the end of the tree.
    const see = db.prepare('INSERT OR IGNORE INTO dedupe (device_time, key, seen_at) VALUES (?, ?, ?)');
    const exists = db.prepare<[number], number>('SELECT 1 FROM journal WHERE id = ?').pluck();
    const count = db.prepare<[], number>('SELECT count(*) FROM journal').pluck();
    this.#exists = (id) => exists.get(id) !== undefined;
    const existing = db.prepare<[string], number>('SELECT id FROM journal WHERE id IN (SELECT value FROM json_each(?))').pluck();
    this.#existing = (ids) => existing.all(ids);
    // Walks the journal_by_received_at index (gateway/journal/state-db.ts) from the oldest entry,
    // skipping the excluded rows inside SQLite (ids as a JSON array), and stops at the first other.
    const oldest = db.prepare<[string], number>('SELECT received_at FROM journal WHERE received_at IS NOT NULL AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY received_at LIMIT 1').pluck();
    this.#oldest = (exclude) => oldest.get(exclude) ?? null;
    this.#count = () => count.get() ?? 0;
    this.#commitGroup = db.transaction((group: PendingAppend[], now: number): AppendResult[] =>
      group.map((p) => {
        if (p.dedupeKey !== undefined && see.run(p.reading.deviceTime ?? 0, p.dedupeKey, now).changes === 0) return { duplicate: true } as const;
        return { id: Number(insert.run(JSON.stringify(p.reading), now, p.reading.receivedAt).lastInsertRowid) };
      }),
    );
  }

  /** Resolves once the reading is on disk (or is known as a duplicate); rejects if it could not be written. */
  append(reading: Reading, dedupeKey?: string): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ reading, dedupeKey, resolve, reject });
      if (!this.#scheduled && !this.#syncing) this.#schedule();
    });
  }

  readonly #commitNow = (): void => this.#commit();

  /** The next commit: after this turn of the event loop, and no sooner than commitIntervalMs after the last one started. */
  #schedule(): void {
    this.#scheduled = true;
    const wait = this.#lastCommitAt + this.#commitIntervalMs - performance.now();
    if (wait >= 1) setTimeout(this.#commitNow, wait);
    else setImmediate(this.#commitNow);
  }

  /** Whether this journal's last commit is still being synced (the next group waits for it). */
  #syncing = false;

  #commit(): void {
    this.#scheduled = false;
    // While the last group's sync runs, what arrives waits and is committed in one transaction
    // when it ends (see #afterSync): its own sync could not have started earlier anyway.
    if (this.#syncing || this.#pending.length === 0) return;
    if (performance.now() - this.#lastCommitAt < this.#commitIntervalMs - 1) return this.#schedule();
    const group = this.#pending;
    this.#pending = [];
    this.#lastCommitAt = performance.now();
    let results: AppendResult[];
    try {
      results = this.#commitGroup(group, this.#now());
    } catch (err) {
      // Nothing of this group was written (the transaction rolled back): nobody is acknowledged.
      const e = new Error(`journal: could not write ${group.length} readings: ${(err as Error).message}`);
      for (const p of group) p.reject(e);
      return;
    }
    this.stats.commits++;
    this.stats.maxGroup = Math.max(this.stats.maxGroup, group.length);
    // Acknowledged only once on disk; a failed sync acknowledges nobody (the rows are in the
    // journal all the same and get sealed; the devices resend and are recognised as duplicates).
    this.#syncing = true;
    syncCommitted(this.#db).then(
      () => {
        this.#afterSync();
        results.forEach((r, i) => {
          if (r.duplicate) this.stats.duplicates++;
          else this.stats.appended++;
          group[i]!.resolve(r);
        });
      },
      (err: Error) => {
        this.#afterSync();
        const e = new Error(`journal: could not sync ${group.length} readings to disk: ${err.message}`);
        for (const p of group) p.reject(e);
      },
    );
  }

  /** The last group is on disk (or failed): the readings that came meanwhile are committed now. */
  #afterSync(): void {
    this.#syncing = false;
    if (this.#pending.length > 0 && !this.#scheduled) this.#commit();
  }

  /** Journaled readings not yet sealed, oldest first; `journaledBefore` limits them by age. */
  unsealed(limit: number, journaledBefore = Number.MAX_SAFE_INTEGER): JournalEntry[] {
    const rows = this.#db.prepare('SELECT id, reading, journaled_at FROM journal WHERE journaled_at < ? ORDER BY id LIMIT ?').all(journaledBefore, limit) as Array<{ id: number; reading: string; journaled_at: number }>;
    return rows.map((r) => ({ id: r.id, reading: JSON.parse(r.reading) as Reading, journaledAt: r.journaled_at }));
  }

  get unsealedCount(): number {
    return this.#count();
  }

  /**
   * The earliest receive time among unsealed readings other than `exclude` (the batch being
   * sealed), or null if there are none. One query: SQLite walks the receive-time index from the
   * oldest entry and steps over at most |exclude| rows, however long the journal is.
   */
  oldestReceivedAt(exclude: ReadonlySet<number>): number | null {
    return this.#oldest(JSON.stringify([...exclude]));
  }

  /** Whether the row is still in the journal (not yet sealed). */
  holds(id: number): boolean {
    return this.#exists(id);
  }

  /** Which of the rows are still in the journal (one query for a whole batch). */
  holding(ids: readonly number[]): Set<number> {
    return new Set(ids.length === 0 ? [] : this.#existing(JSON.stringify(ids)));
  }

  /** Forgets dedupe keys older than the window; returns how many. */
  pruneSeen(): number {
    return this.#db.prepare('DELETE FROM dedupe WHERE seen_at < ?').run(this.#now() - this.#dedupeWindowMs).changes;
  }
}

/** The dedupe key of a reading that a device may send twice (MQTT QoS 1 redelivery). */
export function dedupeKey(r: Pick<Reading, 'deviceId' | 'kind' | 'deviceSeq' | 'deviceTime'>): string {
  return `${r.deviceId}\u0000${r.kind}\u0000${r.deviceSeq}\u0000${r.deviceTime}`;
}
