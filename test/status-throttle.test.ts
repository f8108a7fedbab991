import t from 'tap';
import { throttledStatus } from '../nodes/status-throttle';
import type { NodeStatus } from '../nodes/node-red-api';

t.test('a fast-changing status is shown at most every interval, and the last one lands', async (t) => {
  const shown: string[] = [];
  const s = throttledStatus({ status: (x: NodeStatus | Record<string, never>) => shown.push(String((x as NodeStatus).text)) }, 100);
  for (let i = 1; i <= 50; i++) s.set(() => ({ text: `n=${i}` }));
  t.same(shown, ['n=1'], 'the first is shown at once, the rest wait');
  await new Promise((r) => setTimeout(r, 150));
  t.same(shown, ['n=1', 'n=50'], 'then only the latest');
  s.set(() => ({ text: 'late' }));
  s.stop();
  await new Promise((r) => setTimeout(r, 150));
  t.same(shown, ['n=1', 'n=50'], 'nothing after stop()');
});
