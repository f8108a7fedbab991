/**
 * Per-device MQTT credentials: which devices may connect to the gateway's broker, and as whom.
 *
 * The file (devices.json in the gateway's data directory, mode 0600) stores scrypt hashes, never
 * passwords. Each device is bound to one pseudonymous patient, so a device cannot publish readings
 * for a patient it is not attached to.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../common/atomic-file';
import { READING_KINDS, type ReadingKind } from '../../protocol/reading';

export interface DeviceEntry {
  readonly id: string;
  readonly patient: string;
  /** "scrypt$N$r$p$saltHex$hashHex"; absent for HL7 monitors (MLLP has no login). */
  readonly passwordHash?: string;
  /** "hl7": a bedside monitor over MLLP (MSH-3 is its id); default "mqtt". */
  readonly transport?: 'mqtt' | 'hl7';
  /** The reading kinds it may send (`mcps devices add --kind`); others are refused. Absent: any. */
  readonly kinds?: readonly ReadingKind[];
}

/** What changed between two sets of devices (a reload of devices.json). */
export interface DeviceChanges {
  readonly added: string[];
  readonly removed: string[];
  /** Password, patient, transport or kinds changed: its sessions must log in again. */
  readonly changed: string[];
}

const sameEntry = (a: DeviceEntry, b: DeviceEntry): boolean =>
  a.patient === b.patient && a.passwordHash === b.passwordHash && (a.transport ?? 'mqtt') === (b.transport ?? 'mqtt') && (a.kinds ?? []).join(',') === (b.kinds ?? []).join(',');

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

export function dummyPasswordHash(): string {
  return (dummyHash ??= hashPassword('x'));
}

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

  /**
   * Takes a new set of devices in place (a reload of devices.json): everyone holding this object
   * (broker, runtime, HL7 listeners) sees it at once. Returns what changed.
   */
  replace(entries: readonly DeviceEntry[]): DeviceChanges {
    const next = new DeviceCredentials(entries); // validates (ids, duplicates) before anything changes
    const added: string[] = [];
    const changed: string[] = [];
    const removed = [...this.#byId.keys()].filter((id) => !next.get(id));
    for (const e of next.list()) {
      const old = this.#byId.get(e.id);
      if (!old) added.push(e.id);
      else if (!sameEntry(old, e)) changed.push(e.id);
    }
    this.#byId.clear();
    for (const e of next.list()) this.#byId.set(e.id, e);
    return { added, removed, changed };
  }

  get(id: string): DeviceEntry | undefined {
    return this.#byId.get(id);
  }

  /** Constant-time in the password; a missing device costs a hash too, so timing does not reveal ids. */
  authenticate(id: string, password: Buffer | string): DeviceEntry | undefined {
    const entry = this.#byId.get(id);
    const ok = checkPassword(entry?.passwordHash ?? dummyPasswordHash(), password);
    // A device without a password (an HL7 monitor) has no MQTT login at all.
    return entry?.passwordHash && ok ? entry : undefined;
  }

  /** As authenticate, with the hash computed off the event loop. */
  async authenticateAsync(id: string, password: Buffer | string): Promise<DeviceEntry | undefined> {
    const entry = this.#byId.get(id);
    const ok = await checkPasswordAsync(entry?.passwordHash ?? dummyPasswordHash(), password);
    return entry?.passwordHash && ok ? entry : undefined;
  }

  list(): DeviceEntry[] {
    return [...this.#byId.values()];
  }

  static load(path: string): DeviceCredentials {
    if (!existsSync(path)) return new DeviceCredentials();
    return new DeviceCredentials(parseDevicesFile(readFileSync(path, 'utf8'), `device credentials ${path}`));
  }

  save(path: string): void {
    writeFileAtomic(path, JSON.stringify({ devices: this.list() }, null, 2) + '\n', 0o600);
  }
}

/** The entries of a devices.json text; every error names the file and the entry. */
export function parseDevicesFile(text: string, where: string): DeviceEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
  }
  const devices = (parsed as { devices?: unknown } | null)?.devices;
  if (!Array.isArray(devices)) throw new Error(`${where}: expected {"devices": [...]}`);
  return devices.map((d: unknown, i: number) => {
    const e = (d ?? {}) as Partial<Record<keyof DeviceEntry, unknown>>;
    if (typeof e.id !== 'string' || typeof e.patient !== 'string') throw new Error(`${where}: devices[${i}] needs string fields id and patient`);
    if (e.passwordHash !== undefined && typeof e.passwordHash !== 'string') throw new Error(`${where}: devices[${i}].passwordHash must be a string`);
    if (e.transport !== undefined && e.transport !== 'mqtt' && e.transport !== 'hl7') throw new Error(`${where}: devices[${i}].transport must be "mqtt" or "hl7"`);
    if (e.kinds !== undefined && (!Array.isArray(e.kinds) || !e.kinds.every((k) => typeof k === 'string' && k in READING_KINDS))) throw new Error(`${where}: devices[${i}].kinds must list reading kinds (${Object.keys(READING_KINDS).join(', ')})`);
    return {
      id: e.id,
      patient: e.patient,
      ...(typeof e.passwordHash === 'string' ? { passwordHash: e.passwordHash } : {}),
      ...(e.transport ? { transport: e.transport as 'mqtt' | 'hl7' } : {}),
      ...(Array.isArray(e.kinds) ? { kinds: e.kinds as ReadingKind[] } : {}),
    };
  });
}
