/**
 * Runs a set of simulated devices: pulse oximeters streaming Nonin DF7 over pseudo-terminals and
 * MQTT devices publishing JSON, each deterministic from its seed, all logged to the send log.
 */
import type { ReadingKind } from '../protocol/reading';
import type { ClinicalScenario } from './physiology';
import type { FaultSpec } from './faults';
import type { DeviceModelName, ModelParams } from './device-models';
import { encodeDf7Packet } from './devices/nonin-df7-encoder';
import { encodeMasimoLine } from './devices/masimo-ascii-encoder';
import { encodeContecSecond } from './devices/contec-cms50d-encoder';
import type { SerialFormat } from '../gateway/ingest/serial-settings';
import { SimulatedMqttDevice } from './devices/mqtt-device';
import { SimulatedHl7Monitor } from './devices/hl7-monitor';
import { PulseOximeterModel } from './devices/pulse-oximeter';
import type { PtyPair } from './pty';
import { SendLog } from './send-log';
import { LinePacer, type LineSettings } from './line-pacer';

/** The serial settings each simulated device's line runs at (as the gateway's port is configured). */
export const LINE_SETTINGS: Record<SerialFormat, LineSettings> = {
  'nonin-df7': { baud: 9600, dataBits: 8, parity: 'none', stopBits: 1 },
  'masimo-ascii': { baud: 9600, dataBits: 8, parity: 'none', stopBits: 1 },
  'contec-cms50d': { baud: 19200, dataBits: 8, parity: 'odd', stopBits: 1 },
};

export interface SimStats {
  /** Readings sent. */
  sent: number;
  /** Readings acknowledged (MQTT PUBACK; serial: accepted by the tty). */
  acked: number;
  bySource: Record<string, number>;
  /** Faults injected so far, by type (device-sim/faults.ts), over all devices. */
  faults: Record<string, number>;
  /** A replay's progress: recorded entries played of the total. */
  progress?: { done: number; total: number; startedAt: number };
}

export interface SimulatorOptions {
  /** Serial oximeters on pseudo-terminals: Nonin DF7 (binary, 3 packets/s, the default), Masimo ASCII 1 (a line a second) or Contec CMS50D+ (60 frames/s, a value a second). */
  serial: Array<{ pty: PtyPair; deviceId: string; patient: string; seed: number; format?: SerialFormat }>;
  mqtt: Array<{ url: string; ca?: Buffer; deviceId: string; password: string; patient: string; kind: ReadingKind; ratePerS: number; seed: number; stream?: { total: number; maxInflight: number; maxRatePerS?: number }; scenario?: ClinicalScenario; faults?: FaultSpec[]; model?: DeviceModelName; modelParams?: ModelParams }>;
  /** Bedside monitors sending HL7 ORU^R01 over MLLP to the gateway's listener. */
  hl7?: Array<{ host: string; port: number; ca?: Buffer; deviceId: string; patient: string; seed: number; ratePerS: number; scenario?: ClinicalScenario }>;
  sendLogPath: string;
  /** Time multiplier for the serial devices (1 = real time: 3 packets/s). */
  speed?: number;
  /** MQTT devices connecting at the same time at start (default 1: one after the other). */
  connectConcurrency?: number;
}

/** 75 frames/s in packets of 25. At 9600 baud 8N1 (960 B/s) the 375 B/s fit with room to spare. */
const PACKETS_PER_S = 3;

export interface RunningSimulator {
  stats(): SimStats;
  /** MQTT devices connected now, and reconnections so far (over all devices). */
  mqttConnections?(): { connected: number; devices: number; reconnects: number };
  /** Cuts every MQTT device's connection at once (a network outage): they all reconnect together. (Not in a replay.) */
  cutMqttConnections?(): number;
  /** Resolves when every stream-mode device has all its readings acknowledged. */
  finished(): Promise<void>;
  stop(): Promise<SimStats>;
}

export async function startSimulator(opts: SimulatorOptions): Promise<RunningSimulator> {
  const log = new SendLog(opts.sendLogPath);
  const stats: SimStats = { sent: 0, acked: 0, bySource: { serial: 0, mqtt: 0, hl7: 0 }, faults: {} };
  let stopping = false;
  const serialLoops: Array<Promise<void>> = [];

  for (const s of opts.serial) {
    const model = new PulseOximeterModel(s.seed);
    const format = s.format ?? 'nonin-df7';
    // The device's own line: Nonin and Masimo 9600 8N1, Contec 19200 8O1.
    const line = new LinePacer(s.pty, LINE_SETTINGS[format], opts.speed ?? 1);
    // Nonin: a packet every 1/3 s. Masimo: a line a second. Contec: a second of frames (60) in three
    // writes of 20, so the line carries bytes all the time as the device's does.
    const period = (format === 'nonin-df7' ? 1000 / PACKETS_PER_S : 1000) / (opts.speed ?? 1);
    serialLoops.push(
      (async () => {
        const start = Date.now();
        for (let packet = 1; !stopping; packet++) {
          const sentAt = Date.now();
          let sent: Array<[ReadingKind, number]>;
          if (format === 'masimo-ascii') {
            const sample = model.next();
            // Perfusion index from the pleth's swing, as the device derives it (AC/DC in %).
            const pi = Number((((Math.max(...sample.pleth) - Math.min(...sample.pleth)) / 32768) * 10).toFixed(2));
            await line.write(encodeMasimoLine({ time: sentAt - (sentAt % 1000), spo2: sample.spo2, bpm: sample.pulseRate, pi, alarm: 0, exc: 0 }));
            sent = [['spo2', sample.spo2], ['pulse_rate', sample.pulseRate], ['perfusion_index', pi]];
          } else if (format === 'contec-cms50d') {
            // A second of the model (three 1/3 s steps, 75 pleth samples), the last step's numerics.
            const steps = [model.next(), model.next(), model.next()];
            const last = steps[2]!;
            const bytes = encodeContecSecond({ spo2: last.spo2, pulseRate: last.pulseRate, pleth: steps.flatMap((x) => x.pleth) });
            // The whole second goes out even when stopping: the send log lists it.
            for (let k = 0; k < 3; k++) {
              await line.write(bytes.subarray(k * 100, (k + 1) * 100));
              if (k < 2) await new Promise((r) => setTimeout(r, period / 3));
            }
            sent = [['spo2', last.spo2], ['pulse_rate', last.pulseRate]];
          } else {
            const sample = model.next();
            await line.write(encodeDf7Packet({ spo2: sample.spo2, pulseRate: sample.pulseRate, pleth: sample.pleth }));
            sent = [['spo2', sample.spo2], ['pulse_rate', sample.pulseRate]];
          }
          for (const [kind, value] of sent) {
            log.add({ deviceId: s.deviceId, patient: s.patient, kind, value, deviceSeq: packet, sentAt, acked: true, transport: 'serial' });
            stats.sent++;
            stats.acked++;
            stats.bySource.serial!++;
          }
          const wait = start + packet * period - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
      })(),
    );
  }

  const devices: SimulatedMqttDevice[] = [];
  const monitors: SimulatedHl7Monitor[] = [];
  try {
    // One after the other by default; a ward's worth at once when asked (a gateway restart's storm).
    const connectOne = async (m: SimulatorOptions['mqtt'][number]): Promise<SimulatedMqttDevice> => {
      return SimulatedMqttDevice.connect({
        ...m,
        onResult: (r) => {
          log.add({
            deviceId: r.deviceId,
            patient: r.patient,
            kind: r.kind,
            value: r.value,
            deviceSeq: r.deviceSeq,
            sentAt: r.sentAt,
            acked: r.acked,
            transport: 'mqtt',
            ...(r.deviceTime !== r.sentAt ? { deviceTime: r.deviceTime } : {}),
            ...(r.error ? { error: r.error } : {}),
            ...(r.fault ? { fault: r.fault } : {}),
            ...(r.expect ? { expect: r.expect } : {}),
          });
          stats.sent++;
          if (r.acked) {
            stats.acked++;
            stats.bySource.mqtt!++;
          }
        },
      });
    };
    const width = Math.max(1, opts.connectConcurrency ?? 1);
    const slots: Array<SimulatedMqttDevice | undefined> = new Array(opts.mqtt.length);
    let next = 0;
    const failures: unknown[] = [];
    await Promise.all(
      Array.from({ length: Math.min(width, opts.mqtt.length) }, async () => {
        while (next < opts.mqtt.length && failures.length === 0) {
          const i = next++;
          try {
            slots[i] = await connectOne(opts.mqtt[i]!);
          } catch (err) {
            failures.push(err);
          }
        }
      }),
    );
    for (const d of slots) if (d) devices.push(d);
    if (failures.length > 0) throw failures[0];
    for (const h of opts.hl7 ?? []) {
      const m = await SimulatedHl7Monitor.connect({
        ...h,
        onResult: (r) => {
          log.add({ deviceId: r.deviceId, patient: r.patient, kind: r.kind, value: r.value, deviceSeq: r.deviceSeq, sentAt: r.sentAt, deviceTime: r.deviceTime, acked: r.acked, transport: 'hl7', ...(r.error ? { error: r.error } : {}) });
          stats.sent++;
          if (r.acked) {
            stats.acked++;
            stats.bySource.hl7!++;
          }
        },
      });
      monitors.push(m);
    }
  } catch (err) {
    stopping = true;
    await Promise.all(serialLoops);
    await Promise.all(monitors.map((m) => m.stop(0)));
    await Promise.all(devices.map((d) => d.stop()));
    await log.close();
    throw err;
  }
  for (const d of devices) d.start();
  for (const m of monitors) m.start();

  let final: Promise<SimStats> | null = null;
  const snapshot = (): SimStats => {
    const faults: Record<string, number> = {};
    for (const d of devices) for (const [k, n] of Object.entries(d.faultCounts)) faults[k] = (faults[k] ?? 0) + n;
    return { ...stats, bySource: { ...stats.bySource }, faults };
  };
  return {
    stats: snapshot,
    mqttConnections: () => ({ connected: devices.filter((d) => d.connected).length, devices: devices.length, reconnects: devices.reduce((n, d) => n + d.reconnects, 0) }),
    cutMqttConnections: () => {
      for (const d of devices) d.cut();
      return devices.length;
    },
    finished: async () => {
      await Promise.all(devices.map((d) => d.finished()));
    },
    stop: () =>
      (final ??= (async () => {
        stopping = true;
        await Promise.all(serialLoops);
        await Promise.all([...devices.map((d) => d.stop()), ...monitors.map((m) => m.stop())]);
        await log.close();
        return snapshot();
      })()),
  };
}
