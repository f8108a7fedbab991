// HL7 v2 ORU^R01 over MLLP: the parser, framing and observation rules against the example message
// in docs/devices.md, every refusal named, the ACKs, and a simulated monitor over real TCP into the
// real journal — including a lost ACK (the copy is recognised) and a cut connection.
import t from 'tap';
import { connect } from 'node:net';
import { parseHl7, parseHl7Time, hl7Escape } from '../gateway/ingest/hl7/hl7-message';
import { MllpDecoder, mllpFrame } from '../gateway/ingest/hl7/mllp';
import { decodeOruR01, controlIdSeq, MDC_OBSERVATIONS } from '../gateway/ingest/hl7/oru-r01';
import { Hl7Intake } from '../gateway/ingest/hl7/hl7-intake';
import { startMllpListener } from '../gateway/ingest/hl7/mllp-listener';
import { encodeOruR01, MONITOR_MDC } from '../device-sim/devices/hl7-oru-encoder';
import { SimulatedHl7Monitor, type Hl7SendResult } from '../device-sim/devices/hl7-monitor';
import { DeviceCredentials, hashPassword } from '../gateway/ingest/device-credentials';
import { READING_KINDS } from '../protocol/reading';
import { testRuntime } from './gateway-runtime.helpers';

/** The docs/devices.md example: a monitor's heart rate and SpO2, segments separated by CR. */
const EXAMPLE = [
  'MSH|^~\\&|mon-bed4^0012A3FFFE4B5C6D^EUI-64|MCPS-SIM|MCPS|MCPS|20261125100000.000+0000||ORU^R01^ORU_R01|17|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO',
  'PID|||p-0004^^^MCPS^PI',
  'OBR|1|17^mon-bed4|17^mon-bed4|182777000^monitoring of patient^SCT|||20261125100000.000+0000',
  'OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.147842|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||20261125100000.000+0000',
  'OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.150456|97|262688^MDC_DIM_PERCENT^MDC|||||R|||20261125100000.000+0000',
].join('\r') + '\r';
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const patientOf = (d: string): string | undefined => ({ 'mon-bed4': 'p-0004' })[d];

t.test('the example message: parsed, decoded to MDC/LOINC/UCUM readings, and what the simulator encodes', async (t) => {
  const m = parseHl7(EXAMPLE);
  t.same(m.segments.map((s) => s.name), ['MSH', 'PID', 'OBR', 'OBX', 'OBX']);
  t.same(m.components(m.first('MSH')!, 9), ['ORU', 'R01', 'ORU_R01']);
  const r = decodeOruR01(m, { receivedAt: 5, patientOf });
  if (!r.ok) return t.fail(r.reason);
  t.same(r.readings.map((x) => `${x.deviceId} ${x.patient} ${x.kind} ${x.value} ${x.unit} MDC ${x.mdc} LOINC ${x.loinc} seq ${x.deviceSeq} ${x.deviceTime === T0} ${x.source}`), [
    'mon-bed4 p-0004 heart_rate 72 /min MDC 147842 LOINC 8867-4 seq 17 true hl7',
    'mon-bed4 p-0004 spo2 97 % MDC 150456 LOINC 2708-6 seq 17 true hl7',
  ]);
  const sim = encodeOruR01({ deviceId: 'mon-bed4', eui64: '0012A3FFFE4B5C6D', patient: 'p-0004', controlId: 17, time: T0, values: [{ kind: 'heart_rate', value: 72 }, { kind: 'spo2', value: 97 }] });
  t.equal(sim, EXAMPLE, 'the simulator encodes the example character for character');
  for (const [code, o] of Object.entries(MDC_OBSERVATIONS)) t.equal(READING_KINDS[o.kind].mdc, code, `${o.refid}: the same code as the reading table`);
  for (const [kind, v] of Object.entries(MONITOR_MDC)) t.equal(MDC_OBSERVATIONS[v![0]]?.refid, v![1], `simulator and gateway agree on ${kind}`);
});

t.test('times, escapes, control ids', async (t) => {
  t.equal(parseHl7Time('20261125100000'), T0);
  t.equal(parseHl7Time('20261125110000+0100'), T0, 'a zone offset');
  t.equal(parseHl7Time('20261125100000.5'), T0 + 500);
  t.equal(parseHl7Time('202611251000'), T0, 'minutes precision');
  t.equal(parseHl7Time('20261325100000'), null);
  t.equal(parseHl7Time('yesterday'), null);
  const m = parseHl7(`MSH|^~\\&|a|b|||||ORU^R01|1|P|2.6\rNTE|1||${hl7Escape('a|b^c~d\\e&f')}\\X41\\\r`);
  t.equal(m.value(m.first('NTE')!, 3), 'a|b^c~d\\e&fA');
  t.equal(controlIdSeq('42'), 42);
  t.equal(controlIdSeq('MSG-0042'), controlIdSeq('MSG-0042'), 'a text id hashes the same every time');
  t.not(controlIdSeq('MSG-0042'), controlIdSeq('MSG-0043'));
});

t.test('refusals name the segment and field; AR for what cannot be taken, AE for bad observations', async (t) => {
  const variant = (from: string, to: string): string => EXAMPLE.replace(from, to);
  const cases: Array<[string, RegExp, string?]> = [
    [variant('ORU^R01^ORU_R01', 'ADT^A01^ADT_A01'), /MSH-9 message type "ADT\^A01": this gateway takes ORU\^R01/, 'AR'],
    [variant('|P|2.6|', '|P|3.0|'), /MSH-12 version "3\.0"/, 'AR'],
    [variant('mon-bed4^0012', 'mon-bed9^0012'), /device "mon-bed9" \(MSH-3\) is not registered/, 'AR'],
    [variant('p-0004^^^MCPS', 'p-0005^^^MCPS'), /PID-3 patient "p-0005" is not the patient/, 'AE'],
    [variant('|17|P|', '||P|'), /MSH-10 message control id is empty/, 'AR'],
  ];
  for (const [text, re, code] of cases) {
    const r = decodeOruR01(parseHl7(text), { receivedAt: 0, patientOf });
    t.notOk(r.ok);
    if (!r.ok) {
      t.match(r.reason, re);
      t.equal(r.code, code);
    }
  }
  const obx = (n: number, body: string): string => `OBX|${n}|${body}`;
  const msg = EXAMPLE.split('\r').slice(0, 3).join('\r') + '\r' + [
    obx(1, 'NM|150456^MDC_ECG_HEART_RATE^MDC||97|262688^MDC_DIM_PERCENT^MDC'),
    obx(2, 'NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||9x|262688^MDC_DIM_PERCENT^MDC'),
    obx(3, 'NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|264864^MDC_DIM_BEAT_PER_MIN^MDC'),
    obx(4, 'NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||140|262688^MDC_DIM_PERCENT^MDC'),
    obx(5, 'NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|'),
    obx(6, 'NA|150452^MDC_PULS_OXIM_PLETH^MDC||1^2^3|'),
    obx(7, 'NM|999999^MDC_SOMETHING_ELSE^MDC||1|'),
    obx(8, 'NM|151562^MDC_RESP_RATE^MDC||16|/min^^UCUM|||||X'),
    obx(9, 'NM|150364^MDC_TEMP_BODY^MDC||36.9|Cel^^UCUM|||||F|||20261125095900'),
    obx(10, 'NM|150364^MDC_TEMP_BODY^MDC||37.0|Cel^^UCUM'),
  ].join('\r');
  const r = decodeOruR01(parseHl7(msg), { receivedAt: 0, patientOf });
  if (!r.ok) return t.fail(r.reason);
  t.match(r.refused, [
    /^OBX 1: OBX-3 code 150456 is MDC_PULS_OXIM_SAT_O2, not MDC_ECG_HEART_RATE$/,
    /^OBX 2: OBX-5 "9x" is not a number$/,
    /^OBX 3: OBX-6 unit 264864\^MDC_DIM_BEAT_PER_MIN is not 262688\^MDC_DIM_PERCENT$/,
    /^OBX 4: MDC_PULS_OXIM_SAT_O2 140 outside 0\.\.100 %$/,
    /^OBX 5: OBX-6 has no unit/,
    /^OBX 10: a second body_temp in one message$/,
  ]);
  t.same(r.readings.map((x) => `${x.kind} ${x.value} ${x.deviceTime}`), [`body_temp 36.9 ${T0 - 60_000}`], 'the good observation kept, with its own time');
  t.equal(r.passedOver, 3, 'a waveform, an unknown code and a "cannot obtain" status are passed over, not refused');
  t.throws(() => parseHl7('PID|1\r'), { message: /the first segment is "PID", not MSH/ });
  t.throws(() => parseHl7('MSH|^~\\&|a\rOBX|1\rMSH|^~\\&|b\r'), { message: /segment 3: a second MSH/ });
  t.throws(() => parseHl7('MSH|^~\\&|a\rob|x\r'), { message: /segment 2 "ob\|x" does not start with a segment name/ });
});

t.test('MLLP framing: any chunking, junk between frames reported, frames cut short and oversize refused', async (t) => {
  const two = Buffer.concat([mllpFrame('MSH|a'), Buffer.from('\r\njunk'), mllpFrame('MSH|b\x1cx')]);
  for (const size of [1, 2, 3, 7, 100]) {
    const d = new MllpDecoder();
    const evs = [];
    for (let i = 0; i < two.length; i += size) evs.push(...d.push(two.subarray(i, i + size)));
    t.same(evs.map((e) => (e.type === 'frame' ? e.data.toString('latin1') : e.reason)), ['MSH|a', '4 bytes outside an MLLP frame (expected 0x0B first) skipped', 'MSH|b\x1cx'], `chunks of ${size}`);
  }
  const cut = new MllpDecoder().push(Buffer.concat([Buffer.from('\x0bMSH|half'), mllpFrame('MSH|whole')]));
  t.same(cut.map((e) => (e.type === 'frame' ? e.data.toString() : e.reason)), ['an MLLP frame cut short after 8 bytes (a new frame began); dropped', 'MSH|whole']);
  const big = new MllpDecoder(10).push(Buffer.concat([mllpFrame('x'.repeat(11)), mllpFrame('ok')]));
  t.same(big.map((e) => (e.type === 'frame' ? e.data.toString() : e.reason)), ['an MLLP frame of 11 bytes, over the limit of 10; dropped', 'ok']);
});

const creds = new DeviceCredentials([{ id: 'mon-bed4', patient: 'p-0004', passwordHash: hashPassword('unused') }]);

async function listenerWithJournal(t: { teardown(f: () => unknown): void }) {
  const T = await testRuntime({ devices: creds, client: { submit: () => new Promise(() => undefined) } });
  t.teardown(() => T.close());
  const intake = new Hl7Intake({ ingest: (r, k) => T.rt.ingest(r, k), patientOf: (d) => T.rt.devices.get(d)?.patient, reject: (d) => T.rt.reject(d), now: () => Date.now() }, 'hl7:test');
  const acks: string[] = [];
  let dropAcks = 0;
  const l = await startMllpListener({
    host: '127.0.0.1',
    port: 0,
    onMessage: async (frame) => {
      const out = await intake.handle(frame);
      if (out.ack) acks.push(out.ack.split('\r')[1]!);
      if (dropAcks > 0) {
        dropAcks--;
        return null; // the ACK is lost on the way
      }
      return out.ack;
    },
  });
  t.teardown(() => l.close());
  return { T, l, acks, loseAcks: (n: number) => (dropAcks = n) };
}

t.test('over real TCP: the ACK comes after the journal; a lost ACK makes a copy, kept once', async (t) => {
  const { T, l, acks, loseAcks } = await listenerWithJournal(t);
  const results: Hl7SendResult[] = [];
  loseAcks(2);
  const mon = await SimulatedHl7Monitor.connect({ host: '127.0.0.1', port: l.port, deviceId: 'mon-bed4', patient: 'p-0004', seed: 5, ratePerS: 20, ackTimeoutMs: 300, onResult: (r) => results.push(r) });
  mon.start();
  await new Promise((r) => setTimeout(r, 1500));
  await mon.stop();
  const journaled = T.journal.unsealed(100_000).map((e) => e.reading);
  const acked = results.filter((r) => r.acked);
  t.ok(acked.length >= 7 * 10, `${acked.length} readings acknowledged`);
  t.equal(mon.resends, 2, 'two messages sent again after their ACK was lost');
  t.equal(T.rt.metrics.duplicatesDropped, 2 * 7, 'their copies recognised, reading by reading');
  t.same(journaled.map((r) => `${r.kind}/${r.deviceSeq}`).sort(), acked.map((r) => `${r.kind}/${r.deviceSeq}`).sort(), 'everything acknowledged is journaled, once');
  t.ok(journaled.every((r) => r.source === 'hl7' && r.patient === 'p-0004'));
  t.ok(acks.every((a) => /^MSA\|AA\|\d+$/.test(a)), 'every answer an AA with the control id');
});

t.test('over real TCP: refused messages get AR/AE with ERR; junk and a cut connection do not stop the listener', async (t) => {
  const { T, l } = await listenerWithJournal(t);
  const send = (bytes: Buffer): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: l.port }, () => s.write(bytes));
      const d = new MllpDecoder();
      s.on('data', (c) => {
        for (const ev of d.push(c)) if (ev.type === 'frame') {
          resolve(ev.data.toString());
          s.destroy();
        }
      });
      s.on('error', reject);
    });
  const ar = await send(mllpFrame(EXAMPLE.replace('ORU^R01^ORU_R01', 'ADT^A01^ADT_A01')));
  t.match(ar, /^MSH\|\^~\\&\|MCPS\|MCPS\|mon-bed4\^0012A3FFFE4B5C6D\^EUI-64\|MCPS-SIM\|\d{14}\.\d{3}\+0000\|\|ACK\^R01\^ACK\|ACK\d+\|P\|2\.6\rMSA\|AR\|17\|MSH-9 message type .*\rERR\|\|\|200\^Unsupported message type\^HL70357\|E/);
  const ae = await send(mllpFrame(EXAMPLE.replace('|72|', '|720|')));
  t.match(ae, /\rMSA\|AE\|17\|OBX 1: MDC_ECG_HEART_RATE 720 outside 0\.\.350 \/min/);
  t.equal(T.journal.unsealed(10).length, 1, 'the good SpO2 of that message is kept');
  const garbage = await send(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), mllpFrame('not hl7')]));
  t.match(garbage, /\rMSA\|AR\|\|not an HL7 v2 message: the first segment is "not", not MSH/);
  await new Promise<void>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: l.port }, () => {
      s.write(Buffer.from('\x0bMSH|^~\\&|half a message'));
      s.destroy();
      resolve();
    });
  });
  t.match(await send(mllpFrame(EXAMPLE.replace('|17|P|', '|18|P|'))), /\rMSA\|AA\|18/, 'still answering after all that');
  t.equal(T.rt.metrics.readingsRejected, 3, 'the three refused messages counted (and kept as dead letters)');
});
