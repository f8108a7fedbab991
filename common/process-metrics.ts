import { collectDefaultMetrics, Counter, type Registry } from 'prom-client';

/**
 * prom-client's process and Node.js metrics (CPU, memory, heap, event-loop lag, GC, handles), less
 * three gauges it names with a counter's `_total` suffix (promtool flags them; the same counts stay
 * as nodejs_active_handles, nodejs_active_requests and nodejs_active_resources by type).
 */
export function processMetrics(reg: Registry): void {
  collectDefaultMetrics({ register: reg });
  for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) reg.removeSingleMetric(n);
}


/**
 * A counter read at scrape time from a plain number the process keeps anyway (an increment on the
 * hot path, nothing from prom-client there): on each scrape it is set to `value()`.
 */
export function scrapedCounter(registers: Registry[], name: string, help: string, value: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(value());
    },
  });
}
