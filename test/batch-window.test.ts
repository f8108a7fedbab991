import t from 'tap';
import { BatchWindow } from '../gateway/sealing/batch-window';
import type { Reading } from '../protocol/reading';

const reading = (i: number): Reading => ({ deviceId: 'd', patient: 'p', kind: 'spo2', mdc: '150456', loinc: '2708-6', value: 97, unit: '%', deviceTime: null, receivedAt: i, deviceSeq: i, source: 'serial' });

t.test('closes by count, by age and on flush, in arrival order, never empty', async (t) => {
  const closed: number[][] = [];
  let fire: (() => void) | null = null;
  const w = new BatchWindow<Reading>({ maxCount: 3, maxAgeMs: 1000, onClose: (rs) => closed.push(rs.map((r) => r.deviceSeq)), setTimer: (fn) => { fire = fn; return {}; }, clearTimer: () => { fire = null; } });
  for (let i = 1; i <= 7; i++) w.add(reading(i));
  t.same(closed, [[1, 2, 3], [4, 5, 6]], 'count windows');
  t.ok(fire, 'an age timer runs for the open window');
  fire!();
  t.same(closed[2], [7], 'age closes the rest');
  w.flush();
  t.equal(closed.length, 3, 'flushing an empty window seals nothing');
  w.add(reading(8));
  w.flush();
  t.same(closed[3], [8]);
  t.throws(() => new BatchWindow({ maxCount: 0, maxAgeMs: 1000, onClose: () => undefined }), /maxCount 0/);
  t.throws(() => new BatchWindow({ maxCount: 1, maxAgeMs: 1, onClose: () => undefined }), /maxAgeMs 1/);
});
