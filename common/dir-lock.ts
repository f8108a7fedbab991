/**
 * One process per data directory. The lock is an OS lock: SQLite (better-sqlite3, already ours for
 * the journal) holds a POSIX fcntl lock on `<dir>/.lock.db` in exclusive locking mode for as long as
 * the process keeps the connection open. The kernel drops it when the process ends, however it
 * ends (exit, crash, SIGKILL, power cut), so a stale lock cannot exist and nothing has to guess
 * from timestamps whether a holder is alive; two processes starting at once cannot both win. The
 * holder writes its pid, command and start time beside it (`<dir>/.lock.json`) so a second
 * process can say who holds the directory. (proper-lockfile's mkdir lock needs an mtime heartbeat
 * and a stale timeout to recover from a crash; this needs neither.)
 *
 * The same mechanism, with a wait, serialises edits of one file by several commands
 * (`withFileLock`: two `mcps devices add` at once both land).
 */
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from './atomic-file';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

export class DirLockedError extends Error {
  constructor(readonly dir: string, readonly holder: LockHolder | null) {
    super(
      holder
        ? `data directory ${dir} is in use by pid ${holder.pid} (${holder.command}, on ${holder.host} since ${holder.startedAt}); stop that process first, or use another --data directory`
        : `data directory ${dir} is in use by another process (its pid is not recorded yet); stop it first, or use another --data directory`,
    );
    this.name = 'DirLockedError';
  }
}

export interface DirLock {
  readonly dir: string;
  release(): void;
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** Opens `file` and takes SQLite's exclusive lock on it, waiting up to `waitMs`; throws SQLITE_BUSY when held. */
function takeLock(file: string, waitMs: number): Database.Database {
  const db = new Database(file, { timeout: waitMs });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // A write transaction takes the exclusive lock; in exclusive locking mode it is kept after COMMIT.
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS lock (n INTEGER); COMMIT;');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function readHolder(dir: string): LockHolder | null {
  try {
    const h = JSON.parse(readFileSync(join(dir, '.lock.json'), 'utf8')) as Partial<LockHolder>;
    return typeof h.pid === 'number' ? { pid: h.pid, host: String(h.host ?? '?'), command: String(h.command ?? '?'), startedAt: String(h.startedAt ?? '?') } : null;
  } catch {
    return null;
  }
}

/** Set by a launcher that runs the real process as its child (cli/heap-cap.ts): the launcher's pid. */
export const LAUNCHER_PID_ENV = 'MCPS_LAUNCHER_PID';

/**
 * The pid an operator knows this process by: its launcher's when it runs as the child of one
 * (`mcps gateway` run again under its heap cap; signals to the launcher reach it), else its own.
 */
export function operatorPid(env: NodeJS.ProcessEnv = process.env): number {
  const launcher = Number(env[LAUNCHER_PID_ENV]);
  return Number.isInteger(launcher) && launcher > 0 && launcher === process.ppid ? launcher : process.pid;
}

/**
 * Takes `dir` for this process, or throws DirLockedError at once naming the holder. Released on
 * `release()` or when the process ends.
 */
export function lockDataDir(dir: string, command = process.argv.slice(1).map((a) => a.replace(/^.*\/(mcps\.js)$/, 'mcps')).join(' ')): DirLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let db: Database.Database;
  try {
    db = takeLock(join(dir, '.lock.db'), 0);
  } catch (err) {
    if (isBusy(err)) throw new DirLockedError(dir, readHolder(dir));
    throw err;
  }
  const me: LockHolder = { pid: operatorPid(), host: hostname(), command, startedAt: new Date().toISOString() };
  writeFileAtomic(join(dir, '.lock.json'), JSON.stringify(me) + '\n', 0o644);
  let released = false;
  return {
    dir,
    release: () => {
      if (released) return;
      released = true;
      // The holder file goes first, while the lock still keeps others out.
      if (readHolder(dir)?.pid === me.pid) rmSync(join(dir, '.lock.json'), { force: true });
      db.close();
    },
  };
}

/** Runs `fn` while holding the edit lock of `file` (`<file>.lock`), waiting up to `waitMs` for it. */
export async function withFileLock<T>(file: string, fn: () => T | Promise<T>, waitMs = 10_000): Promise<T> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let db: Database.Database;
  try {
    db = takeLock(`${file}.lock`, waitMs);
  } catch (err) {
    if (isBusy(err)) throw new Error(`${file} is being edited by another command for over ${waitMs / 1000} s; try again`);
    throw err;
  }
  try {
    return await fn();
  } finally {
    db.close();
  }
}
