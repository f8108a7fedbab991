/**
 * Editing a gateway's devices.json: add, remove, new password, move to another patient. What
 * `mcps devices` and the local stack use. Every edit holds the file's edit lock and writes the file
 * atomically (0600), so concurrent commands never lose each other's changes and a running gateway
 * (gateway/ingest/device-watch.ts) never reads half a file. Passwords are generated here (or given),
 * returned once to the caller and stored only as scrypt hashes.
 */
import { randomBytes } from 'node:crypto';
import { withFileLock } from '../../common/dir-lock';
import { READING_KINDS, type ReadingKind } from '../../protocol/reading';
import { DEVICE_ID_PATTERN, DeviceCredentials, hashPasswordAsync, type DeviceEntry } from './device-credentials';

export const PATIENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 12;

export interface NewDevice {
  id: string;
  patient: string;
  /** Reading kinds it may send (absent: any). */
  kinds?: ReadingKind[];
  /** An HL7 monitor over MLLP: no MQTT login, no password. */
  hl7?: boolean;
  /** The device's password; generated when absent. */
  password?: string;
}

export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

function checkPatient(p: string): void {
  if (!PATIENT_PATTERN.test(p)) throw new RangeError(`patient "${p}" must be a pseudonym of 1..64 characters of [A-Za-z0-9._-] (never a name or record number)`);
}

function checkPassword(pw: string): void {
  if (pw.length < MIN_PASSWORD_LENGTH) throw new RangeError(`a device password needs at least ${MIN_PASSWORD_LENGTH} characters`);
}

export function parseKinds(list: string): ReadingKind[] {
  const kinds = list.split(',').map((k) => k.trim()).filter(Boolean);
  const bad = kinds.filter((k) => !(k in READING_KINDS));
  if (kinds.length === 0 || bad.length > 0) throw new RangeError(`kind "${bad.join(',') || list}" is not a reading kind (${Object.keys(READING_KINDS).join(', ')}); several are separated by commas`);
  return kinds as ReadingKind[];
}

function unknown(id: string): Error {
  return new RangeError(`device "${id}" is not registered on this gateway (mcps devices list)`);
}

export function listDevices(path: string): DeviceEntry[] {
  return DeviceCredentials.load(path).list();
}

/** Registers devices; returns each one's password (null for HL7 monitors) — shown once, stored hashed. */
export async function addDevices(path: string, devices: readonly NewDevice[]): Promise<Array<{ id: string; password: string | null }>> {
  for (const d of devices) {
    if (!DEVICE_ID_PATTERN.test(d.id)) throw new RangeError(`device id "${d.id}" must be 1..64 characters of [A-Za-z0-9._-]`);
    checkPatient(d.patient);
    if (d.password !== undefined) checkPassword(d.password);
    if (d.hl7 && d.password !== undefined) throw new RangeError(`device "${d.id}": an HL7 monitor has no password (MLLP has no login)`);
  }
  const passwords = devices.map((d) => (d.hl7 ? null : (d.password ?? generatePassword())));
  // Hashed on the thread pool, side by side (1000 devices one by one would take 40 s).
  const hashes = await Promise.all(passwords.map((p) => (p === null ? null : hashPasswordAsync(p))));
  await withFileLock(path, () => {
    const current = DeviceCredentials.load(path);
    for (const d of devices) {
      if (current.get(d.id)) throw new RangeError(`device "${d.id}" is already registered (a new password: mcps devices passwd ${d.id}; another patient: mcps devices move ${d.id} --patient P)`);
    }
    const added: DeviceEntry[] = devices.map((d, i) => ({
      id: d.id,
      patient: d.patient,
      ...(hashes[i] ? { passwordHash: hashes[i]! } : {}),
      transport: d.hl7 ? ('hl7' as const) : ('mqtt' as const),
      ...(d.kinds ? { kinds: d.kinds } : {}),
    }));
    new DeviceCredentials([...current.list(), ...added]).save(path);
  });
  return devices.map((d, i) => ({ id: d.id, password: passwords[i]! }));
}

async function edit(path: string, id: string, change: (e: DeviceEntry) => DeviceEntry | null): Promise<void> {
  await withFileLock(path, () => {
    const current = DeviceCredentials.load(path);
    const e = current.get(id);
    if (!e) throw unknown(id);
    const next = change(e);
    new DeviceCredentials(current.list().flatMap((x) => (x.id !== id ? [x] : next ? [next] : []))).save(path);
  });
}

export async function removeDevice(path: string, id: string): Promise<void> {
  await edit(path, id, () => null);
}

/** A new password (generated when not given); returns it. Its open sessions are closed by the gateway. */
export async function setDevicePassword(path: string, id: string, password?: string): Promise<string> {
  if (password !== undefined) checkPassword(password);
  const pw = password ?? generatePassword();
  const hash = await hashPasswordAsync(pw);
  await edit(path, id, (e) => {
    if (e.transport === 'hl7') throw new RangeError(`device "${id}" is an HL7 monitor: it has no password (MLLP has no login)`);
    return { ...e, passwordHash: hash };
  });
  return pw;
}

export async function moveDevice(path: string, id: string, patient: string): Promise<{ from: string }> {
  checkPatient(patient);
  let from = '';
  await edit(path, id, (e) => {
    from = e.patient;
    return { ...e, patient };
  });
  return { from };
}
