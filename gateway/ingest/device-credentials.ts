/**
 * Per-device MQTT credentials: which devices may connect to the gateway's broker, and as whom.
 *
 * The file (devices.json in the gateway's data directory, mode 0600) stores scrypt hashes, never
 * passwords. Each device is bound to one pseudonymous patient, so a device cannot publish readings
 * for a patient it is not attached to.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface DeviceEntry {
  readonly id: string;
  readonly patient: string;
  /** "scrypt$N$r$p$saltHex$hashHex" */
  readonly passwordHash: string;
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function hashPassword(password: string, salt: Buffer = randomBytes(16)): string {
  const hash = scryptSync(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('hex')}$${hash.toString('hex')}`;
}

const scryptAsync = (password: Buffer | string, salt: Buffer, keylen: number, o: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scrypt(password, salt, keylen, o, (err, key) => (err ? reject(err) : resolve(key))));

/** As hashPassword, on libuv's thread pool (many devices at once: the stress scenario). */
export async function hashPasswordAsync(password: string, salt: Buffer = randomBytes(16)): Promise<string> {
  const hash = await scryptAsync(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('hex')}$${hash.toString('hex')}`;
}

/** As checkPassword, off the event loop: the broker checks logins with it, so a login storm never stalls acknowledgements. */
export async function checkPasswordAsync(stored: string, password: Buffer | string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltHex, hashHex] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hashHex, 'hex');
  const got = await scryptAsync(password, Buffer.from(saltHex, 'hex'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** What an unknown device's password is checked against, so that timing does not reveal ids. */
let dummyHash: string | null = null;

export function checkPassword(stored: string, password: Buffer | string): boolean {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltHex, hashHex] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hashHex, 'hex');
  const got = scryptSync(password, Buffer.from(saltHex, 'hex'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export class DeviceCredentials {
  readonly #byId = new Map<string, DeviceEntry>();

  constructor(entries: readonly DeviceEntry[] = []) {
    for (const e of entries) this.add(e);
  }

  add(entry: DeviceEntry): void {
    if (!DEVICE_ID_PATTERN.test(entry.id)) throw new RangeError(`device id "${entry.id}" must match ${DEVICE_ID_PATTERN}`);
    if (this.#byId.has(entry.id)) throw new RangeError(`device id "${entry.id}" is listed twice`);
    this.#byId.set(entry.id, entry);
  }

  get(id: string): DeviceEntry | undefined {
    return this.#byId.get(id);
  }

  /** Constant-time in the password; a missing device costs a hash too, so timing does not reveal ids. */
  authenticate(id: string, password: Buffer | string): DeviceEntry | undefined {
    const entry = this.#byId.get(id);
    const ok = checkPassword(entry?.passwordHash ?? (dummyHash ??= hashPassword('x')), password);
    return entry && ok ? entry : undefined;
  }

  /** As authenticate, with the hash computed off the event loop. */
  async authenticateAsync(id: string, password: Buffer | string): Promise<DeviceEntry | undefined> {
    const entry = this.#byId.get(id);
    const ok = await checkPasswordAsync(entry?.passwordHash ?? (dummyHash ??= hashPassword('x')), password);
    return entry && ok ? entry : undefined;
  }

  list(): DeviceEntry[] {
    return [...this.#byId.values()];
  }

  static load(path: string): DeviceCredentials {
    if (!existsSync(path)) return new DeviceCredentials();
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`device credentials ${path}: not valid JSON (${(err as Error).message})`);
    }
    const devices = (parsed as { devices?: unknown }).devices;
    if (!Array.isArray(devices)) throw new Error(`device credentials ${path}: expected {"devices": [...]}`);
    return new DeviceCredentials(
      devices.map((d: unknown, i: number) => {
        const e = d as Partial<DeviceEntry>;
        if (typeof e.id !== 'string' || typeof e.patient !== 'string' || typeof e.passwordHash !== 'string') {
          throw new Error(`device credentials ${path}: devices[${i}] needs string fields id, patient, passwordHash`);
        }
        return { id: e.id, patient: e.patient, passwordHash: e.passwordHash };
      }),
    );
  }

  save(path: string): void {
    writeFileSync(path, JSON.stringify({ devices: this.list() }, null, 2) + '\n', { mode: 0o600 });
  }
}
