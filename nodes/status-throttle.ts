/**
 * A node status that follows a fast-changing count without flooding the editor: the latest status
 * is shown at most every `ms` (the last one always lands). Translating and sending a status per
 * message cost a third of the gateway's time at a few thousand readings per second.
 */
import type { NodeInstance, NodeStatus } from './node-red-api';

export interface ThrottledStatus {
  /** Shows `make()` now or, if a status was shown less than `ms` ago, at the end of that interval. */
  set(make: () => NodeStatus): void;
  /** Stops the timer (call from the close handler). */
  stop(): void;
}

export function throttledStatus(node: Pick<NodeInstance, 'status'>, ms = 500): ThrottledStatus {
  let last = 0;
  let pending: (() => NodeStatus) | null = null;
  let timer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    timer = null;
    if (!pending) return;
    const make = pending;
    pending = null;
    last = Date.now();
    node.status(make());
  };
  return {
    set(make) {
      pending = make;
      if (timer) return;
      const wait = last + ms - Date.now();
      if (wait <= 0) flush();
      else timer = setTimeout(flush, wait);
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
      pending = null;
    },
  };
}
