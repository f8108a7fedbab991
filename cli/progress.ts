/**
 * A replay's progress for the status line: a bar, the count, the rate and the time left on a
 * terminal; the same figures without the bar in plain logs.
 */
export function formatProgress(p: { done: number; total: number; startedAt: number }, now: number, bar: boolean): string {
  const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const secs = Math.max(0.001, (now - p.startedAt) / 1000);
  const rate = p.done / secs;
  const eta = rate > 0 ? (p.total - p.done) / rate : Infinity;
  const width = 20;
  const filled = Math.round(frac * width);
  const head = bar ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` : 'replayed ';
  return `${head}${p.done.toLocaleString('en-US')}/${p.total.toLocaleString('en-US')} ${Math.floor(frac * 100)}% ${rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString('en-US')}/s ETA ${formatDuration(eta)}`;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  const mm = String(m).padStart(h > 0 ? 2 : 1, '0');
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}
