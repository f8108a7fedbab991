/**
 * Process logging: one line per event, "<time> <component> <level> <message>", to stderr so stdout
 * stays for results (JSON summaries). Nothing secret is ever passed here.
 */
export type Level = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export function makeLogger(component: string, level: Level = (process.env.MCPS_LOG_LEVEL as Level | undefined) ?? 'info') {
  const max = ORDER[level] ?? ORDER.info;
  return (l: Level, msg: string): void => {
    if (ORDER[l] > max) return;
    process.stderr.write(`${new Date().toISOString()} ${component} ${l} ${msg}\n`);
  };
}
