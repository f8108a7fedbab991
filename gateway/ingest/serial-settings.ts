/**
 * Serial port settings as a field engineer enters them (strings from the editor), validated into
 * what SerialLink and the decoders need, with one message per problem. Pure: used by the
 * mcps-serial-port config node and by the legacy fields of mcps-serial-device.
 */
export const SERIAL_FORMATS = ['nonin-df7', 'masimo-ascii', 'contec-cms50d'] as const;
export type SerialFormat = (typeof SERIAL_FORMATS)[number];

export interface SerialSettings {
  path: string;
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: 'none' | 'even' | 'odd';
  stopBits: 1 | 2;
  format: SerialFormat;
  /** First reopen delay after an error or a stale period; doubles per failed attempt up to maxReconnectMs. */
  reconnectMs: number;
  maxReconnectMs: number;
  /** No valid frame for this long on an open port: stale, closed and reopened (0: no watchdog). */
  staleAfterMs: number;
}

/** How often each format delivers a valid frame when its device works (its datasheet's rate). */
export const FORMAT_FRAME_INTERVAL_MS: Record<SerialFormat, number> = {
  // Nonin DF7: 75 frames/s, and a packet (what the decoder validates as a whole) every 1/3 s.
  'nonin-df7': 1000 / 3,
  // Masimo ASCII 1: one line per second.
  'masimo-ascii': 1000,
  // Contec CMS50D+: 60 frames/s, one reading per second.
  'contec-cms50d': 1000,
};
/** Default stale watchdog: this many frame intervals without a valid frame, and never under STALE_MIN_MS. */
export const STALE_INTERVALS = 10;
export const STALE_MIN_MS = 5000;

export function defaultStaleAfterMs(format: SerialFormat): number {
  return Math.max(STALE_MIN_MS, STALE_INTERVALS * FORMAT_FRAME_INTERVAL_MS[format]);
}

export interface SerialSettingsInput {
  path?: unknown;
  baud?: unknown;
  dataBits?: unknown;
  parity?: unknown;
  stopBits?: unknown;
  format?: unknown;
  reconnectMs?: unknown;
  maxReconnectMs?: unknown;
  /** Seconds; empty or absent: the format's default (defaultStaleAfterMs); 0: no watchdog. */
  staleAfterS?: unknown;
}

/** Problems are keys into the nodes' message catalogue, with their parameters. */
export type SettingsProblem = { key: string; params?: Record<string, string> };

export function parseSerialSettings(x: SerialSettingsInput): { settings: SerialSettings } | { problems: SettingsProblem[] } {
  const problems: SettingsProblem[] = [];
  const path = String(x.path ?? '').trim();
  const unset = /^\$\{(\w+)\}$/.exec(path);
  if (unset) problems.push({ key: 'unset-port', params: { name: unset[1]! } });
  else if (!path || path.startsWith('${')) problems.push({ key: 'no-port' });
  const baud = Number(x.baud ?? 9600);
  if (!Number.isInteger(baud) || baud < 300 || baud > 4_000_000) problems.push({ key: 'baud', params: { baud: String(x.baud) } });
  const dataBits = Number(x.dataBits ?? 8);
  if (![5, 6, 7, 8].includes(dataBits)) problems.push({ key: 'data-bits', params: { value: String(x.dataBits) } });
  const parity = String(x.parity ?? 'none');
  if (!['none', 'even', 'odd'].includes(parity)) problems.push({ key: 'parity', params: { value: parity } });
  const stopBits = Number(x.stopBits ?? 1);
  if (stopBits !== 1 && stopBits !== 2) problems.push({ key: 'stop-bits', params: { value: String(x.stopBits) } });
  const format = String(x.format ?? 'nonin-df7');
  if (!(SERIAL_FORMATS as readonly string[]).includes(format)) problems.push({ key: 'format', params: { format } });
  const reconnectMs = Number(x.reconnectMs ?? 2000);
  if (!Number.isFinite(reconnectMs) || reconnectMs < 100 || reconnectMs > 600_000) problems.push({ key: 'reconnect', params: { value: String(x.reconnectMs) } });
  const maxReconnectMs = x.maxReconnectMs === undefined || x.maxReconnectMs === '' ? Math.max(10_000, reconnectMs) : Number(x.maxReconnectMs);
  if (!Number.isFinite(maxReconnectMs) || maxReconnectMs < reconnectMs || maxReconnectMs > 600_000) problems.push({ key: 'max-reconnect', params: { value: String(x.maxReconnectMs) } });
  const staleRaw = x.staleAfterS === undefined || x.staleAfterS === '' ? null : Number(x.staleAfterS);
  if (staleRaw !== null && (!Number.isFinite(staleRaw) || staleRaw < 0 || staleRaw > 86_400)) problems.push({ key: 'stale', params: { value: String(x.staleAfterS) } });
  if (problems.length > 0) return { problems };
  const f = format as SerialFormat;
  const staleAfterMs = staleRaw === null ? defaultStaleAfterMs(f) : Math.round(staleRaw * 1000);
  return { settings: { path, baudRate: baud, dataBits: dataBits as SerialSettings['dataBits'], parity: parity as SerialSettings['parity'], stopBits: stopBits as 1 | 2, format: f, reconnectMs, maxReconnectMs, staleAfterMs } };
}
