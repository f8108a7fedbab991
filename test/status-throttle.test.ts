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
  s.stop();
  // A status still waiting when stop() is called is dropped. (A long interval makes it wait for
  // sure: with 100 ms, a loaded machine can let the interval pass before the set, and it lands.)
  const slowShown: string[] = [];
  const slow = throttledStatus({ status: (x: NodeStatus | Record<string, never>) => slowShown.push(String((x as NodeStatus).text)) }, 60_000);
  slow.set(() => ({ text: 'first' }));
  slow.set(() => ({ text: 'late' }));
  slow.stop();
  await new Promise((r) => setTimeout(r, 150));
  t.same(slowShown, ['first'], 'nothing after stop()');
});
