/**
 * Structured JSON logs, one object per line on stderr: `{time, level, msg, ...fields}`. Lines about a
 * job carry `jobId` and `userId` (from the fields, or from the log context of the request or activity
 * that writes them). Callers pass ids, never keys, audio or transcript text; fields with a name that
 * means a secret or content are replaced by `[redacted]` as a second line of defence.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: Level = (process.env.LOG_LEVEL as Level) in ORDER ? (process.env.LOG_LEVEL as Level) : 'info';

export function setLogLevel(level: Level): void {
  threshold = level;
}

/** True when a line at `level` would be written. */
export function logEnabled(level: Level): boolean {
  return ORDER[level] >= ORDER[threshold];
}

/**
 * Field names whose values are never logged: credentials (keys, tokens, the Authorization header) and
 * content (transcript text, segments, audio). Matched case-insensitively on the whole name.
 */
const REDACTED_FIELDS = /^(authorization|api_?key|token|secret|password|text|transcript|segments|prompt|audio|samples)$/i;

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const k of Object.keys(fields)) {
    if (REDACTED_FIELDS.test(k) && fields[k] !== undefined && fields[k] !== null) {
      out ??= { ...fields };
      out[k] = '[redacted]';
    }
  }
  return out ?? fields;
}

const context = new AsyncLocalStorage<Record<string, unknown>>();

/**
 * Runs `fn` with `fields` (e.g. `{ jobId, userId }`) added to every line logged inside it, across
 * awaits; nested calls add to the outer context. `fn` gets the context object itself, which
 * {@link addLogContext} extends, so a request can read at its end what its handlers learnt.
 */
export function withLogContext<T>(fields: Record<string, unknown>, fn: (store: Record<string, unknown>) => T): T {
  const store = { ...context.getStore(), ...fields };
  return context.run(store, () => fn(store));
}

/** Adds fields to the current log context (a request that learns its job id); no-op outside one. */
export function addLogContext(fields: Record<string, unknown>): void {
  const store = context.getStore();
  if (store) Object.assign(store, fields);
}

/** The current log context's fields (empty outside one). */
export function logContext(): Record<string, unknown> {
  return { ...context.getStore() };
}

/** Writes one JSON line; `time` may come from the caller (e.g. the Temporal SDK's own timestamp). */
export function writeLogLine(level: Level, msg: string, fields: Record<string, unknown>, time = new Date()): void {
  const line = { time: time.toISOString(), level, msg, ...redact({ ...context.getStore(), ...fields }) };
  let json: string;
  try {
    json = JSON.stringify(line, (_k, v) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Error ? { name: v.name, message: v.message } : v,
    );
  } catch {
    json = JSON.stringify({ time: line.time, level, msg, logError: 'fields not serialisable' });
  }
  process.stderr.write(json + '\n');
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** A logger whose lines all carry `base` (e.g. `{ component: 'api' }`). */
export function createLogger(base: Record<string, unknown> = {}): Logger {
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (!logEnabled(level)) return;
    writeLogLine(level, msg, { ...base, ...fields });
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (f) => createLogger({ ...base, ...f }),
  };
}
