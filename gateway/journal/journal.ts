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
 * Duplicates: a device that did not get its PUBACK (the gateway died before sending it, or the link
 * dropped it) publishes the same message again. Readings appended with a dedupe key (device, kind,
 * sequence number, device time) are recognised by that key; a second reading with the same key is
 * acknowledged but not journaled again. The keys are remembered in two tiers, so that their storage
 * is bounded by the number of sources, not by the reading rate:
 * - every key for `dedupeRecentMs` (default 10 min), in the `dedupe` table, ordered by device time
 *   first so that a commit's keys land together at the end of its tree (ordered by key alone, each
 *   new key dirtied a page of its own);
 * - after that, up to `dedupeWindowMs` (default 6 h), each source's (device and kind) newest
 *   `dedupeKeepPerSource` keys (default 256), in `dedupe_last`: a ring per source indexed by sequence
 *   number modulo its size. A message re-sent after a long absence is one the device sent just before
 *   it lost its connection, so it is among its source's newest keys; the older keys of a
 *   steady stream are never re-sent and are forgotten. (Six hours of every key was about 2.5 GB at
 *   a thousand readings a second; this is about 100 MB.)
 * A key is only ever forgotten, never confused with another: the lookup compares whole keys.
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
  /** How long a source's newest dedupe keys are remembered (default 6 h: longer than a device buffers while offline). */
  dedupeWindowMs?: number;
  /** How long every dedupe key is remembered (default 10 min). */
  dedupeRecentMs?: number;
  /** How many of each source's newest keys are remembered for the whole window (default 256). */
  dedupeKeepPerSource?: number;
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
  readonly #dedupeRecentMs: number;
  readonly #keepPerSource: number;
  readonly #keepKeys: (before: number, limit: number) => number;
  readonly #forgetLast: (before: number) => number;
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
    this.#dedupeRecentMs = Math.min(opts.dedupeRecentMs ?? 10 * 60_000, this.#dedupeWindowMs);
    this.#keepPerSource = Math.max(1, Math.floor(opts.dedupeKeepPerSource ?? 256));
    const keep = this.#keepPerSource;
    this.#commitIntervalMs = opts.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
    const insert = db.prepare('INSERT INTO journal (reading, journaled_at, received_at) VALUES (?, ?, ?)');
    // Keyed by device time first: a commit's new keys sit together at the end of the tree.
    // New unless the key is among the recent ones (the primary key) or its source's newest (its slot).
    const see = db.prepare(
      'INSERT OR IGNORE INTO dedupe (device_time, key, seen_at) SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM dedupe_last WHERE source = ? AND slot = ? AND key = ?)',
    );
    // Moving aged keys to the ring is done inside SQLite (about 4 µs a key here; row by row in
    // JavaScript it was 13): two functions of ours split a key into its source and slot.
    db.function('mcps_dedupe_source', { deterministic: true }, (key: unknown) => dedupeSlot(String(key), keep).source);
    db.function('mcps_dedupe_slot', { deterministic: true }, (key: unknown) => dedupeSlot(String(key), keep).slot);
    const cutoff = db.prepare<[number, number], number>('SELECT seen_at FROM dedupe WHERE seen_at < ? ORDER BY seen_at LIMIT 1 OFFSET ?').pluck();
    // Oldest first, so that of two keys for one slot the newer one stays.
    const toRing = db.prepare('INSERT OR REPLACE INTO dedupe_last (source, slot, key, seen_at) SELECT mcps_dedupe_source(key), mcps_dedupe_slot(key), key, seen_at FROM dedupe WHERE seen_at <= ? ORDER BY seen_at');
    const dropRecent = db.prepare('DELETE FROM dedupe WHERE seen_at <= ?');
    this.#keepKeys = db.transaction((before: number, limit: number): number => {
      // Keys of one commit share their time, so a chunk ends at a time, not at exactly `limit` keys.
      const upTo = cutoff.get(before, limit - 1) ?? before - 1;
      toRing.run(upTo);
      return dropRecent.run(upTo).changes;
    });
    const forgetLast = db.prepare('DELETE FROM dedupe_last WHERE seen_at < ?');
    this.#forgetLast = (before) => forgetLast.run(before).changes;
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
        if (p.dedupeKey !== undefined) {
          const { source, slot } = dedupeSlot(p.dedupeKey, keep);
          if (see.run(p.reading.deviceTime ?? 0, p.dedupeKey, now, source, slot, p.dedupeKey).changes === 0) return { duplicate: true } as const;
        }
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

  /**
   * Moves dedupe keys older than `dedupeRecentMs` to their source's ring of newest keys (where a newer
   * key of the same slot replaces an older one) and forgets the ring's keys older than the window.
   * About `maxKeys` keys move per call (those of the last commit in the chunk all go), in one
   * transaction, so that a call is short; returns how many keys were moved or forgotten.
   */
  pruneSeen(maxKeys = 5000): number {
    const now = this.#now();
    const moved = this.#keepKeys(now - this.#dedupeRecentMs, Math.max(1, maxKeys));
    let forgotten = 0;
    // The ring is small (sources x dedupeKeepPerSource) and has no time index: scanned once a minute.
    if (now - this.#lastForget >= 60_000 || now < this.#lastForget) {
      this.#lastForget = now;
      forgotten = this.#forgetLast(now - this.#dedupeWindowMs);
    }
    return moved + forgotten;
  }

  #lastForget = -Infinity;
}

/** The dedupe key of a reading that a device may send twice (MQTT QoS 1 redelivery). */
export function dedupeKey(r: Pick<Reading, 'deviceId' | 'kind' | 'deviceSeq' | 'deviceTime'>): string {
  return `${r.deviceId}\u0000${r.kind}\u0000${r.deviceSeq}\u0000${r.deviceTime}`;
}

/**
 * Where a key lives once it is no longer recent: its source (device and kind) and its slot in that
 * source's ring, the sequence number modulo the ring's size (consecutive readings take consecutive
 * slots, so the ring holds the source's newest `size` readings). Keys are dedupeKey's.
 */
export function dedupeSlot(key: string, size: number): { source: string; slot: number } {
  const parts = key.split('\u0000');
  const seq = Number(parts[2]);
  const time = Number(parts[3]);
  const n = Number.isSafeInteger(seq) ? seq : Number.isSafeInteger(time) ? time : 0;
  return { source: `${parts[0] ?? ''}\u0000${parts[1] ?? ''}`, slot: ((n % size) + size) % size };
}
