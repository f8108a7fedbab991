/**
 * How `mcps gateway` and `mcps chain-node` stop: on SIGTERM or SIGINT (or the parent's "stop" when
 * `mcps up` forked them, or the parent's death) they drain — stop taking new work, finish what they
 * hold — for at most the drain deadline (config `drainTimeoutS`, default 30 s), then stop and exit.
 * They never hang: a hard timer ends the process if stopping takes longer than the deadline plus a
 * grace period. The exit code says how it went:
 *   0  drained: nothing was left (the gateway's journal and outbox empty; no request in flight)
 *   3  stopped at the deadline with work left; it is on disk and resumes at the next start
 *   4  stopping overran the deadline and the grace period: ended by force (nothing acknowledged is
 *      lost: see docs/durability.md)
 *   130 a second SIGINT (Ctrl-C twice): ended at once
 */
import type { LogFn } from '../common/log';

export const EXIT_DRAINED = 0;
export const EXIT_NOT_DRAINED = 3;
export const EXIT_FORCED = 4;
export const DEFAULT_DRAIN_TIMEOUT_S = 30;
/** Time for stopping after the drain (closing Node-RED, the broker, the database) before force. */
export const STOP_GRACE_MS = 15_000;

export interface DrainOutcome {
  drained: boolean;
  /** What is left, for the log (e.g. "12 readings unsealed, 2 batches unsent"). */
  left: string;
}

export interface ShutdownOptions {
  log: LogFn;
  deadlineMs: number;
  /** Forked by `mcps up`: SIGINT from the terminal is the parent's to handle. */
  forked: boolean;
  /** Stops taking work, drains until the deadline, stops; says whether it drained. */
  shutdown(deadlineMs: number): Promise<DrainOutcome>;
  exit?: (code: number) => void;
}

export function installShutdown(o: ShutdownOptions): { trigger(why: string): void } {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const trigger = (why: string): void => {
    if (stopping) {
      if (why === 'SIGINT') {
        o.log('warn', 'second SIGINT: exiting at once (unsent work stays on disk for the next start)', { event: 'shutdown-forced' });
        exit(130);
      }
      return;
    }
    stopping = true;
    o.log('info', `${why}: draining for up to ${Math.round(o.deadlineMs / 1000)} s, then stopping`, { event: 'shutdown', reason: why, deadlineMs: o.deadlineMs });
    const force = setTimeout(() => {
      o.log('error', `still stopping ${Math.round((o.deadlineMs + STOP_GRACE_MS) / 1000)} s after ${why}: exiting by force`, { event: 'shutdown-forced' });
      exit(EXIT_FORCED);
    }, o.deadlineMs + STOP_GRACE_MS);
    force.unref();
    o.shutdown(o.deadlineMs).then(
      (r) => {
        clearTimeout(force);
        if (r.drained) o.log('info', 'drained and stopped', { event: 'stopped', drained: true });
        else o.log('warn', `stopped at the drain deadline with work left (${r.left}); it is kept on disk and resumes at the next start`, { event: 'stopped', drained: false });
        exit(r.drained ? EXIT_DRAINED : EXIT_NOT_DRAINED);
      },
      (err: unknown) => {
        clearTimeout(force);
        o.log('error', `stop failed: ${(err as Error).message}`, { event: 'stop-failed' });
        exit(1);
      },
    );
  };
  process.on('SIGTERM', () => trigger('SIGTERM'));
  // Forked by `mcps up`: a Ctrl-C in the terminal reaches the whole process group, but the parent
  // decides when we stop (after its own drain), so SIGINT is ignored here; SIGTERM and IPC stop us.
  process.on('SIGINT', () => (o.forked ? undefined : trigger('SIGINT')));
  if (o.forked) {
    process.on('message', (m: { type?: string }) => {
      if (m?.type === 'stop') trigger('stop requested by mcps up');
    });
    // If the parent dies, do not linger as an orphan.
    process.on('disconnect', () => trigger('parent gone'));
  }
  return { trigger };
}
