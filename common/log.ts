/**
 * Process logging with pino: one JSON object per line, with stable field names, for journald, Loki
 * or `jq`. Services (`mcps gateway`, `mcps chain-node`) log to stdout; commands whose stdout carries
 * a result (`mcps up`, `mcps verify`) log to stderr. On a terminal, `mcps up` pretty-prints.
 *
 * Every line has `time` (ISO 8601, UTC), `level` (error, warn, info, debug), `name` (the process:
 * gateway, chain-node, up, …), `pid` and `msg`; `component` names the part that speaks (mqtt, serial,
 * outbox, node-red, …); further fields are the event's facts (docs/operations.md lists them).
 * Modules take a plain `LogFn` so they do not depend on pino; `logFn` adapts a pino logger.
 *
 * Nothing secret and no reading value is logged: callers pass ids, counts and reasons, and the
 * fields in REDACTED_KEYS are censored wherever they appear (top level or one level down), so a
 * careless `log('info', m, { reading })` cannot leak a vital sign or a key.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type Level = 'error' | 'warn' | 'info' | 'debug';
export type LogFields = Record<string, unknown>;
/** What modules log through: a level, a sentence, and the event's facts as fields. */
export type LogFn = (level: Level, msg: string, fields?: LogFields) => void;
export type { Logger };

const LEVELS: readonly Level[] = ['error', 'warn', 'info', 'debug'];

/**
 * Field names whose values never reach a log: secrets (keys, passwords, tokens, cookies) and reading
 * contents (values, samples, payloads, raw bytes). Matched at the top level and one level down.
 */
export const REDACTED_KEYS = [
  'password',
  'passwordHash',
  'secret',
  'secretKey',
  'privateKey',
  'key',
  'token',
  'authorization',
  'cookie',
  'credentialSecret',
  'mnemonic',
  'value',
  'values',
  'samples',
  'payload',
  'raw',
  'reading',
  'readings',
] as const;
export const REDACTED = '[redacted]';

export function logLevelFromEnv(fallback: Level = 'info'): Level {
  const v = process.env.MCPS_LOG_LEVEL;
  return v !== undefined && (LEVELS as readonly string[]).includes(v) ? (v as Level) : fallback;
}

export interface LoggerOptions {
  /** Default: MCPS_LOG_LEVEL, else info. */
  level?: Level;
  /** 1 (stdout, services), 2 (stderr, commands), or any stream (tests). Default 1. */
  destination?: 1 | 2 | DestinationStream;
  /** Human-readable lines instead of JSON (for a terminal). Default: false. */
  pretty?: boolean;
}

/** Options for pino-pretty, shared by a pretty logger and the re-formatting of children's lines. */
const PRETTY = { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true } as const;

export function createLogger(name: string, opts: LoggerOptions = {}): Logger {
  const fd = typeof opts.destination === 'number' ? opts.destination : 1;
  // Synchronous writes: logs are low-volume (events, not readings) and a line written before a
  // crash must not be lost in a buffer.
  const stream: DestinationStream =
    typeof opts.destination === 'object' ? opts.destination : opts.pretty ? pretty({ ...PRETTY, destination: fd, sync: true }) : pino.destination({ dest: fd, sync: true });
  return pino(
    {
      name,
      level: opts.level ?? logLevelFromEnv(),
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_KEYS.flatMap((k) => [k, `*.${k}`]), censor: REDACTED },
    },
    stream,
  );
}

/** A LogFn writing to `logger`, optionally as one `component`. */
export function logFn(logger: Logger, component?: string): LogFn {
  const l = component ? logger.child({ component }) : logger;
  return (level, msg, fields) => {
    if (fields) l[level](fields, msg);
    else l[level](msg);
  };
}

/** A LogFn that drops everything (tests, library use). */
export const silentLog: LogFn = () => undefined;

/**
 * Formats one line from a child process for a terminal: pretty when it is one of our JSON log lines,
 * as it is otherwise (a Node.js crash trace, a third-party print).
 */
export function prettyChildLine(): (line: string) => string {
  const format = pretty.prettyFactory({ ...PRETTY });
  return (line) => {
    if (!line.startsWith('{')) return line;
    try {
      return format(JSON.parse(line) as object).replace(/\n$/, '');
    } catch {
      return line;
    }
  };
}

/** Parses a JSON log line (null when it is not one), for tests and tools that read our logs. */
export function parseLogLine(line: string): (LogFields & { level: Level; msg: string; time: string; name?: string; component?: string }) | null {
  if (!line.startsWith('{')) return null;
  try {
    const x = JSON.parse(line) as LogFields;
    return typeof x.level === 'string' && typeof x.msg === 'string' ? (x as LogFields & { level: Level; msg: string; time: string }) : null;
  } catch {
    return null;
  }
}
