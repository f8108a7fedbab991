// Record and replay (serial, MQTT and HL7): the gateway's recording, the file parsers with errors that name their line,
// the progress line, and the round trip on real parts — a stack records what its simulated devices
// send, a second fresh stack replays the recording as fast as it can, and the same readings are
// anchored there.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Recorder } from '../gateway/ingest/recorder';
import { csvAsRecording, parseRecording, recordingDevices } from '../device-sim/recording';
import { readSendLog } from '../device-sim/send-log';
import { formatProgress } from '../cli/progress';
import { startStack } from '../cli/stack';

const tmp = (t: { teardown(f: () => void): void }, prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

t.test('the recorder: a header, one line per arrival, 0600, and a size limit with one warning', async (t) => {
  const file = join(tmp(t, 'mcps-rec-'), 'r.jsonl');
  const logs: string[] = [];
  let now = 1000;
  const r = new Recorder(file, { gatewayId: 'gw-1', maxBytes: 600, log: (l, m) => logs.push(`${l} ${m}`), now: () => now++ });
  r.serial({ format: 'nonin-df7', deviceId: 'oxi-1', patient: 'p-1', data: Uint8Array.of(0x81, 0, 1, 2, 0x84) });
  r.mqtt({ topic: 'mcps/devices/d-1/readings', deviceId: 'd-1', payload: Buffer.from('{"v":1}') });
  for (let i = 0; i < 20; i++) r.mqtt({ topic: 'mcps/devices/d-1/readings', deviceId: 'd-1', payload: Buffer.from(`{"v":1,"seq":${i}}`) });
  await r.close();
  t.equal(statSync(file).mode & 0o777, 0o600);
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(lines[0], { mcpsRecording: 1, gatewayId: 'gw-1', startedAt: 1000 });
  t.same(lines[1], { t: 1001, src: 'serial', format: 'nonin-df7', deviceId: 'oxi-1', patient: 'p-1', data: Buffer.from([0x81, 0, 1, 2, 0x84]).toString('base64') });
  t.ok(readFileSync(file).length <= 600, 'stops at its limit');
  t.equal(logs.filter((l) => /reached its limit/.test(l)).length, 1, 'one warning');
  const parsed = parseRecording(readFileSync(file, 'utf8'), file);
  t.equal(parsed.gatewayId, 'gw-1');
  t.same(recordingDevices(parsed), { mqtt: [{ deviceId: 'd-1', patient: 'p-unknown', kind: 'heart_rate' }], serial: [{ deviceId: 'oxi-1', patient: 'p-1', format: 'nonin-df7' }], hl7: [] });
});

t.test('recordings and CSV series: every problem names the file, the line and the field', async (t) => {
  t.throws(() => parseRecording('{"mcpsRecording":1}\n{"t":1,"src":"serial","format":"foo","deviceId":"a","patient":"p","data":""}\nnope\n{"t":-1,"src":"mqtt"}\n', 'r.jsonl'), {
    message: /r\.jsonl: 3 problems:\n  r\.jsonl:2: "format" "foo" is not one of nonin-df7, masimo-ascii, contec-cms50d\n  r\.jsonl:3: not JSON .*\n  r\.jsonl:4: "t" must be a time/,
  });
  t.throws(() => parseRecording('{"mcpsRecording":2}\n', 'r.jsonl'), { message: /mcpsRecording 2: this version reads 1/ });
  t.throws(() => parseRecording('', 'e.jsonl'), { message: /e\.jsonl: no recorded entries/ });
  const two = ['a', 'b'].map((d, i) => JSON.stringify({ t: i, src: 'serial', format: 'nonin-df7', deviceId: d, patient: 'p', data: '' })).join('\n');
  t.throws(() => parseRecording(two, 'x'), { message: /two nonin-df7 devices \(a, b\)/ });

  const csv = csvAsRecording('time,value\n0,70\n0.5,71\n1.5,72\n', 's.csv', { deviceId: 'hr-1', patient: 'p-1', kind: 'heart_rate' }, 5_000);
  t.same(csv.entries.map((e) => e.t), [5_000, 5_500, 6_500], 'seconds from the start, from now');
  t.same(JSON.parse((csv.entries[1] as { payload: string }).payload), { v: 1, deviceId: 'hr-1', patient: 'p-1', seq: 2, kind: 'heart_rate', value: 71, unit: '/min', time: 5_500 });
  const iso = csvAsRecording('when;hr\n2026-11-25T10:00:00Z;60\n2026-11-25T10:00:01Z;61\n', 'i.csv', { deviceId: 'hr-1', patient: 'p-1', kind: 'heart_rate', timeColumn: 'when', valueColumn: 'hr' }, 0);
  t.same(iso.entries.map((e) => e.t), [Date.UTC(2026, 10, 25, 10), Date.UTC(2026, 10, 25, 10, 0, 1)], 'ISO times, another delimiter, named columns');
  t.throws(() => csvAsRecording('t,v\n1,2\n', 'c.csv', { deviceId: 'hr-1', patient: 'p', kind: 'spo2' }), { message: /c\.csv: no "time" column \(columns: t, v\)/ });
  t.throws(() => csvAsRecording('time,value\n1,70\nx,71\n2,abc\n', 'b.csv', { deviceId: 'hr-1', patient: 'p', kind: 'spo2' }), { message: /b\.csv:3: time "x" is not a time[^\n]*\n  b\.csv:4: value "abc" is not a number/ });
  t.throws(() => csvAsRecording('time,value\n2,70\n1,71\n', 'o.csv', { deviceId: 'hr-1', patient: 'p', kind: 'spo2' }), { message: /o\.csv:3: time goes backwards/ });
});

t.test('the progress line: bar, count, rate, time left; no bar in plain logs', async (t) => {
  t.equal(formatProgress({ done: 250, total: 1000, startedAt: 0 }, 10_000, true), '[#####---------------] 250/1,000 25% 25/s ETA 0:30');
  t.equal(formatProgress({ done: 250, total: 1000, startedAt: 0 }, 10_000, false), 'replayed 250/1,000 25% 25/s ETA 0:30');
  t.equal(formatProgress({ done: 0, total: 10, startedAt: 0 }, 1000, false), 'replayed 0/10 0% 0.0/s ETA --:--');
  t.match(formatProgress({ done: 1, total: 100_000, startedAt: 0 }, 1000, false), /ETA 27:46:39$/);
});

t.test('round trip on real parts: record a run, replay it into a fresh stack, the same readings are anchored', async (t) => {
  const dir = tmp(t, 'mcps-replay-');
  const recording = join(dir, 'ward.jsonl');
  const scenario = {
    name: 'replay test',
    seed: 3,
    devices: [
      { transport: 'serial' as const, format: 'nonin-df7' as const, idPrefix: 'oxi-bed', first: 1, patientPrefix: 'p-' },
      { transport: 'serial' as const, format: 'masimo-ascii' as const, idPrefix: 'oxi-bed', first: 2, patientPrefix: 'p-' },
      { transport: 'serial' as const, format: 'contec-cms50d' as const, idPrefix: 'oxi-bed', first: 3, patientPrefix: 'p-' },
      { transport: 'mqtt' as const, kind: 'heart_rate' as const, count: 3, ratePerS: 4, idPrefix: 'ecg-bed', patientPrefix: 'p-' },
      { transport: 'hl7' as const, first: 5, ratePerS: 2, idPrefix: 'mon-bed', patientPrefix: 'p-' },
    ],
  };
  const first = await startStack({ data: join(dir, 'a'), editorPort: 0, mqttPort: 0, nodePort: 0, scenario, gateway: { record: { path: recording } } });
  t.teardown(() => first.stop());
  await new Promise((r) => setTimeout(r, 5000));
  const a = await first.drain();
  const reportA = await first.verify();
  await first.stop();
  t.match(reportA, { missing: 0, duplicates: 0 });
  const sentA = readSendLog(first.sendLogPath).filter((e) => e.acked);

  const rec = parseRecording(readFileSync(recording, 'utf8'), recording);
  const devs = recordingDevices(rec);
  t.same(devs.serial.map((d) => d.format).sort(), ['contec-cms50d', 'masimo-ascii', 'nonin-df7'], 'all three serial ports recorded');
  t.same(devs.mqtt.map((d) => `${d.deviceId}/${d.patient}`).sort(), ['ecg-bed0001/p-0001', 'ecg-bed0002/p-0002', 'ecg-bed0003/p-0003']);
  t.same(devs.hl7, [{ deviceId: 'mon-bed0005', patient: 'p-0005' }], 'the HL7 monitor recorded');

  const second = await startStack({ data: join(dir, 'b'), editorPort: 0, mqttPort: 0, nodePort: 0, replay: { recording: rec, speed: 'max' } });
  t.teardown(() => second.stop());
  await second.simFinished();
  const b = await second.drain();
  const reportB = await second.verify();
  t.match(reportB, { missing: 0, duplicates: 0, proofFailures: 0 });
  t.equal(b.sim.progress?.done, rec.entries.length, 'every recorded entry played');
  t.equal(b.gateway.readingsIn, a.gateway.readingsIn, 'the replayed stack received as many readings as the recorded one');
  const key = (e: { deviceId: string; kind: string; deviceSeq: number; value: number }): string => `${e.deviceId}/${e.kind}/${e.deviceSeq}/${e.value}`;
  const sentB = readSendLog(second.sendLogPath).filter((e) => e.acked);
  t.same(sentB.map(key).sort(), sentA.map(key).sort(), 'the same readings, value for value');
});
