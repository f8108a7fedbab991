/**
 * What the ward view shows, kept up to date at O(1) per reading so that watching never slows ingest:
 * per bed (a patient pseudonym) the latest value of every kind, a trend of the last minutes in
 * fixed buckets, the devices with their status (online, stale — silent for longer than the interval
 * they usually send at —, offline), and active alarms: NEWS2 escalation bands (desaturation, brady- or
 * tachycardia, ...), device alarm events (pump occlusion) and refused input (out-of-range values).
 * No I/O and no clock of its own: every call takes `now` (ms), so it is tested like protocol/.
 */
import { READING_KINDS, type Reading, type ReadingKind, type ReadingSource } from '../../protocol/reading';

export type DeviceStatus = 'online' | 'stale' | 'offline';

export interface WardOptions {
  /** How far back the trend goes (default 5 min). */
  readonly trendWindowMs?: number;
  /** One trend point per bucket: the mean of its readings (default 5 s). */
  readonly trendBucketMs?: number;
  /** A device silent this long (or ten of its intervals, whichever is longer) is offline (default 60 s). */
  readonly offlineAfterMs?: number;
  /** Refused input counts as an alarm this long after it arrived (default 5 min). */
  readonly refusalMemoryMs?: number;
  /** Beyond this many devices new ones are not tracked (counted in `untracked`). */
  readonly maxDevices?: number;
}

export interface Alarm {
  readonly key: string;
  readonly text: string;
  readonly since: number;
  readonly severity: 'high' | 'medium';
  readonly deviceId?: string;
}

interface Band {
  readonly low?: number;
  readonly high?: number;
  readonly lowText: string;
  readonly highText: string;
}

/** NEWS2 escalation (3-point) bands: a value at or beyond them raises an alarm while it lasts. */
export const ALARM_BANDS: Partial<Record<ReadingKind, Band>> = {
  spo2: { low: 91, lowText: 'desaturation', highText: '' },
  pulse_rate: { low: 40, high: 131, lowText: 'bradycardia', highText: 'tachycardia' },
  heart_rate: { low: 40, high: 131, lowText: 'bradycardia', highText: 'tachycardia' },
  resp_rate: { low: 8, high: 25, lowText: 'bradypnoea', highText: 'tachypnoea' },
  nibp_systolic: { low: 90, lowText: 'hypotension', highText: '' },
  body_temp: { low: 35, lowText: 'hypothermia', highText: '' },
};

export const KIND_LABEL: Record<ReadingKind, string> = {
  spo2: 'SpO₂',
  pulse_rate: 'Pulse',
  heart_rate: 'HR',
  resp_rate: 'RR',
  body_temp: 'Temp',
  nibp_systolic: 'NIBP sys',
  nibp_diastolic: 'NIBP dia',
  nibp_mean: 'NIBP mean',
  glucose: 'Glucose',
  perfusion_index: 'PI',
  infusion_rate: 'Rate',
  volume_infused: 'Infused',
};

/** Which kinds a tile draws a trend for, first two present. */
const TREND_PRIORITY: ReadingKind[] = ['spo2', 'heart_rate', 'pulse_rate', 'resp_rate', 'nibp_systolic', 'body_temp', 'infusion_rate', 'glucose', 'perfusion_index', 'volume_infused', 'nibp_diastolic', 'nibp_mean'];

class Trend {
  readonly sums: Float64Array;
  readonly counts: Uint32Array;
  readonly tags: Float64Array;
  constructor(readonly n: number, readonly bucketMs: number) {
    this.sums = new Float64Array(n);
    this.counts = new Uint32Array(n);
    this.tags = new Float64Array(n).fill(-1);
  }
  add(at: number, v: number): void {
    const b = Math.floor(at / this.bucketMs);
    const i = b % this.n;
    if (this.tags[i] !== b) {
      this.tags[i] = b;
      this.sums[i] = 0;
      this.counts[i] = 0;
    }
    this.sums[i] += v;
    this.counts[i]++;
  }
  /** The last n buckets up to `now`, oldest first; null where nothing arrived. */
  points(now: number, decimals: number): (number | null)[] {
    const last = Math.floor(now / this.bucketMs);
    const out: (number | null)[] = [];
    const f = 10 ** decimals;
    for (let b = last - this.n + 1; b <= last; b++) {
      const i = ((b % this.n) + this.n) % this.n;
      out.push(this.tags[i] === b && this.counts[i] > 0 ? Math.round((this.sums[i] / this.counts[i]) * f) / f : null);
    }
    return out;
  }
}

interface KindState {
  value: number;
  at: number;
  deviceTime: number | null;
  deviceId: string;
  trend: Trend;
  alarm: Alarm | null;
}

interface DeviceState {
  readonly id: string;
  patient: string;
  source: ReadingSource | 'registered';
  lastSeen: number | null;
  lastFrameAt: number;
  intervalMs: number | null;
  announced: 'online' | 'offline' | null;
  readonly alarms: Map<string, Alarm>;
  refusals: { at: number; reason: string }[];
}

interface BedState {
  readonly patient: string;
  readonly devices: Set<string>;
  readonly kinds: Map<ReadingKind, KindState>;
}

export interface BedSnapshot {
  readonly patient: string;
  readonly status: DeviceStatus;
  readonly devices: { id: string; status: DeviceStatus; source: string; lastSeen: number | null; intervalMs: number | null }[];
  readonly vitals: { kind: ReadingKind; label: string; value: number; unit: string; at: number; alarm: boolean }[];
  readonly trends: { kind: ReadingKind; label: string; unit: string; points: (number | null)[] }[];
  readonly alarms: Alarm[];
}

export interface WardSnapshot {
  readonly at: number;
  readonly trendBucketMs: number;
  readonly beds: BedSnapshot[];
  readonly counts: { beds: number; devices: Record<DeviceStatus, number>; alarms: number; untracked: number };
}

const decimalsOf = (k: ReadingKind): number => (k === 'body_temp' || k === 'perfusion_index' || k === 'infusion_rate' || k === 'volume_infused' ? 1 : 0);
const rank: Record<DeviceStatus, number> = { online: 0, stale: 1, offline: 2 };

export class WardState {
  private readonly beds = new Map<string, BedState>();
  private readonly devices = new Map<string, DeviceState>();
  private readonly trendN: number;
  readonly trendBucketMs: number;
  private readonly offlineAfterMs: number;
  private readonly refusalMemoryMs: number;
  private readonly maxDevices: number;
  private untracked = 0;

  constructor(o: WardOptions = {}) {
    this.trendBucketMs = o.trendBucketMs ?? 5_000;
    this.trendN = Math.max(2, Math.round((o.trendWindowMs ?? 5 * 60_000) / this.trendBucketMs));
    this.offlineAfterMs = o.offlineAfterMs ?? 60_000;
    this.refusalMemoryMs = o.refusalMemoryMs ?? 5 * 60_000;
    this.maxDevices = o.maxDevices ?? 5_000;
  }

  private bed(patient: string): BedState {
    let b = this.beds.get(patient);
    if (!b) {
      b = { patient, devices: new Set(), kinds: new Map() };
      this.beds.set(patient, b);
    }
    return b;
  }

  private device(id: string, patient: string, source: DeviceState['source']): DeviceState | null {
    let d = this.devices.get(id);
    if (!d) {
      if (this.devices.size >= this.maxDevices) {
        this.untracked++;
        return null;
      }
      d = { id, patient, source, lastSeen: null, lastFrameAt: 0, intervalMs: null, announced: null, alarms: new Map(), refusals: [] };
      this.devices.set(id, d);
      this.bed(patient).devices.add(id);
    } else if (d.patient !== patient) {
      this.beds.get(d.patient)?.devices.delete(id);
      d.patient = patient;
      this.bed(patient).devices.add(id);
    }
    return d;
  }

  /** A device the gateway accepts (devices.json), so its bed shows before it sends anything. */
  register(id: string, patient: string): void {
    this.device(id, patient, 'registered');
  }

  /** A device no longer registered: its tile goes (readings already shown stay until restart of the view). */
  unregister(id: string): void {
    const d = this.devices.get(id);
    if (!d) return;
    this.devices.delete(id);
    const b = this.beds.get(d.patient);
    b?.devices.delete(id);
    if (b && b.devices.size === 0) this.beds.delete(d.patient);
  }

  /** An accepted reading, at gateway time `now`. */
  reading(r: Reading, now: number): void {
    const d = this.device(r.deviceId, r.patient, r.source);
    if (!d) return;
    d.source = r.source;
    if (d.announced === 'offline') d.announced = null;
    // Readings of one frame arrive together: the interval is between frames.
    if (now - d.lastFrameAt > 200) {
      if (d.lastFrameAt > 0) {
        const gap = now - d.lastFrameAt;
        d.intervalMs = d.intervalMs === null ? gap : Math.round(d.intervalMs * 0.8 + gap * 0.2);
      }
      d.lastFrameAt = now;
    }
    d.lastSeen = now;
    const bed = this.bed(r.patient);
    let k = bed.kinds.get(r.kind);
    if (!k) {
      k = { value: r.value, at: now, deviceTime: r.deviceTime, deviceId: r.deviceId, trend: new Trend(this.trendN, this.trendBucketMs), alarm: null };
      bed.kinds.set(r.kind, k);
    }
    k.value = r.value;
    k.at = now;
    k.deviceTime = r.deviceTime;
    k.deviceId = r.deviceId;
    k.trend.add(now, r.value);
    const band = ALARM_BANDS[r.kind];
    if (band) {
      const low = band.low !== undefined && r.value <= band.low;
      const high = band.high !== undefined && r.value >= band.high;
      if (low || high) {
        const text = `${low ? band.lowText : band.highText}: ${KIND_LABEL[r.kind]} ${r.value} ${READING_KINDS[r.kind].unit}`;
        k.alarm = { key: `${r.kind}:${low ? 'low' : 'high'}`, text, since: k.alarm?.key === `${r.kind}:${low ? 'low' : 'high'}` ? k.alarm.since : now, severity: 'high', deviceId: r.deviceId };
      } else k.alarm = null;
    }
  }

  /** An alarm event a device published (e.g. {"alarm": "occlusion", "active": true} from a pump). */
  deviceAlarm(deviceId: string, patient: string, alarm: string, active: boolean, now: number): void {
    const d = this.device(deviceId, patient, this.devices.get(deviceId)?.source ?? 'mqtt');
    if (!d) return;
    const key = `device:${alarm}`;
    if (active) {
      if (!d.alarms.has(key)) d.alarms.set(key, { key, text: `${alarm} (${deviceId})`, since: now, severity: 'high', deviceId });
    } else d.alarms.delete(key);
  }

  /** What a device announced on its status topic (its last will says offline). */
  deviceAnnounced(deviceId: string, online: boolean): void {
    const d = this.devices.get(deviceId);
    if (d) d.announced = online ? 'online' : 'offline';
  }

  /** Input refused from a device (out of range, wrong unit, ...). */
  refused(deviceId: string, reason: string, now: number): void {
    const d = this.devices.get(deviceId);
    if (!d) return;
    d.refusals.push({ at: now, reason });
    if (d.refusals.length > 20) d.refusals.shift();
  }

  statusOf(d: DeviceState, now: number): DeviceStatus {
    if (d.announced === 'offline' || d.lastSeen === null) return 'offline';
    const since = now - d.lastSeen;
    const interval = d.intervalMs ?? 1_000;
    if (since <= Math.max(interval * 2.5, interval + 2_000)) return 'online';
    if (since <= Math.max(this.offlineAfterMs, interval * 10)) return 'stale';
    return 'offline';
  }

  snapshot(now: number): WardSnapshot {
    const beds: BedSnapshot[] = [];
    const deviceCounts: Record<DeviceStatus, number> = { online: 0, stale: 0, offline: 0 };
    let alarmCount = 0;
    const patients = [...this.beds.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    for (const p of patients) {
      const bed = this.beds.get(p)!;
      const devices = [...bed.devices].sort().map((id) => this.devices.get(id)!).filter(Boolean);
      if (devices.length === 0 && bed.kinds.size === 0) continue;
      const devSnaps = devices.map((d) => ({ id: d.id, status: this.statusOf(d, now), source: d.source, lastSeen: d.lastSeen, intervalMs: d.intervalMs }));
      for (const d of devSnaps) deviceCounts[d.status]++;
      const alarms: Alarm[] = [];
      const vitals: BedSnapshot['vitals'] = [];
      for (const kind of Object.keys(READING_KINDS) as ReadingKind[]) {
        const k = bed.kinds.get(kind);
        if (!k) continue;
        // A value from a device that went silent is not current: no alarm from it, shown as stale by the page.
        const live = devSnaps.find((d) => d.id === k.deviceId)?.status !== 'offline';
        vitals.push({ kind, label: KIND_LABEL[kind], value: k.value, unit: READING_KINDS[kind].unit, at: k.at, alarm: !!(k.alarm && live) });
        if (k.alarm && live) alarms.push(k.alarm);
      }
      for (const d of devices) {
        alarms.push(...d.alarms.values());
        const recent = d.refusals.filter((x) => now - x.at <= this.refusalMemoryMs);
        d.refusals = recent;
        if (recent.length) alarms.push({ key: `refused:${d.id}`, text: `${recent.length} refused from ${d.id}: ${recent[recent.length - 1].reason}`, since: recent[0].at, severity: 'medium', deviceId: d.id });
      }
      alarmCount += alarms.length;
      const trends = TREND_PRIORITY.filter((k) => bed.kinds.has(k))
        .slice(0, 2)
        .map((kind) => ({ kind, label: KIND_LABEL[kind], unit: READING_KINDS[kind].unit, points: bed.kinds.get(kind)!.trend.points(now, decimalsOf(kind)) }));
      const status = devSnaps.reduce<DeviceStatus>((worst, d) => (rank[d.status] > rank[worst] ? d.status : worst), 'online');
      beds.push({ patient: p, status: devSnaps.length ? status : 'offline', devices: devSnaps, vitals, trends, alarms });
    }
    return { at: now, trendBucketMs: this.trendBucketMs, beds, counts: { beds: beds.length, devices: deviceCounts, alarms: alarmCount, untracked: this.untracked } };
  }
}
