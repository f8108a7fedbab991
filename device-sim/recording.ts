/**
 * Recordings of what a gateway received (`mcps up --record FILE`, written by gateway/ingest/recorder.ts)
 * and CSV series, read back for `mcps sim replay`. A recording is JSONL: a header line, then one
 * line per chunk of bytes from a serial port, per MQTT message or per HL7 message, each with the
 * time it arrived:
 *
 *   {"mcpsRecording":1,"gatewayId":"gw-ward1","startedAt":1764000000000}
 *   {"t":1764000000120,"src":"serial","format":"nonin-df7","deviceId":"oxi-bed1","patient":"p-0001","data":"gAAA…"}
 *   {"t":1764000000250,"src":"mqtt","topic":"mcps/devices/temp-bed1/readings","deviceId":"temp-bed1","payload":"{\"v\":1,…}"}
 *   {"t":1764000000300,"src":"hl7","peer":"10.1.2.3:50112","message":"MSH|^~\\&|mon-bed4^…\rPID|…"}
 *
 * A CSV series (comma, semicolon or tab separated) has a header with a time column and a value column (names chosen with --time-column /
 * --value-column, default "time" and "value"); times are epoch milliseconds, ISO 8601, or seconds
 * from the start (numbers below 1e11). Every problem names the file, the line and the field.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { READING_KINDS, type ReadingKind } from '../protocol/reading';
import { SERIAL_FORMATS, type SerialFormat } from '../gateway/ingest/serial-settings';
import { parseHl7 } from '../gateway/ingest/hl7/hl7-message';

export type RecordedEntry =
  | { t: number; src: 'serial'; format: SerialFormat; deviceId: string; patient: string; data: string }
  | { t: number; src: 'mqtt'; topic: string; deviceId: string; payload: string }
  | { t: number; src: 'hl7'; message: string };

export interface Recording {
  gatewayId: string | null;
  entries: RecordedEntry[];
}

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function parseRecording(text: string, file: string): Recording {
  const lines = text.split('\n');
  const problems: string[] = [];
  const entries: RecordedEntry[] = [];
  let gatewayId: string | null = null;
  lines.forEach((line, i) => {
    if (line.trim() === '' || problems.length >= 20) return;
    const at = `${file}:${i + 1}`;
    let x: Record<string, unknown>;
    try {
      x = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      problems.push(`${at}: not JSON (${(err as Error).message})`);
      return;
    }
    if (typeof x !== 'object' || x === null || Array.isArray(x)) return void problems.push(`${at}: not a JSON object`);
    if (i === 0 && 'mcpsRecording' in x) {
      if (x.mcpsRecording !== 1) problems.push(`${at}: mcpsRecording ${JSON.stringify(x.mcpsRecording)}: this version reads 1`);
      gatewayId = typeof x.gatewayId === 'string' ? x.gatewayId : null;
      return;
    }
    if (typeof x.t !== 'number' || !Number.isFinite(x.t) || x.t < 0) return void problems.push(`${at}: "t" must be a time in epoch milliseconds`);
    if (x.src === 'hl7') {
      if (typeof x.message !== 'string' || x.message === '') return void problems.push(`${at}: "message" must be the HL7 message text`);
      entries.push({ t: x.t, src: 'hl7', message: x.message });
      return;
    }
    if (typeof x.deviceId !== 'string' || !DEVICE_ID.test(x.deviceId)) return void problems.push(`${at}: "deviceId" missing or not a device id`);
    if (x.src === 'serial') {
      if (!(SERIAL_FORMATS as readonly unknown[]).includes(x.format)) return void problems.push(`${at}: "format" ${JSON.stringify(x.format)} is not one of ${SERIAL_FORMATS.join(', ')}`);
      if (typeof x.patient !== 'string' || x.patient === '') return void problems.push(`${at}: "patient" missing`);
      if (typeof x.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(x.data)) return void problems.push(`${at}: "data" must be base64 bytes`);
      entries.push({ t: x.t, src: 'serial', format: x.format as SerialFormat, deviceId: x.deviceId, patient: x.patient, data: x.data });
    } else if (x.src === 'mqtt') {
      if (typeof x.topic !== 'string' || x.topic === '') return void problems.push(`${at}: "topic" missing`);
      if (typeof x.payload !== 'string') return void problems.push(`${at}: "payload" must be the message text`);
      entries.push({ t: x.t, src: 'mqtt', topic: x.topic, deviceId: x.deviceId, payload: x.payload });
    } else problems.push(`${at}: "src" must be "serial", "mqtt" or "hl7", not ${JSON.stringify(x.src)}`);
  });
  if (problems.length > 0) throw new Error(`${file}: ${problems.length >= 20 ? 'at least ' : ''}${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`);
  if (entries.length === 0) throw new Error(`${file}: no recorded entries`);
  const formats = new Map<string, string>();
  for (const e of entries) {
    if (e.src !== 'serial') continue;
    const other = formats.get(e.format);
    if (other && other !== e.deviceId) throw new Error(`${file}: two ${e.format} devices (${other}, ${e.deviceId}); the local stack has one port per format`);
    formats.set(e.format, e.deviceId);
  }
  entries.sort((a, b) => a.t - b.t);
  return { gatewayId, entries };
}

export interface CsvSeriesOptions {
  deviceId: string;
  patient: string;
  kind: ReadingKind;
  timeColumn?: string;
  valueColumn?: string;
}

/** A CSV series as MQTT readings of one device, at the times in the file (relative times start now). */
export function csvAsRecording(text: string, file: string, o: CsvSeriesOptions, now = Date.now()): Recording {
  if (!DEVICE_ID.test(o.deviceId)) throw new Error(`--device ${JSON.stringify(o.deviceId)} is not a device id`);
  const timeCol = o.timeColumn ?? 'time';
  const valueCol = o.valueColumn ?? 'value';
  let rows: Array<Record<string, string>>;
  try {
    rows = parse(text, { columns: true, skip_empty_lines: true, trim: true, comment: '#', delimiter: [',', ';', '\t'] }) as Array<Record<string, string>>;
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  if (rows.length === 0) throw new Error(`${file}: no rows`);
  for (const col of [timeCol, valueCol]) if (!(col in rows[0]!)) throw new Error(`${file}: no "${col}" column (columns: ${Object.keys(rows[0]!).join(', ')})`);
  const k = READING_KINDS[o.kind];
  const problems: string[] = [];
  const entries: RecordedEntry[] = [];
  let base: number | null = null;
  rows.forEach((row, i) => {
    const at = `${file}:${i + 2}`;
    const rawT = row[timeCol]!;
    let t = Number(rawT);
    if (rawT === '' || !Number.isFinite(t)) {
      t = Date.parse(rawT);
      if (!Number.isFinite(t)) return void problems.push(`${at}: ${timeCol} "${rawT}" is not a time (epoch ms, ISO 8601, or seconds from the start)`);
    } else if (t < 1e11) {
      t = now + t * 1000;
    }
    base ??= t;
    const v = Number(row[valueCol]);
    if (row[valueCol] === '' || !Number.isFinite(v)) return void problems.push(`${at}: ${valueCol} "${row[valueCol]}" is not a number`);
    const payload = JSON.stringify({ v: 1, deviceId: o.deviceId, patient: o.patient, seq: i + 1, kind: o.kind, value: v, unit: k.unit, time: Math.round(t) });
    entries.push({ t, src: 'mqtt', topic: `mcps/devices/${o.deviceId}/readings`, deviceId: o.deviceId, payload });
  });
  if (problems.length > 0) throw new Error(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.slice(0, 20).join('\n  ')}`);
  for (let i = 1; i < entries.length; i++) if (entries[i]!.t < entries[i - 1]!.t) throw new Error(`${file}:${i + 2}: time goes backwards`);
  return { gatewayId: null, entries };
}

export function loadReplaySource(file: string, csv?: CsvSeriesOptions): Recording {
  const text = readFileSync(file, 'utf8');
  return file.toLowerCase().endsWith('.csv') ? csvAsRecording(text, file, csv ?? failCsv(file)) : parseRecording(text, file);
}

function failCsv(file: string): never {
  throw new Error(`${file}: a CSV series needs --kind, --device and --patient (which device it plays)`);
}

/** The devices a recording needs: MQTT logins (with the patient in their readings) and serial ports by format. */
export function recordingDevices(r: Recording): { mqtt: Array<{ deviceId: string; patient: string; kind: ReadingKind }>; serial: Array<{ deviceId: string; patient: string; format: SerialFormat }>; hl7: Array<{ deviceId: string; patient: string }> } {
  const mqtt = new Map<string, { deviceId: string; patient: string; kind: ReadingKind }>();
  const serial = new Map<string, { deviceId: string; patient: string; format: SerialFormat }>();
  const hl7 = new Map<string, { deviceId: string; patient: string }>();
  for (const e of r.entries) {
    if (e.src === 'hl7') {
      const who = hl7Sender(e.message);
      if (who && DEVICE_ID.test(who.deviceId) && !hl7.has(who.deviceId)) hl7.set(who.deviceId, who);
    } else if (e.src === 'serial') serial.set(e.format, { deviceId: e.deviceId, patient: e.patient, format: e.format });
    else if (!mqtt.has(e.deviceId) || mqtt.get(e.deviceId)!.patient === 'p-unknown') {
      let patient = 'p-unknown';
      let kind: ReadingKind = 'heart_rate';
      try {
        const p = JSON.parse(e.payload) as { patient?: unknown; kind?: unknown };
        if (typeof p.patient === 'string') patient = p.patient;
        if (typeof p.kind === 'string' && p.kind in READING_KINDS) kind = p.kind as ReadingKind;
      } catch {
        // a payload the gateway refused when recorded: replayed as it was, refused again
      }
      mqtt.set(e.deviceId, { deviceId: e.deviceId, patient, kind });
    }
  }
  return { mqtt: [...mqtt.values()], serial: [...serial.values()], hl7: [...hl7.values()] };
}

/** MSH-3.1 and PID-3.1 of an HL7 message, if it has them. */
export function hl7Sender(message: string): { deviceId: string; patient: string } | null {
  try {
    const m = parseHl7(message);
    const pid = m.first('PID');
    return { deviceId: m.value(m.first('MSH')!, 3), patient: pid ? m.value(pid, 3) : '' };
  } catch {
    return null;
  }
}
