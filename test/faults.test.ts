// Fault injection, one check per fault type, showing the gateway's reaction:
// MQTT faults from simulated devices over real TCP into the broker and the real journal; byte faults
// on serial streams into the real decoders. In every case: what was acknowledged is kept exactly
// once, what is invalid is refused and counted, and nothing crashes.
import t from 'tap';
import { startBroker } from '../gateway/ingest/broker';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';
import { SimulatedMqttDevice, type MqttSendResult } from '../device-sim/devices/mqtt-device';
import { FaultPlan, type FaultSpec } from '../device-sim/faults';
import { encodeDf7Packet } from '../device-sim/devices/nonin-df7-encoder';
import { encodeMasimoLine } from '../device-sim/devices/masimo-ascii-encoder';
import { encodeContecSecond } from '../device-sim/devices/contec-cms50d-encoder';
import { decoderFor } from '../gateway/ingest/decoders/serial-decoder';
import type { Reading } from '../protocol/reading';
import { testRuntime } from './gateway-runtime.helpers';

const creds = new DeviceCredentials([{ id: 'dev-1', patient: 'p-1', passwordHash: hashPassword('pw-dev-1') }]);

async function runDevice(t: { teardown(fn: () => unknown): void }, faults: FaultSpec[], total: number, maxRatePerS?: number) {
  const T = await testRuntime({ devices: creds, client: { submit: () => new Promise(() => undefined) } });
  t.teardown(() => T.close());
  const broker = await startBroker({ port: 0, credentials: creds, onReading: (topic, dev, p) => T.rt.ingestMqtt(topic, dev, p) });
  t.teardown(() => broker.close());
  const results: MqttSendResult[] = [];
  const dev = await SimulatedMqttDevice.connect({ url: `mqtt://127.0.0.1:${broker.port}`, deviceId: 'dev-1', password: 'pw-dev-1', patient: 'p-1', kind: 'heart_rate', ratePerS: 1, seed: 3, stream: { total, maxInflight: 10, maxRatePerS }, faults, onResult: (r) => results.push(r) });
  dev.start();
  await dev.finished();
  await new Promise((r) => setTimeout(r, 300)); // duplicate copies are fire-and-forget
  await dev.stop();
  const journaled = T.journal.unsealed(100_000).map((e) => e.reading);
  return { results, journaled, rt: T.rt, faults: dev.faultCounts };
}

const seqs = (rs: readonly Reading[]): number[] => rs.map((r) => r.deviceSeq);

t.test('mqtt drop: dropped readings are never sent; every acknowledged one is journaled', async (t) => {
  const { results, journaled, faults } = await runDevice(t, [{ type: 'drop', probability: 0.3 }], 40);
  const acked = results.filter((r) => r.acked);
  t.ok((faults.drop ?? 0) > 0, `${faults.drop} dropped`);
  t.equal(acked.length + (faults.drop ?? 0), 40);
  t.same(seqs(journaled).sort((a, b) => a - b), acked.map((r) => r.deviceSeq).sort((a, b) => a - b));
});

t.test('mqtt duplicate: each copy acknowledged, the reading journaled once', async (t) => {
  const { journaled, rt, faults } = await runDevice(t, [{ type: 'duplicate', probability: 0.5 }], 40);
  t.ok((faults.duplicate ?? 0) > 0);
  t.equal(journaled.length, 40, 'forty readings, no copies');
  t.equal(new Set(seqs(journaled)).size, 40);
  t.equal(rt.metrics.duplicatesDropped, faults.duplicate, 'every copy recognised and counted');
});

t.test('mqtt reorder: out-of-order readings are all kept', async (t) => {
  const { journaled, faults } = await runDevice(t, [{ type: 'reorder', probability: 0.3 }], 40);
  t.ok((faults.reorder ?? 0) > 0);
  t.equal(journaled.length, 40);
  const s = seqs(journaled);
  t.ok(s.some((x, i) => i > 0 && x < s[i - 1]!), 'the journal shows them in arrival order, not sequence order');
});

t.test('mqtt out-of-range: refused, counted, kept as dead letters, still acknowledged', async (t) => {
  const { results, journaled, rt, faults } = await runDevice(t, [{ type: 'out-of-range', probability: 0.3 }], 40);
  const bad = results.filter((r) => r.expect === 'refused');
  t.ok(bad.length > 0 && bad.length === faults['out-of-range']);
  t.ok(bad.every((r) => r.acked), 'acknowledged: sending them again would not make them valid');
  t.equal(rt.metrics.readingsRejected, bad.length);
  t.equal(journaled.length, 40 - bad.length);
  t.ok(journaled.every((r) => r.value <= 350));
});

t.test('mqtt clock skew and jumps: accepted with the device clock as sent', async (t) => {
  const { results, journaled } = await runDevice(t, [{ type: 'clock-skew', skewMs: -3_600_000 }, { type: 'clock-jump', probability: 0.2, skewMs: 600_000 }], 30);
  t.equal(journaled.length, 30);
  const sent = new Map(results.map((r) => [r.deviceSeq, r.deviceTime]));
  t.ok(journaled.every((r) => r.deviceTime === sent.get(r.deviceSeq)), 'deviceTime is what the device said');
  t.ok(results.every((r) => r.deviceTime < r.sentAt + 600_000 * 30), 'skewed');
  t.ok(journaled.some((r) => r.deviceTime! < r.receivedAt - 3_000_000), 'an hour behind the gateway clock');
});

t.test('mqtt disconnects: the connection is cut repeatedly; nothing acknowledged is lost or doubled', async (t) => {
  const { results, journaled, faults } = await runDevice(t, [{ type: 'disconnect', everyS: 1 }], 150, 50);
  t.ok((faults.disconnect ?? 0) >= 2, `${faults.disconnect} cuts`);
  t.equal(results.filter((r) => r.acked).length, 150);
  t.equal(journaled.length, 150);
  t.equal(new Set(seqs(journaled)).size, 150);
});

function feed(format: 'nonin-df7' | 'masimo-ascii', frames: Uint8Array[], faults: FaultSpec[]) {
  const plan = new FaultPlan(faults, 11);
  const dec = decoderFor(format, 'tty');
  const applied: string[][] = [];
  const events = [];
  for (const f of frames) {
    const { chunks, applied: a } = plan.bytes(f);
    applied.push(a);
    for (const c of chunks) events.push(...dec.push(c));
  }
  events.push(...dec.push(frames[0]!)); // one clean frame after the last, so a truncated tail is settled
  return { events, applied, counts: plan.counts };
}

const df7 = (i: number): Uint8Array => encodeDf7Packet({ spo2: 80 + (i % 20), pulseRate: 60 + i, pleth: Array(25).fill(20000) });
const masimo = (i: number): Uint8Array => encodeMasimoLine({ time: Date.UTC(2026, 0, 1, 0, 0, i), spo2: 80 + (i % 20), bpm: 60 + i, pi: 2.5, alarm: 0, exc: 0 });

for (const fault of ['drop', 'corrupt', 'truncate', 'burst', 'duplicate'] as const) {
  t.test(`serial ${fault}: every clean frame still decodes; damaged input is refused with a reason`, async (t) => {
    for (const [format, make] of [['nonin-df7', df7], ['masimo-ascii', masimo]] as const) {
      const frames = Array.from({ length: 60 }, (_, i) => make(i));
      const { events, applied, counts } = feed(format, frames, [{ type: fault, probability: 0.2 }]);
      t.ok((counts[fault] ?? 0) > 0, `${format}: ${counts[fault]} frames hit`);
      const pulses = new Set(events.flatMap((e) => (e.type === 'readings' ? e.values.filter((v) => v.kind === 'pulse_rate').map((v) => v.value) : [])));
      const clean = applied.map((a, i) => (a.length === 0 ? 60 + i : null)).filter((x): x is number => x !== null);
      t.ok(clean.every((p) => pulses.has(p)), `${format}: all ${clean.length} clean frames decoded`);
      const refusals = events.filter((e) => e.type === 'error');
      if (fault === 'corrupt' || fault === 'truncate' || fault === 'burst') {
        t.ok(refusals.length > 0 && refusals.every((e) => e.type === 'error' && /^tty /.test(e.reason)), `${format}: ${refusals.length} refusals, each naming the port`);
      }
      if (fault === 'drop') t.equal(refusals.length, 0, `${format}: a lost frame leaves no trace on the line (nothing to refuse)`);
    }
  });
}

// The Contec CMS50D+ stream has no checksum: only the sync bit and the value ranges tell a damaged
// frame. Removing bytes (drop, truncate) or repeating them can never invent a value; flipped bits and
// noise can, when they happen to form a well-shaped frame. The test shows both and counts the second.
t.test('serial faults on the Contec CMS50D+ stream (no checksum)', async (t) => {
  const seconds = Array.from({ length: 60 }, (_, i) => encodeContecSecond({ spo2: 90 + (i % 10), pulseRate: 60 + i, pleth: Array.from({ length: 75 }, (_, k) => Math.sin(k / 5)) }));
  const sentPulses = new Set(seconds.map((_, i) => 60 + i));
  for (const fault of ['drop', 'duplicate', 'truncate', 'corrupt', 'burst'] as const) {
    const plan = new FaultPlan([{ type: fault, probability: 0.2 }], 11);
    const dec = decoderFor('contec-cms50d', 'tty');
    const events = [];
    for (const s of seconds) for (const c of plan.bytes(s).chunks) events.push(...dec.push(c));
    const groups = events.filter((e) => e.type === 'readings');
    const pulses = groups.flatMap((e) => (e.type === 'readings' ? e.values.filter((v) => v.kind === 'pulse_rate').map((v) => v.value) : []));
    const forged = pulses.filter((p) => !sentPulses.has(p)).length;
    const refusals = events.filter((e) => e.type === 'error');
    t.ok((plan.counts[fault] ?? 0) > 0, `${fault}: ${plan.counts[fault]} seconds hit, ${groups.length} groups decoded, ${refusals.length} refusals`);
    t.ok(refusals.every((e) => e.type === 'error' && /^tty byte \d+: /.test(e.reason)), `${fault}: each refusal names the port and the byte`);
    if (fault === 'drop' || fault === 'duplicate' || fault === 'truncate') t.equal(forged, 0, `${fault}: every decoded pulse rate is one that was sent`);
    else t.comment(`${fault}: ${forged} of ${pulses.length} decoded pulse rates were forged by damage that kept a frame's shape (the format has no checksum)`);
    if (fault === 'truncate' || fault === 'corrupt' || fault === 'burst') t.ok(refusals.length > 0, `${fault}: damage refused`);
  }
});
