/**
 * Plays a recording (device-sim/recording.ts) into a gateway as the devices once sent it: serial
 * chunks onto the pseudo-terminal of their format, MQTT messages from each device's own login with
 * QoS 1, at the recorded inter-arrival times divided by `speed`, or as fast as the gateway takes
 * them (`speed: 'max'`: serial bytes back to back, MQTT with up to 256 messages in flight).
 *
 * The send log gets what was played, so `mcps verify` can compare: MQTT readings as they were in
 * the messages (a message the gateway would refuse is marked `expect: "refused"`), serial readings
 * as the gateway's own decoder finds them in the bytes written (the bytes are the recording; which
 * readings they hold is the decoder's reading of them, sequence numbers included).
 */
import mqtt from 'mqtt';
import { decoderFor, eventReadings, type SerialDecoder } from '../gateway/ingest/decoders/serial-decoder';
import { readingFromMqtt } from '../gateway/ingest/mqtt-reading';
import type { SerialFormat } from '../gateway/ingest/serial-settings';
import type { PtyPair } from './pty';
import type { Recording } from './recording';
import { SendLog } from './send-log';
import { hl7Sender } from './recording';
import type { Socket } from 'node:net';
import { dial } from './dial';
import { MllpDecoder, mllpFrame } from '../gateway/ingest/hl7/mllp';
import { parseHl7 } from '../gateway/ingest/hl7/hl7-message';
import { decodeOruR01 } from '../gateway/ingest/hl7/oru-r01';
import type { RunningSimulator, SimStats } from './simulator';

export interface ReplayOptions {
  recording: Recording;
  speed: number | 'max';
  serialPorts: ReadonlyMap<SerialFormat, PtyPair>;
  mqttUrl: string;
  /** Logins of the recording's MQTT devices. */
  mqttDevices: ReadonlyArray<{ deviceId: string; password: string; patient: string }>;
  /** The gateway's MLLP listener, for recorded HL7 messages. */
  hl7?: { host: string; port: number };
  /** With TLS: the hospital CA (mqtts:// and MLLP over TLS). */
  ca?: Buffer;
  sendLogPath: string;
}

const MAX_IN_FLIGHT = 256;

export async function startReplay(o: ReplayOptions): Promise<RunningSimulator> {
  const log = new SendLog(o.sendLogPath);
  const entries = o.recording.entries;
  const stats: SimStats = { sent: 0, acked: 0, bySource: { serial: 0, mqtt: 0 }, faults: {}, progress: { done: 0, total: entries.length, startedAt: Date.now() } };
  const clients = new Map<string, mqtt.MqttClient>();
  const patients = new Map(o.mqttDevices.map((d) => [d.deviceId, d.patient]));
  try {
    for (const d of o.mqttDevices) {
      const client = await mqtt.connectAsync(o.mqttUrl, {
        clientId: d.deviceId,
        username: d.deviceId,
        password: d.password,
        ...(o.ca ? { ca: o.ca, rejectUnauthorized: true } : {}),
        clean: false,
        reconnectPeriod: 500,
        will: { topic: `mcps/devices/${d.deviceId}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
      });
      client.on('error', () => undefined); // reconnects; unacknowledged messages are resent below
      clients.set(d.deviceId, client);
    }
  } catch (err) {
    await Promise.all([...clients.values()].map((c) => c.endAsync(true)));
    await log.close();
    throw new Error(`replay: an MQTT device could not log in: ${(err as Error).message}`);
  }
  const decoders = new Map<SerialFormat, SerialDecoder>();
  let stopping = false;
  let inflight = 0;
  let waiters: Array<() => void> = [];
  const settled = (): void => {
    inflight--;
    stats.progress!.done++;
    waiters.splice(0).forEach((f) => f());
  };

  const publish = (e: Extract<(typeof entries)[number], { src: 'mqtt' }>): void => {
    const client = clients.get(e.deviceId)!;
    inflight++;
    const send = (): void => {
      client.publish(e.topic, e.payload, { qos: 1 }, (err) => {
        if (err && !stopping) return void setTimeout(send, 250); // failed while reconnecting: the same bytes again
        let entry: Parameters<SendLog['add']>[0] | null = null;
        try {
          const r = readingFromMqtt(e.topic, Buffer.from(e.payload), e.deviceId, patients.get(e.deviceId), Date.now());
          entry = { deviceId: r.deviceId, patient: r.patient, kind: r.kind, value: r.value, deviceSeq: r.deviceSeq, sentAt: Date.now(), acked: !err, transport: 'mqtt', ...(r.deviceTime !== null ? { deviceTime: r.deviceTime } : {}) };
        } catch {
          // the gateway refuses it (as it did when it was recorded, or the recording is damaged)
          const p = safeJson(e.payload);
          entry = { deviceId: e.deviceId, patient: patients.get(e.deviceId) ?? '', kind: typeof p?.kind === 'string' ? p.kind : 'unknown', value: typeof p?.value === 'number' ? p.value : 0, deviceSeq: typeof p?.seq === 'number' ? p.seq : -1, sentAt: Date.now(), acked: !err, transport: 'mqtt', expect: 'refused' };
        }
        log.add({ ...entry, ...(err ? { error: err.message } : {}) });
        stats.sent++;
        if (!err) {
          stats.acked++;
          stats.bySource.mqtt!++;
        }
        settled();
      });
    };
    send();
  };

  const writeSerial = async (e: Extract<(typeof entries)[number], { src: 'serial' }>): Promise<void> => {
    const pty = o.serialPorts.get(e.format);
    if (!pty) throw new Error(`replay: no port for ${e.format}`);
    const bytes = Buffer.from(e.data, 'base64');
    await pty.write(bytes);
    let dec = decoders.get(e.format);
    if (!dec) decoders.set(e.format, (dec = decoderFor(e.format, 'replay')));
    for (const ev of dec.push(bytes)) {
      if (ev.type !== 'readings') continue;
      for (const r of eventReadings(ev, { deviceId: e.deviceId, patient: e.patient, receivedAt: Date.now() })) {
        log.add({ deviceId: r.deviceId, patient: r.patient, kind: r.kind, value: r.value, deviceSeq: r.deviceSeq, sentAt: Date.now(), acked: true, transport: 'serial' });
        stats.sent++;
        stats.acked++;
        stats.bySource.serial!++;
      }
    }
    stats.progress!.done++;
  };

  // HL7: one MLLP connection per monitor, one message at a time, each waiting for its ACK (sent
  // again after 5 s without one, or after the connection drops), as the monitor did.
  const hl7Links = new Map<string, Hl7Link>();
  const sendHl7 = (e: Extract<(typeof entries)[number], { src: 'hl7' }>): void => {
    const who = hl7Sender(e.message);
    const id = who?.deviceId ?? '?';
    let link = hl7Links.get(id);
    if (!link) hl7Links.set(id, (link = new Hl7Link(o.hl7!.host, o.hl7!.port, o.ca)));
    inflight++;
    void link.send(e.message).then((ack) => {
      if (who) {
        try {
          const r = decodeOruR01(parseHl7(e.message), { receivedAt: Date.now(), patientOf: () => who.patient });
          if (r.ok) {
            for (const x of r.readings) log.add({ deviceId: x.deviceId, patient: x.patient, kind: x.kind, value: x.value, deviceSeq: x.deviceSeq, sentAt: Date.now(), acked: ack !== null, transport: 'hl7', ...(x.deviceTime !== null ? { deviceTime: x.deviceTime } : {}), ...(ack === null ? { error: 'no ACK' } : {}) });
            stats.sent += r.readings.length;
            if (ack !== null) {
              stats.acked += r.readings.length;
              stats.bySource.hl7 = (stats.bySource.hl7 ?? 0) + r.readings.length;
            }
          }
        } catch {
          // not a message the gateway can read: it answers AR, nothing to expect
        }
      }
      settled();
    });
  };

  let resolveDone: () => void = () => undefined;
  const allDone = new Promise<void>((r) => (resolveDone = r));
  const play = (async () => {
    const t0 = entries[0]!.t;
    const start = Date.now();
    for (const e of entries) {
      if (stopping) break;
      if (o.speed !== 'max') {
        const due = start + (e.t - t0) / o.speed;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      while (inflight >= MAX_IN_FLIGHT) await new Promise<void>((r) => waiters.push(r));
      if (e.src === 'mqtt') publish(e);
      else if (e.src === 'hl7') sendHl7(e);
      else await writeSerial(e);
    }
    while (inflight > 0) await new Promise<void>((r) => waiters.push(r));
    resolveDone();
  })();

  let final: Promise<SimStats> | null = null;
  const snapshot = (): SimStats => ({ ...stats, bySource: { ...stats.bySource }, progress: { ...stats.progress! } });
  return {
    stats: snapshot,
    finished: () => allDone,
    stop: () =>
      (final ??= (async () => {
        stopping = true;
        waiters.splice(0).forEach((f) => f());
        waiters = [];
        await play;
        for (const l of hl7Links.values()) l.close();
        for (const [id, c] of clients) {
          await c.publishAsync(`mcps/devices/${id}/status`, 'offline', { qos: 1, retain: true }).catch(() => undefined);
          await c.endAsync();
        }
        await log.close();
        return snapshot();
      })()),
  };
}

function safeJson(s: string): Record<string, unknown> | null {
  try {
    const x = JSON.parse(s) as unknown;
    return typeof x === 'object' && x !== null ? (x as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** One monitor's MLLP connection during a replay: messages in order, each until its ACK arrives. */
class Hl7Link {
  #socket: Socket | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  #waiter: ((ack: string) => void) | null = null;
  #closed = false;

  constructor(readonly host: string, readonly port: number, readonly ca?: Buffer) {}

  send(message: string): Promise<string | null> {
    const p = this.#chain.then(() => this.#sendOne(message));
    this.#chain = p;
    return p;
  }

  async #sendOne(message: string): Promise<string | null> {
    for (let attempt = 0; attempt < 20 && !this.#closed; attempt++) {
      try {
        const s = await this.#connected();
        const ack = await new Promise<string | null>((resolve) => {
          const timer = setTimeout(() => resolve(null), 5000);
          this.#waiter = (a) => {
            clearTimeout(timer);
            resolve(a);
          };
          s.write(mllpFrame(message));
        });
        this.#waiter = null;
        if (ack !== null) return ack;
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    return null;
  }

  #connected(): Promise<Socket> {
    if (this.#socket && !this.#socket.destroyed) return Promise.resolve(this.#socket);
    return new Promise((resolve, reject) => {
      const s = dial(this.host, this.port, this.ca, () => {
        this.#socket = s;
        resolve(s);
      });
      const d = new MllpDecoder();
      s.on('data', (c) => {
        for (const ev of d.push(c)) if (ev.type === 'frame') this.#waiter?.(ev.data.toString('utf8'));
      });
      s.on('error', reject);
      s.on('close', () => {
        if (this.#socket === s) this.#socket = null;
      });
    });
  }

  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
  }
}
