/**
 * A serial device link that heals itself: opens a tty with serialport, hands every chunk to a
 * callback, and
 * - reopens after an error or a hang-up (a USB unplug makes the tty vanish: the path is retried
 *   until it is back — a /dev/serial/by-id symlink is followed again, to whatever it names now),
 *   after `reconnectMs`, doubling per failed attempt up to `maxReconnectMs`;
 * - watches for silence: when no valid frame (the caller says which bytes were one, through
 *   `frameReceived`) has come for `staleAfterMs` while the port is open, the link is "stale": it is
 *   reported and, if the port has delivered frames before (input that stopped, the failure a
 *   redeploy used to cure), closed and opened again at once; it stays stale until a valid frame
 *   arrives. A port that never delivered a frame (a device not yet switched on) is reported stale
 *   but left open, so its first bytes do not fall into a reopen;
 * - never leaves a port open behind it: a port that finishes opening after the link moved on (a
 *   close or a reopen in between) is closed at once, and a reopen waits for the old port's close, so
 *   the tty's exclusive lock is always released.
 * Repeated identical errors are reported once until the state changes. `status` is read by the
 * metrics at scrape time; the data path only stores two timestamps per chunk/frame.
 */
import { SerialPort } from 'serialport';

export type LinkState =
  | { state: 'connecting' }
  | { state: 'open' }
  | { state: 'stale'; silentMs: number }
  | { state: 'error'; reason: string }
  | { state: 'closed' };

export type LinkStateName = LinkState['state'];
export const LINK_STATES: readonly LinkStateName[] = ['connecting', 'open', 'stale', 'error', 'closed'];

export interface SerialLinkOptions {
  path: string;
  baudRate: number;
  dataBits?: 5 | 6 | 7 | 8;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
  /** Delay before the first reopen after an error or a stale period (default 2000 ms). */
  reconnectMs?: number;
  /** Reopen delays double up to this (default 10 s, and never below reconnectMs). */
  maxReconnectMs?: number;
  /** No valid frame for this long on an open port: stale, closed and reopened. 0 or absent: no watchdog. */
  staleAfterMs?: number;
  onData: (chunk: Buffer) => void;
  onState: (s: LinkState) => void;
  /** After each successful (re)open, before its first byte: the caller starts a fresh decoder. */
  onOpen?: () => void;
  now?: () => number;
}

/** What the metrics read: the state and the times of the last byte and the last valid frame. */
export interface SerialLinkStatus {
  readonly path: string;
  state: LinkStateName;
  openedAt: number | null;
  lastByteAt: number | null;
  lastFrameAt: number | null;
  /** Reopens by why: after an error or hang-up, or because the link was stale. */
  readonly reopens: { error: number; stale: number };
  /** Times the link went stale (a stale period counts once, however many reopens it takes). */
  staleEvents: number;
}

/** Pause between closing a stale port and opening it again. */
const STALE_REOPEN_MS = 100;

export class SerialLink {
  #port: SerialPort | null = null;
  /** Settles when the current port's open() has called back (successfully or not). */
  #portOpened: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #closed = false;
  #stale = false;
  #lastError = '';
  #failedAttempts = 0;
  /** Resolves when the last port we had is fully closed (reopens wait for it: the lock). */
  #portClosed: Promise<void> = Promise.resolve();
  readonly status: SerialLinkStatus;
  readonly #now: () => number;

  constructor(readonly opts: SerialLinkOptions) {
    this.#now = opts.now ?? Date.now;
    this.status = { path: opts.path, state: 'connecting', openedAt: null, lastByteAt: null, lastFrameAt: null, reopens: { error: 0, stale: 0 }, staleEvents: 0 };
    const stale = opts.staleAfterMs ?? 0;
    if (stale > 0) {
      this.#watchdog = setInterval(() => this.#checkStale(), Math.max(50, Math.min(1000, stale / 4)));
      this.#watchdog.unref();
    }
    this.#open();
  }

  /** The caller decoded a valid frame: the link is alive (and no longer stale). */
  frameReceived(): void {
    this.status.lastFrameAt = this.#now();
    this.#failedAttempts = 0;
    if (this.#stale) {
      this.#stale = false;
      this.#report({ state: 'open' });
    }
  }

  #report(s: LinkState): void {
    this.status.state = s.state;
    this.opts.onState(s);
  }

  #open(): void {
    if (this.#closed) return;
    if (!this.#stale) this.#report({ state: 'connecting' });
    const port = new SerialPort({
      path: this.opts.path,
      baudRate: this.opts.baudRate,
      dataBits: this.opts.dataBits ?? 8,
      parity: this.opts.parity ?? 'none',
      stopBits: this.opts.stopBits ?? 1,
      autoOpen: false,
    });
    this.#port = port;
    let opened!: () => void;
    this.#portOpened = new Promise<void>((r) => (opened = r));
    port.on('data', (chunk: Buffer) => {
      this.status.lastByteAt = this.#now();
      this.opts.onData(chunk);
    });
    port.on('error', (err: Error) => this.#fail(port, err.message));
    port.on('close', () => this.#fail(port, 'port closed'));
    port.open((err) => {
      opened();
      // The link moved on while this open was under way: whoever dropped the port closes it once
      // this callback has run (see #drop), so the tty and its lock are released.
      if (this.#port !== port || this.#closed) return;
      if (err) return this.#fail(port, err.message);
      this.#lastError = '';
      this.status.openedAt = this.#now();
      this.opts.onOpen?.();
      if (!this.#stale) this.#report({ state: 'open' });
    });
  }

  #fail(port: SerialPort, reason: string): void {
    if (this.#closed || this.#port !== port) return;
    this.status.reopens.error++;
    this.#failedAttempts++;
    if (reason !== this.#lastError || this.#stale) {
      this.#stale = false;
      this.#report({ state: 'error', reason });
    }
    this.#lastError = reason;
    this.#reopenLater(this.#delay());
  }

  #delay(): number {
    const base = this.opts.reconnectMs ?? 2000;
    const max = Math.max(base, this.opts.maxReconnectMs ?? 10_000);
    return Math.min(max, base * 2 ** Math.max(0, Math.min(this.#failedAttempts - 1, 20)));
  }

  /** Drops the current port (closing it) and opens the path again after `delayMs`. */
  #reopenLater(delayMs: number): void {
    this.#drop();
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#portClosed.then(() => this.#open());
    }, delayMs);
  }

  /** Lets go of the current port: closed as soon as its open() has called back, or at once. */
  #drop(): void {
    const port = this.#port;
    this.#port = null;
    if (!port) return;
    port.removeAllListeners('data');
    const previous = this.#portClosed;
    this.#portClosed = Promise.all([previous, this.#portOpened.then(() => closeQuietly(port))]).then(() => undefined);
  }

  #checkStale(): void {
    if (this.#closed || !this.#port?.isOpen) return;
    const limit = this.opts.staleAfterMs ?? 0;
    const since = Math.max(this.status.openedAt ?? 0, this.status.lastFrameAt ?? 0);
    const silentMs = this.#now() - since;
    if (silentMs < limit) return;
    if (!this.#stale) {
      this.#stale = true;
      this.status.staleEvents++;
      this.#report({ state: 'stale', silentMs });
    }
    if (this.status.lastFrameAt === null) return;
    this.status.reopens.stale++;
    // The tty itself is fine: reopen at once (a short pause), not after the error backoff.
    this.#reopenLater(Math.min(this.opts.reconnectMs ?? 2000, STALE_REOPEN_MS));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#timer = null;
    this.#watchdog = null;
    this.#drop();
    await this.#portClosed;
    this.#report({ state: 'closed' });
  }
}

/** Closes a port whatever state it is in, ignoring its further events; resolves when the fd is released. */
function closeQuietly(port: SerialPort): Promise<void> {
  port.removeAllListeners();
  port.on('error', () => undefined);
  if (!port.isOpen) return Promise.resolve();
  return new Promise<void>((resolve) => port.close(() => resolve()));
}
