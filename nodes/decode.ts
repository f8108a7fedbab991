/**
 * Node "mcps-decode": raw device data → canonical readings (MDC and LOINC codes, UCUM units),
 * for flows that read devices with Node-RED's own nodes (serial in, mqtt in, tcp in, file in).
 *
 * Formats:
 *   nonin-df7     a Nonin data format 7 byte stream (msg.payload Buffer, any chunking);
 *   masimo-ascii  Masimo ASCII 1 lines (Buffer or string, any chunking);
 *   contec-cms50d Contec CMS50D+ live stream (Buffer, any chunking);
 *                 for both, one decoder per msg.topic, so several devices can share the node;
 *   mcps-json  the mcps MQTT reading payload (docs/devices.md), as a Buffer, string or object.
 * Output 1: one message per reading (msg.payload = the reading; with msg.journalId when the gateway
 * runtime journaled it). Output 2: refused input with msg.error naming what was wrong. Every input
 * message is completed exactly once, after its readings are sent.
 */
import { decoderFor, eventReadings, type SerialDecoder } from '../gateway/ingest/decoders/serial-decoder';
import { SERIAL_FORMATS, type SerialFormat } from '../gateway/ingest/serial-settings';
import { deviceTopicOwner } from '../gateway/ingest/broker';
import { readingFromMqtt } from '../gateway/ingest/mqtt-reading';
import type { Reading } from '../protocol/reading';
import type { DoneFn, NodeAPI, NodeDef, NodeInstance, NodeMessage, SendFn } from './node-red-api';
import { gatewayRuntime } from './runtime-access';
import { throttledStatus } from './status-throttle';

interface DecodeDef extends NodeDef {
  format?: string;
  deviceId?: string;
  patient?: string;
}

const DECODE_FORMATS = [...SERIAL_FORMATS, 'mcps-json'] as const;
/** Stream decoders kept per msg.topic at most (the oldest is dropped beyond). */
const MAX_STREAMS = 256;

export = function register(RED: NodeAPI): void {
  function DecodeNode(this: NodeInstance, def: DecodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const format = def.format ?? 'nonin-df7';
    const status = throttledStatus(node);
    if (!(DECODE_FORMATS as readonly string[]).includes(format)) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('mcps-decode.errors.format', { format }) });
      node.on('input', (_m: NodeMessage, _s: SendFn, done: DoneFn) => done(new Error(RED._('mcps-decode.errors.format', { format }))));
      return;
    }
    const rt = gatewayRuntime(RED);
    const streams = new Map<string, SerialDecoder>();
    let readings = 0;
    let refused = 0;
    node.status({ fill: 'yellow', shape: 'ring', text: RED._('mcps-decode.status.waiting') });

    const refuse = (send: SendFn, msg: NodeMessage, raw: unknown, reason: string): void => {
      refused++;
      rt?.reject({ at: Date.now(), source: `decode:${String(msg.topic ?? node.id)}`, reason, raw: Buffer.isBuffer(raw) ? raw : Buffer.from(typeof raw === 'string' ? raw : JSON.stringify(raw ?? null)) });
      send([null, { topic: msg.topic, payload: raw, error: reason }]);
    };

    node.on('input', (msg: NodeMessage, send: SendFn, done: DoneFn) => {
      const receivedAt = Date.now();
      const out: Reading[] = [];
      const deviceId = typeof msg.deviceId === 'string' && msg.deviceId ? msg.deviceId : (def.deviceId ?? '').trim();
      const patient = typeof msg.patient === 'string' && msg.patient ? msg.patient : (def.patient ?? '').trim();
      if (format !== 'mcps-json') {
        if (typeof msg.payload === 'string' && format === 'masimo-ascii') msg.payload = Buffer.from(msg.payload, 'latin1');
        if (!Buffer.isBuffer(msg.payload)) {
          refuse(send, msg, msg.payload, RED._('mcps-decode.errors.not-bytes', { type: typeof msg.payload }));
          return finish();
        }
        if (!deviceId || !patient || deviceId.startsWith('${') || patient.startsWith('${')) {
          refuse(send, msg, msg.payload, RED._('mcps-decode.errors.no-device'));
          return finish();
        }
        const key = String(msg.topic ?? '');
        let dec = streams.get(key);
        if (!dec) {
          if (streams.size >= MAX_STREAMS) streams.delete(streams.keys().next().value!);
          dec = decoderFor(format as SerialFormat, key || node.id);
          streams.set(key, dec);
        }
        for (const ev of dec.push(msg.payload)) {
          if (ev.type === 'readings') out.push(...eventReadings(ev, { deviceId, patient, receivedAt }));
          else refuse(send, msg, Buffer.from(ev.raw), ev.reason);
        }
      } else {
        const raw = msg.payload;
        const bytes = Buffer.isBuffer(raw) ? raw : typeof raw === 'string' ? Buffer.from(raw) : Buffer.from(JSON.stringify(raw ?? null));
        const topic = typeof msg.topic === 'string' ? msg.topic : '';
        let device = deviceTopicOwner(topic) ?? deviceId;
        if (!device) {
          try {
            device = String((JSON.parse(bytes.toString('utf8')) as { deviceId?: unknown }).deviceId ?? '');
          } catch {
            device = '';
          }
        }
        try {
          out.push(readingFromMqtt(topic || `device ${device}`, bytes, device, rt?.devices.get(device)?.patient ?? (patient || undefined), receivedAt));
        } catch (err) {
          refuse(send, msg, raw, (err as Error).message);
        }
      }
      if (out.length === 0) return finish();
      if (!rt) {
        for (const r of out) send([{ topic: msg.topic, payload: r }, null]);
        readings += out.length;
        return finish();
      }
      // With the gateway runtime every reading is journaled before it is passed on.
      Promise.allSettled(out.map((r) => rt.ingest(r))).then((results) => {
        results.forEach((res, i) => {
          if (res.status === 'fulfilled') {
            if ('journalId' in res.value) {
              readings++;
              send([{ topic: msg.topic, payload: out[i], journalId: res.value.journalId }, null]);
            }
          } else refuse(send, msg, out[i], (res.reason as Error).message);
        });
        finish();
      });

      function finish(): void {
        status.set(() => ({ fill: refused > 0 ? 'yellow' : 'green', shape: 'dot', text: RED._('mcps-decode.status.counts', { readings, refused }) }));
        done();
      }
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      streams.clear();
      done();
    });
  }
  RED.nodes.registerType('mcps-decode', DecodeNode);
};
