// The ward view's state, with the clock injected: beds by patient, latest values and trends in
// buckets, device status online → stale → offline from each device's own interval (and its last
// will), NEWS2 escalation alarms that clear when the value recovers, pump occlusion events, and
// refused input remembered for a while.
import t from 'tap';
import { READING_KINDS, type Reading, type ReadingKind } from '../protocol/reading';
import { WardState } from '../gateway/ward-view/ward-state';

const T = 1_764_000_000_000;
const r = (deviceId: string, patient: string, kind: ReadingKind, value: number): Reading => {
  const k = READING_KINDS[kind];
  return { deviceId, patient, kind, mdc: k.mdc, loinc: k.loinc, value, unit: k.unit, deviceTime: null, receivedAt: 0, deviceSeq: 0, source: 'mqtt' };
};

t.test('beds, values, trend and device status', async (t) => {
  const w = new WardState({ trendWindowMs: 60_000, trendBucketMs: 10_000, offlineAfterMs: 30_000 });
  w.register('temp-bed0003', 'p-0003');
  for (let s = 0; s < 30; s++) {
    w.reading(r('spo2-bed0010', 'p-0010', 'spo2', 96 + (s % 3)), T + s * 1000);
    w.reading(r('ecg-bed0002', 'p-0002', 'heart_rate', 70), T + s * 1000);
  }
  let snap = w.snapshot(T + 29_000);
  t.same(snap.beds.map((b) => b.patient), ['p-0002', 'p-0003', 'p-0010'], 'beds in natural order, a registered one before it sends');
  const b10 = snap.beds[2];
  t.same(b10.vitals.map((v) => [v.kind, v.value]), [['spo2', 98]], 'the latest value');
  t.equal(b10.trends[0].points.length, 6);
  t.same(b10.trends[0].points.slice(-3), [97, 97, 97], 'bucket means');
  t.equal(b10.devices[0].status, 'online');
  t.equal(b10.devices[0].intervalMs, 1000, 'the device interval learned from its frames');
  t.equal(snap.beds[1].status, 'offline', 'registered, never sent: offline');
  t.same(snap.counts.devices, { online: 2, stale: 0, offline: 1 });

  snap = w.snapshot(T + 29_000 + 5_000);
  t.equal(snap.beds[2].devices[0].status, 'stale', 'silent for longer than its interval');
  snap = w.snapshot(T + 29_000 + 31_000);
  t.equal(snap.beds[2].devices[0].status, 'offline', 'silent past the offline limit');
  t.same(snap.beds[2].trends[0].points.filter((p) => p !== null).length, 2, 'the trend window moves on: the first bucket fell out');

  w.reading(r('ecg-bed0002', 'p-0002', 'heart_rate', 71), T + 61_000);
  w.deviceAnnounced('ecg-bed0002', false);
  t.equal(w.snapshot(T + 61_500).beds[0].devices[0].status, 'offline', 'its last will says offline');
  w.reading(r('ecg-bed0002', 'p-0002', 'heart_rate', 71), T + 62_000);
  t.equal(w.snapshot(T + 62_000).beds[0].devices[0].status, 'online', 'and data brings it back');
});

t.test('alarms: NEWS2 bands while they last, occlusion events, refusals for a while', async (t) => {
  const w = new WardState({ refusalMemoryMs: 10_000 });
  w.reading(r('spo2-bed0003', 'p-0003', 'spo2', 95), T);
  t.same(w.snapshot(T).beds[0].alarms, []);
  w.reading(r('spo2-bed0003', 'p-0003', 'spo2', 89), T + 1000);
  w.reading(r('spo2-bed0003', 'p-0003', 'spo2', 88), T + 2000);
  let a = w.snapshot(T + 2000).beds[0].alarms;
  t.equal(a.length, 1);
  t.match(a[0], { key: 'spo2:low', severity: 'high', since: T + 1000 });
  t.match(a[0].text, /desaturation: SpO₂ 88 %/);
  t.equal(w.snapshot(T + 2000).beds[0].vitals[0].alarm, true);
  w.reading(r('spo2-bed0003', 'p-0003', 'spo2', 94), T + 3000);
  t.same(w.snapshot(T + 3000).beds[0].alarms, [], 'cleared when the value recovers');
  w.reading(r('pr-bed0004', 'p-0004', 'pulse_rate', 140), T);
  t.match(w.snapshot(T).beds[1].alarms[0].text, /tachycardia/);

  w.reading(r('pump-bed0003', 'p-0003', 'infusion_rate', 50), T + 3000);
  w.deviceAlarm('pump-bed0003', 'p-0003', 'occlusion', true, T + 4000);
  a = w.snapshot(T + 4000).beds[0].alarms;
  t.same(a.map((x) => x.text), ['occlusion (pump-bed0003)']);
  w.deviceAlarm('pump-bed0003', 'p-0003', 'occlusion', false, T + 5000);
  t.same(w.snapshot(T + 5000).beds[0].alarms, []);

  w.refused('spo2-bed0003', 'spo2 value 120 outside 0..100 %', T + 6000);
  a = w.snapshot(T + 6000).beds[0].alarms;
  t.match(a, [{ severity: 'medium', text: /1 refused from spo2-bed0003: spo2 value 120 outside/ }]);
  t.same(w.snapshot(T + 17_000).beds[0].alarms, [], 'forgotten after the memory');
  w.refused('unknown-device', 'x', T);
  t.equal(w.snapshot(T + 17_000).counts.beds, 2, 'a refusal from an unknown device makes no bed');
});

t.test('a device moved to another patient moves beds; unregistered devices go', async (t) => {
  const w = new WardState();
  w.reading(r('d1', 'p-1', 'spo2', 97), T);
  w.reading(r('d1', 'p-2', 'spo2', 97), T + 1000);
  t.same(w.snapshot(T + 1000).beds.map((b) => [b.patient, b.devices.map((d) => d.id)]), [['p-1', []], ['p-2', ['d1']]]);
  w.register('d9', 'p-9');
  w.unregister('d9');
  t.notOk(w.snapshot(T + 1000).beds.some((b) => b.patient === 'p-9'));
});

t.test('refusals are put on the device their source names', async (t) => {
  const { refusedDevice } = require('../gateway/ward-view/ward-view') as typeof import('../gateway/ward-view/ward-view');
  t.equal(refusedDevice('mqtt:mcps/devices/spo2-bed0003/readings'), 'spo2-bed0003');
  t.equal(refusedDevice('decode:mcps/devices/temp-bed0001/readings'), 'temp-bed0001');
  t.equal(refusedDevice('hl7:127.0.0.1:2575 mon-bed0009'), 'mon-bed0009');
  t.equal(refusedDevice('hl7:127.0.0.1:2575'), undefined, 'a frame that named no device');
  t.equal(refusedDevice('serial:/dev/ttyUSB0'), undefined);
});
