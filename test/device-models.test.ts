// The device models beyond one vital sign: an NIBP cycle, a glucose meter used now and then, an
// infusion pump with its alarms, and an ECG monitor with a 250 Hz lead — each checked for what a
// clinician or a decoder would look for, and deterministic from the seed.
import t from 'tap';
import { makeDeviceModel, ECG_FS, type ModelStep } from '../device-sim/device-models';

const run = (m: ReturnType<typeof makeDeviceModel>, seconds: number): Array<ModelStep & { t: number }> => {
  const out: Array<ModelStep & { t: number }> = [];
  for (let i = 0; i * m.tickS <= seconds; i++) out.push({ t: i * m.tickS, ...m.step(i * m.tickS) });
  return out;
};

t.test('NIBP: a measurement per cycle, three values with one time, the mean from the pulse pressure', async (t) => {
  const steps = run(makeDeviceModel('nibp', 3, 'normal', { cycleS: 60 }), 600).filter((s) => s.readings.length > 0);
  t.ok(steps.length >= 9 && steps.length <= 11, `${steps.length} measurements in 10 minutes`);
  t.same(steps.slice(0, 3).map((s) => s.t), [0, 60, 120], 'on the cycle, the first at start');
  for (const s of steps) {
    const [sys, dia, mean] = s.readings.map((r) => r.value) as [number, number, number];
    t.same(s.readings.map((r) => r.kind), ['nibp_systolic', 'nibp_diastolic', 'nibp_mean']);
    if (!(sys > dia && mean === Math.round(dia + (sys - dia) / 3) && sys >= 100 && sys <= 145)) t.fail(`implausible ${sys}/${dia} (${mean})`);
  }
  const hypo = run(makeDeviceModel('nibp', 3, 'hypotension', { cycleS: 60 }), 600).flatMap((s) => s.readings.filter((r) => r.kind === 'nibp_systolic').map((r) => r.value));
  t.ok(hypo.every((v) => v < 100), `hypotension: systolic ${Math.min(...hypo)}–${Math.max(...hypo)}`);
});

t.test('glucose: sporadic, exponentially spaced around the mean interval', async (t) => {
  const steps = run(makeDeviceModel('glucose', 4, 'normal', { meanIntervalS: 100 }), 100_000).filter((s) => s.readings.length > 0);
  t.ok(steps.length > 850 && steps.length < 1150, `${steps.length} readings in 100,000 s at a mean of 100 s`);
  const gaps = steps.slice(1).map((s, i) => s.t - steps[i]!.t);
  t.ok(gaps.filter((g) => g < 20).length > 100, 'short gaps happen (not a fixed schedule)');
  t.ok(steps.every((s) => s.readings[0]!.value > 60 && s.readings[0]!.value < 200), 'mg/dL in a plausible range');
});

t.test('pump: volume follows the rate, occlusions stop it for a minute with raised and cleared alarms, it stops at the VTBI', async (t) => {
  const steps = run(makeDeviceModel('pump', 5, 'normal', { rateMlH: 360, reportS: 10, vtbiMl: 100, occlusionsPerHour: 20 }), 2400);
  const vol = steps.flatMap((s) => s.readings.filter((r) => r.kind === 'volume_infused').map((r) => ({ t: s.t, v: r.value })));
  t.ok(vol.every((x, i) => i === 0 || x.v >= vol[i - 1]!.v), 'volume never goes back');
  t.equal(vol.at(-1)!.v, 100, 'stops at the volume to be infused');
  const alarms = steps.flatMap((s) => s.events.filter((e) => e.topic === 'alarms').map((e) => ({ t: s.t, ...(e.body as { alarm: string; active: boolean }) })));
  const raised = alarms.filter((a) => a.alarm === 'occlusion' && a.active);
  const cleared = alarms.filter((a) => a.alarm === 'occlusion' && !a.active);
  t.ok(raised.length >= 1, `${raised.length} occlusions`);
  t.ok(cleared.length >= raised.length - 1, 'each occlusion cleared (the last may still be on)');
  t.ok(raised.every((r, i) => cleared[i] === undefined || Math.round(cleared[i]!.t - r.t) === 60), 'cleared after a minute');
  const during = steps.filter((s) => raised.some((r) => s.t > r.t && s.t < r.t + 59)).flatMap((s) => s.readings.filter((r) => r.kind === 'infusion_rate'));
  t.ok(during.every((r) => r.value === 0), 'rate 0 while occluded');
  t.match(alarms.at(-1), { alarm: 'infusion complete', active: true });
  const done = vol.find((x) => x.v === 100)!.t;
  t.ok(done >= 1000 + raised.length * 60 - 10, `complete after ${done} s: 1000 s of infusing plus a minute per occlusion`);
});

t.test('ECG: lead II at 250 Hz in packets of 25, one R wave per beat at the reported heart rate', async (t) => {
  const m = makeDeviceModel('ecg', 6, 'normal');
  const steps = run(m, 60);
  const packets = steps.flatMap((s) => s.events.filter((e) => e.topic === 'waveform').map((e) => e.body as { samples: number[]; fs: number; lead: string; packet: number }));
  const samples = packets.flatMap((p) => p.samples);
  t.equal(packets[0]!.fs, ECG_FS);
  t.equal(packets[0]!.lead, 'II');
  t.ok(packets.every((p) => p.samples.length === 25));
  t.equal(samples.length, 25 * packets.length);
  t.same(packets.map((p) => p.packet), packets.map((_, i) => i + 1), 'packets numbered without gaps');
  let r = 0;
  for (let i = 1; i < samples.length - 1; i++) if (samples[i]! > 0.6 && samples[i]! >= samples[i - 1]! && samples[i]! > samples[i + 1]!) r++;
  const hr = steps.flatMap((s) => s.readings.filter((x) => x.kind === 'heart_rate').map((x) => x.value));
  const mean = hr.reduce((a, b) => a + b, 0) / hr.length;
  t.ok(Math.abs(r - mean) <= 4, `${r} R waves in a minute at a mean heart rate of ${mean.toFixed(1)}/min`);
  t.ok(Math.max(...samples) < 2 && Math.min(...samples) > -1, 'millivolt range');
  const again = run(makeDeviceModel('ecg', 6, 'normal'), 5).flatMap((s) => s.events.flatMap((e) => (e.body as { samples: number[] }).samples));
  t.same(again, samples.slice(0, again.length), 'the same seed, the same trace');
});
