/**
 * Device logins that a ward's reconnect storm cannot turn into minutes of CPU.
 *
 * Stored credentials stay scrypt hashes (devices.json, gateway/ingest/device-credentials.ts): a
 * stolen card gives away nothing faster to attack. What changes is how often the gateway pays for
 * scrypt (about 40 ms of a core here, several times that on a Raspberry Pi, and 16 MB while it runs):
 *
 * - A per-process cache of verified logins. After a device's password has been checked with scrypt
 *   once, the gateway keeps HMAC-SHA256(k, stored hash ‖ password) for that device, where k is 32
 *   random bytes made when the process starts and never written anywhere. The next login of the same
 *   device with the same password is checked against that tag (microseconds, constant time). The tag
 *   covers the stored hash, so a changed password (`mcps devices passwd`) or a removed device never
 *   matches an old entry; the cache holds at most one entry per registered device. Neither a memory
 *   dump nor the tags give a password back, and the tags mean nothing to any other process. Chosen
 *   over client certificates because it needs nothing on the devices: the same login, the same
 *   devices.json, and a Wi-Fi drop or a switch reboot (every device reconnecting at once while the
 *   gateway runs) costs almost nothing.
 * - A bounded scrypt queue for the logins the cache cannot answer (the first login of each device
 *   after the gateway starts, a wrong password, an unknown device): at most `concurrency` hashes at a
 *   time (default: all cores but one, at least one), so the broker, the journal and the devices
 *   already connected keep a core; at most `maxWaiting` logins wait, and more are refused at once as
 *   "server unavailable" (MQTT return code 3): the device tries again a second later, nothing is lost
 *   since it has not sent anything yet.
 * - Newest first. A device waits a few seconds for its CONNACK, then closes the connection and tries
 *   again later. Served oldest first, a queue longer than that wait would spend every check on a
 *   login whose device is about to give up (or already has), and a cold start of a whole ward on a
 *   slow box could go round like that for minutes. Served newest first, a check goes to the login
 *   most likely still waiting; a login whose connection closed while it waited is dropped without
 *   its check (and, when the queue is full, before refusing a new one). A login that waited too long
 *   is not lost: its device comes back as a new, newest login.
 *
 * A gateway restart (an update, a power cut) starts with an empty cache: every device's first login
 * costs one scrypt, queued as above. docs/raspberry-pi.md gives the figures.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { checkPasswordAsync, dummyPasswordHash, type DeviceCredentials, type DeviceEntry } from './device-credentials';

export class LoginQueueFullError extends Error {
  constructor(readonly waiting: number) {
    super(`${waiting} logins are waiting for their password check; try again shortly`);
    this.name = 'LoginQueueFullError';
  }
}

/** The login's connection closed while it waited: it was dropped unchecked (neither right nor wrong). */
export class LoginAbandonedError extends Error {
  constructor(readonly id: string) {
    super(`login of "${id}" dropped unchecked: its connection closed while it waited`);
    this.name = 'LoginAbandonedError';
  }
}

export interface LoginCheckStats {
  /** Logins answered from the cache of verified logins (no scrypt). */
  cacheHits: number;
  /** Password checks done with scrypt. */
  scryptChecks: number;
  /** Logins whose connection closed while they waited (their check was skipped). */
  abandoned: number;
  /** Logins refused because too many were waiting. */
  queueFull: number;
  /** Logins waiting for a scrypt check now. */
  waiting: number;
}

export interface LoginCheckOptions {
  /** scrypt checks at once (default: cores − 1, at least 1). */
  concurrency?: number;
  /** Logins allowed to wait for a check (default 4096). */
  maxWaiting?: number;
  /** The password check (default: scrypt against the stored hash, on the thread pool). */
  check?: (storedHash: string, password: Buffer | string) => Promise<boolean>;
}

export class DeviceLoginCheck {
  readonly stats: LoginCheckStats = { cacheHits: 0, scryptChecks: 0, abandoned: 0, queueFull: 0, waiting: 0 };
  readonly #key = randomBytes(32);
  /** Device id → tag of its last verified login. */
  readonly #verified = new Map<string, Buffer>();
  readonly #concurrency: number;
  readonly #maxWaiting: number;
  readonly #check: (storedHash: string, password: Buffer | string) => Promise<boolean>;
  #running = 0;
  /** Logins waiting for a check; the newest is served first (see above). */
  readonly #queue: Array<{ start: (run: boolean) => void; gone: () => boolean }> = [];

  constructor(readonly devices: DeviceCredentials, opts: LoginCheckOptions = {}) {
    this.#concurrency = Math.max(1, opts.concurrency ?? availableParallelism() - 1);
    this.#maxWaiting = opts.maxWaiting ?? 4096;
    this.#check = opts.check ?? checkPasswordAsync;
  }

  #tag(storedHash: string, password: Buffer | string): Buffer {
    return createHmac('sha256', this.#key).update(storedHash).update('\u0000').update(password).digest();
  }

  /**
   * The device's entry when the password is right, undefined when not; rejects with
   * LoginQueueFullError when too many logins wait. `gone` tells whether the connection closed while
   * it waited (the device timed out and will come again): its check is then skipped and the login
   * rejects with LoginAbandonedError (not a wrong password: nothing to log or count as one).
   */
  async login(id: string, password: Buffer | string, gone: () => boolean = () => false): Promise<DeviceEntry | undefined> {
    const entry = this.devices.get(id);
    const stored = entry?.passwordHash;
    if (stored) {
      const known = this.#verified.get(id);
      if (known) {
        const tag = this.#tag(stored, password);
        if (timingSafeEqual(known, tag)) {
          this.stats.cacheHits++;
          return entry;
        }
      }
    }
    // An unknown device or one without a password (HL7) costs a hash too, so timing does not reveal ids.
    const ok = await this.#queued(gone, async () => {
      this.stats.scryptChecks++;
      return this.#check(stored ?? dummyPasswordHash(), password);
    });
    if (ok === null) throw new LoginAbandonedError(id);
    // The entry may have changed while the check waited: only a still-current hash is remembered.
    const now = this.devices.get(id);
    if (!ok || !stored || now?.passwordHash !== stored) return undefined;
    this.#verified.set(id, this.#tag(stored, password));
    return now;
  }

  /** Forgets the verified logins of these devices (removed or changed in devices.json). */
  forget(ids: readonly string[]): void {
    for (const id of ids) this.#verified.delete(id);
  }

  /** Entries held (at most one per registered device). */
  get size(): number {
    return this.#verified.size;
  }

  /** Runs the check when a slot is free; null without running it when the connection went away first. */
  async #queued(gone: () => boolean, job: () => Promise<boolean>): Promise<boolean | null> {
    if (this.#running >= this.#concurrency) {
      if (this.#queue.length >= this.#maxWaiting) this.#dropGone();
      if (this.#queue.length >= this.#maxWaiting) {
        this.stats.queueFull++;
        throw new LoginQueueFullError(this.#queue.length);
      }
      this.stats.waiting++;
      // The slot is handed over by the check that finishes (#running stays as it is), or the entry
      // is dropped (run = false) because its connection closed.
      const run = await new Promise<boolean>((start) => this.#queue.push({ start, gone }));
      this.stats.waiting--;
      if (!run) return null;
    } else {
      this.#running++;
    }
    try {
      if (gone()) {
        this.stats.abandoned++;
        return null;
      }
      return await job();
    } finally {
      this.#handOver();
    }
  }

  /** Gives the slot of a finished check to the newest waiting login whose connection is still open. */
  #handOver(): void {
    for (;;) {
      const next = this.#queue.pop();
      if (!next) {
        this.#running--;
        return;
      }
      if (!next.gone()) return next.start(true);
      this.stats.abandoned++;
      next.start(false);
    }
  }

  /** Drops the waiting logins whose connections have closed. */
  #dropGone(): void {
    let kept = 0;
    for (const w of this.#queue) {
      if (w.gone()) {
        this.stats.abandoned++;
        w.start(false);
      } else {
        this.#queue[kept++] = w;
      }
    }
    this.#queue.length = kept;
  }
}
