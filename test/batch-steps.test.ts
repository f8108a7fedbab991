// protocol/batch.ts buildBatchSteps: the batch built in steps (what the gateway's inline sealing
// runs, yielding to I/O between them) is buildBatch's, byte for byte.
import t from 'tap';
import { buildBatch, buildBatchSteps, driveSteps, encodeHeader } from '../protocol/batch';
import type { Reading } from '../protocol/reading';

const T0 = 1_764_000_000_000;
const reading = (i: number, patients: number): Reading => ({ deviceId: `d-${i % patients}`, patient: `p-${i % patients}`, kind: 'spo2', mdc: '150456', loinc: '2708-6', value: 90 + (i % 10), unit: '%', deviceTime: null, receivedAt: T0 + i * 7, deviceSeq: i + 1, source: 'mqtt' });
const epoch = { id: T0 - 5000, key: new Uint8Array(32).fill(0x22), wrapped: new Uint8Array(80).fill(0x33) };

t.test('the same batch in steps, and a step every slicesPerStep slices', async (t) => {
  for (const [n, patients, per] of [[1, 1, 64], [500, 200, 64], [300, 300, 1], [50, 10, 0]] as const) {
    const input = { gatewayId: 'gw-ward1', seq: 3, prevHash: new Uint8Array(32).fill(9), readings: Array.from({ length: n }, (_, i) => reading(i, patients)), tagKey: new Uint8Array(32).fill(0x11), epoch, sealedAt: T0 + 10_000, watermark: T0 };
    const whole = buildBatch(input);
    const steps = buildBatchSteps(input, per);
    let yields = 0;
    const built = await driveSteps(steps, () => {
      yields++;
    });
    t.equal(Buffer.from(built.envelope).toString('hex'), Buffer.from(whole.envelope).toString('hex'), `${n} readings: same envelope`);
    t.equal(Buffer.from(encodeHeader(built.header)).toString('hex'), Buffer.from(encodeHeader(whole.header)).toString('hex'), 'same header');
    t.equal(yields, Math.max(0, Math.ceil(Math.min(n, patients) / Math.max(1, per)) - 1), `${yields} pauses for ${Math.min(n, patients)} slices, ${per} a step`);
  }
});
