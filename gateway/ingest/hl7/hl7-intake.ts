/**
 * What the gateway does with one MLLP frame from a monitor: parse it, read the observations, journal
 * every reading (synced) and only then answer — AA when all was kept, AE naming what was refused
 * (the rest is kept; a copy sent again is recognised by the journal), AR when the message cannot be
 * taken at all (wrong type or version, unknown device). When the journal cannot store (disk budget
 * full) no ACK is sent, so the monitor keeps the message and sends it again, as with MQTT.
 */
import type { Reading } from '../../../protocol/reading';
import { dedupeKey } from '../../journal/journal';
import { parseHl7 } from './hl7-message';
import { buildAck, decodeOruR01 } from './oru-r01';

export interface Hl7IntakeParts {
  /** Journals a reading; resolves once it is durable. Rejects when it cannot be stored. */
  ingest(r: Reading, key: string): Promise<{ journalId: number } | { duplicate: true }>;
  patientOf(deviceId: string): string | undefined;
  /** Whether the device may send this kind (devices.json "kinds"); absent: any. */
  kindAllowed?(deviceId: string, kind: Reading['kind']): boolean;
  /** Keeps refused input aside (dead letters) and counts it. */
  reject(d: { at: number; source: string; reason: string; raw: Uint8Array }): void;
  now(): number;
}

export interface Hl7Outcome {
  /** The ACK to send, or null: nothing stored, send nothing (the sender will resend). */
  ack: string | null;
  code: 'AA' | 'AE' | 'AR' | null;
  /** Readings newly journaled (copies of ones already journaled are not listed). */
  accepted: Array<{ reading: Reading; journalId: number | null }>;
  refused: string[];
  duplicates: number;
  /** The sending device (MSH-3), once the message named a registered one. */
  deviceId?: string;
}

export class Hl7Intake {
  #acks = 0;
  constructor(readonly parts: Hl7IntakeParts, readonly source: string) {}

  async handle(frame: Buffer): Promise<Hl7Outcome> {
    const now = this.parts.now();
    const ackId = `ACK${now}${String(++this.#acks).padStart(6, '0')}`;
    const text = frame.toString('utf8');
    let msg;
    try {
      msg = parseHl7(text);
    } catch (err) {
      const reason = `not an HL7 v2 message: ${(err as Error).message}`;
      this.parts.reject({ at: now, source: this.source, reason, raw: frame });
      const controlId = /^MSH(.)(?:[^\r\n]*?\1){8}([^\r\n|]*)/.exec(text)?.[2] ?? '';
      return { ack: buildAck({ original: null, code: 'AR', controlId, text: reason, now, ackId, error: '102^Data type error^HL70357' }), code: 'AR', accepted: [], refused: [reason], duplicates: 0 };
    }
    const r = decodeOruR01(msg, { receivedAt: now, patientOf: (d) => this.parts.patientOf(d) });
    if (!r.ok) {
      this.parts.reject({ at: now, source: this.source, reason: r.reason, raw: frame });
      return { ack: buildAck({ original: msg, code: r.code, controlId: r.controlId, text: r.reason, error: r.error, now, ackId }), code: r.code, accepted: [], refused: [r.reason], duplicates: 0 };
    }
    const accepted: Hl7Outcome['accepted'] = [];
    let duplicates = 0;
    const deviceId = r.deviceId;
    const allowed = this.parts.kindAllowed;
    if (allowed) {
      for (const x of r.readings.filter((x) => !allowed(deviceId, x.kind))) r.refused.push(`${x.kind}: device "${deviceId}" is not registered for this kind`);
      r.readings = r.readings.filter((x) => allowed(deviceId, x.kind));
    }
    try {
      const results = await Promise.all(r.readings.map((x) => this.parts.ingest(x, dedupeKey(x))));
      results.forEach((res, i) => {
        if ('journalId' in res) accepted.push({ reading: r.readings[i]!, journalId: res.journalId });
        else duplicates++;
      });
    } catch {
      // Not stored (disk budget full): no ACK, the monitor keeps the message and sends it again.
      return { ack: null, code: null, accepted, refused: [], duplicates, deviceId };
    }
    if (r.refused.length > 0) {
      const reason = r.refused.join('; ');
      this.parts.reject({ at: now, source: `${this.source} ${r.deviceId}`, reason, raw: frame });
      return { ack: buildAck({ original: msg, code: 'AE', controlId: r.controlId, text: reason, error: '102^Data type error^HL70357', now, ackId }), code: 'AE', accepted, refused: r.refused, duplicates, deviceId };
    }
    return { ack: buildAck({ original: msg, code: 'AA', controlId: r.controlId, now, ackId }), code: 'AA', accepted, refused: [], duplicates, deviceId };
  }
}
