// Scenario files: the ready-made ones load; errors name their place; devices expand as documented;
// the physiology follows the named clinical scenario, deterministically from the seed.
import t from 'tap';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { expandScenario, loadScenario, parseScenario } from '../device-sim/scenario';
import { VitalSigns } from '../device-sim/physiology';
import { SeededRandom } from '../device-sim/random';

const dir = join(__dirname, '..', '..', 'device-sim', 'scenarios');

t.test('the ready-made scenarios load', async (t) => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  t.same(files, ['faults.json', 'one-bed.json', 'stress-1000.json', 'ward-20.json']);
  const sizes = files.map((f) => expandScenario(loadScenario(join(dir, f))).length);
  t.same(sizes, [8, 7, 1000, 89]);
  const ward = expandScenario(loadScenario(join(dir, 'ward-20.json')));
  t.same(ward.filter((d) => d.patient === 'p-0003').map((d) => `${d.deviceId}:${d.kind ?? d.format}:${d.scenario}`), ['ecg-bed0003:heart_rate:normal', 'spo2-bed0003:spo2:desaturation', 'resp-bed0003:resp_rate:normal', 'temp-bed0003:body_temp:normal'], 'the same index in different groups is the same bed');
});

t.test('errors name their place', async (t) => {
  const bad = (x: unknown): string => {
    try {
      parseScenario(x, 'f.json');
      return 'accepted';
    } catch (err) {
      return (err as Error).message;
    }
  };
  t.match(bad({ name: 'x', seed: 1, devices: [] }), /f\.json: \/devices must NOT have fewer than 1 items/);
  t.match(bad({ name: 'x', seed: 1, devices: [{ transport: 'mqtt', idPrefix: 'a', kind: 'bp' }] }), /\/devices\/0\/kind must be equal to one of the allowed values \(spo2, /);
  t.match(bad({ name: 'x', seed: 1, devices: [{ transport: 'mqtt', idPrefix: 'a' }] }), /\/devices\/0 an MQTT device group needs "kind"/);
  t.match(bad({ name: 'x', seed: 1, devices: [{ transport: 'serial', idPrefix: 'a', format: 'nonin-df7' }, { transport: 'serial', idPrefix: 'b', format: 'nonin-df7' }] }), /\/devices\/1 a second nonin-df7 device/);
  t.match(bad({ name: 'x', seed: 1, devices: [{ transport: 'mqtt', idPrefix: 'a', kind: 'spo2', count: 2 }, { transport: 'mqtt', idPrefix: 'a', kind: 'spo2', first: 2 }] }), /device id a0002 comes twice/);
  t.match(bad({ name: 'x', seed: 1, devices: [{ transport: 'mqtt', idPrefix: 'a', kind: 'spo2', rate: 2 }] }), /must NOT have additional properties \(rate\)/);
  t.match(bad({ name: 'x', seed: 1, devices: [{ transport: 'mqtt', idPrefix: 'a', model: 'nibp', kind: 'spo2' }] }), /"kind" or "model", not both/);
  t.match(bad({ name: 'x', seed: 1, devices: [{ transport: 'mqtt', idPrefix: 'a', model: 'pump', params: { rateMlH: 5000 } }] }), /\/devices\/0\/params\/rateMlH must be <= 2000/);
  t.match(bad({ name: 'x', seed: 1, devices: [{ transport: 'hl7', idPrefix: 'm', kind: 'spo2' }] }), /an HL7 monitor reports all its vital signs/);
  t.match(bad({ name: 'x', seed: 1, faults: [{ type: 'corrupt' }], devices: [{ transport: 'mqtt', idPrefix: 'a', kind: 'spo2' }] }), /\/faults\/0\/type must be equal to one of the allowed values/);
});

t.test('faults for the whole scenario go to every MQTT device without its own', async (t) => {
  const s = parseScenario({
    name: 'x',
    seed: 1,
    faults: [{ type: 'drop', probability: 0.1 }],
    devices: [
      { transport: 'mqtt', idPrefix: 'a', kind: 'spo2' },
      { transport: 'mqtt', idPrefix: 'b', kind: 'spo2', faults: [{ type: 'duplicate' }] },
      { transport: 'serial', idPrefix: 'c', format: 'nonin-df7' },
      { transport: 'hl7', idPrefix: 'd' },
    ],
  });
  t.same(expandScenario(s).map((d) => `${d.deviceId}:${d.faults.map((f) => f.type).join('+')}`), ['a0001:drop', 'b0001:duplicate', 'c0001:', 'd0001:']);
});

t.test('vital signs follow the clinical scenario, the same for the same seed', async (t) => {
  const series = (kind: 'spo2' | 'heart_rate' | 'nibp_systolic', scenario: ConstructorParameters<typeof VitalSigns>[1], seed = 5): Array<number | null> => {
    const v = new VitalSigns(kind, scenario, new SeededRandom(seed));
    return Array.from({ length: 240 }, (_, i) => v.value(i));
  };
  const mean = (xs: Array<number | null>): number => {
    const ys = xs.filter((x): x is number => x !== null);
    return ys.reduce((a, b) => a + b, 0) / ys.length;
  };
  t.same(series('spo2', 'normal'), series('spo2', 'normal'), 'deterministic');
  t.ok(mean(series('spo2', 'normal')) > 95, 'normal SpO2 in the NEWS2 score-0 band');
  const desat = series('spo2', 'desaturation');
  t.ok(mean(desat.slice(60, 120)) < 88 && mean(desat.slice(180, 240)) > 95, 'desaturation falls below 88 % and recovers');
  t.ok(mean(series('heart_rate', 'tachycardia')) > 125, 'tachycardia');
  t.ok(mean(series('heart_rate', 'bradycardia')) < 50, 'bradycardia');
  t.ok(mean(series('nibp_systolic', 'hypotension')) < 90, 'hypotension');
  t.ok(series('heart_rate', 'sensor-off').some((x) => x === null), 'sensor-off leaves gaps');
});
