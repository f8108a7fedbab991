import t from 'tap';
import { readingFromMqtt } from '../gateway/ingest/mqtt-reading';

const enc = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
const good = { v: 1, deviceId: 'temp-bed1', patient: 'p-1', seq: 3, kind: 'body_temp', value: 36.8, unit: 'Cel', time: 1764000000000 };
const topic = 'mcps/devices/temp-bed1/readings';

t.test('a valid payload becomes a canonical reading with codes and units', async (t) => {
  const r = readingFromMqtt(topic, enc(good), 'temp-bed1', 'p-1', 5);
  t.match(r, { deviceId: 'temp-bed1', patient: 'p-1', kind: 'body_temp', mdc: '150364', loinc: '8310-5', unit: 'Cel', value: 36.8, deviceSeq: 3, deviceTime: 1764000000000, receivedAt: 5, source: 'mqtt' });
});

t.test('bad payloads are refused with a reason naming the topic and the problem', async (t) => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['not JSON', new TextEncoder().encode('{"v":1,'), /not JSON/],
    ['unknown field', enc({ ...good, extra: 1 }), /additional properties \(extra\)/],
    ['missing field', enc({ ...good, seq: undefined }), /seq/],
    ['wrong version', enc({ ...good, v: 2 }), /\/v/],
    ['unknown kind', enc({ ...good, kind: 'mood' }), /\/kind/],
    ['wrong unit', enc({ ...good, unit: '[degF]' }), /unit "\[degF\]" for body_temp, expected "Cel"/],
    ['out of range', enc({ ...good, value: 99 }), /outside 20\.\.45 Cel/],
    ['device does not match topic', enc({ ...good, deviceId: 'resp-bed2' }), /does not match the topic/],
    ['wrong patient', enc({ ...good, patient: 'p-9' }), /not the patient/],
    ['oversized', new Uint8Array(5000), /5000 bytes, limit 4096/],
  ];
  for (const [name, payload, re] of cases) {
    t.throws(() => readingFromMqtt(topic, payload, 'temp-bed1', 'p-1', 0), re, name);
  }
  t.throws(() => readingFromMqtt(topic, new TextEncoder().encode('{'), 'temp-bed1', 'p-1', 0), new RegExp(topic.replace(/\+/g, '\\+')), 'names the topic');
});
