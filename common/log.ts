/**
 * Structured JSON logs on pino, one object per line on stderr: `{level, time, ...fields, msg}` with
 * `level` as its name and `time` as ISO 8601. Lines about a job carry `jobId` and `userId` (from the
 * fields, or from the log context of the request or activity that writes them). Callers pass ids,
 * never keys, audio or transcript text; fields with a name that means a secret or content are replaced
 * by `[redacted]` at any depth as a second line of defence, and errors, wherever they are, are written
 * with their type, message, stack, own properties and `cause` chain ({@link scrub}).
 *
 * One pino instance writes every line, so {@link setLogLevel} applies to every logger at once; the
 * loggers that {@link createLogger} makes only add their fields.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];
const isLevel = (v: unknown): v is Level => LEVELS.includes(v as Level);

/**
 * Field names whose values are never logged: credentials (keys, tokens, the Authorization and
 * Cookie headers) and content (transcript text, segments, words, prompts, audio). Matched on the
 * whole name, case-insensitively, at any depth (see {@link scrub}).
 */
export const REDACTED_FIELDS = [
  'authorization',
  'cookie',
  'apiKey',
  'api_key',
  'x-api-key',
  'token',
  'secret',
  'password',
  'text',
  'transcript',
  'segments',
  'words',
  'prompt',
  'audio',
  'samples',
] as const;

const REDACTED = new Set(REDACTED_FIELDS.map((n) => n.toLowerCase()));
export const CENSOR = '[redacted]';

/** The error serializer (pino-std-serializers): type, message, stack, own properties, `cause` chain. */
const errSerializer = pino.stdSerializers.errWithCause;

/**
 * A log line's fields made safe to write, copy-on-write (the caller's objects are never changed):
 * - a field whose name is in {@link REDACTED_FIELDS}, at any depth in objects and arrays, becomes
 *   `[redacted]` (null and undefined stay as they are);
 * - an Error, wherever it is, becomes pino-std-serializers' `errWithCause` object, itself scrubbed;
 * - binary data (Buffer, typed arrays, ArrayBuffer: audio) becomes `[binary N bytes]`;
 * - a cycle becomes `[circular]`.
 * Objects with nothing to change are passed on as they are. pino's own `redact` takes explicit paths
 * (fast-redact syntax): "these names at any depth" needs one path per depth and spelling, and with
 * the 230 paths that reach depth 4 a line took about 1 ms against tens of µs here (bench/log-redaction.ts);
 * its redactor (@pinojs/redact 0.4.0) also wrote the censor into the caller's object when a wildcard
 * path crossed a redacted name (pinojs/redact issue #36). So the rule runs here, as pino's
 * `formatters.log` hook.
 */
export function scrub(value: unknown, seen: Set<object> = new Set()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return scrub(errSerializer(value), seen);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[binary ${value.byteLength} bytes]`;
  if (value instanceof Date) return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      let out: unknown[] | null = null;
      for (let i = 0; i < value.length; i++) {
        const v = scrub(value[i], seen);
        if (v !== value[i]) (out ??= value.slice())[i] = v;
      }
      return out ?? value;
    }
    let out: Record<string, unknown> | null = null;
    const src = value as Record<string, unknown>;
    for (const k of Object.keys(src)) {
      const v = src[k];
      const next = REDACTED.has(k.toLowerCase()) && v !== undefined && v !== null ? CENSOR : scrub(v, seen);
      if (next !== v) (out ??= { ...src })[k] = next;
    }
    return out ?? value;
  } finally {
    seen.delete(value);
  }
}

const context = new AsyncLocalStorage<Record<string, unknown>>();

/** The time of the line being written, when its caller gave one (see {@link writeLogLine}). */
let givenTime: Date | undefined;

/**
 * The one pino instance. It writes through `process.stderr.write` looked up at each line (not a file
 * descriptor of its own), synchronously, so lines keep their order with other stderr output and
 * whatever replaces that function (a test capturing the logs) sees them.
 */
const root = pino(
  {
    level: isLevel(process.env.LOG_LEVEL) ? process.env.LOG_LEVEL : 'info',
    base: undefined, // no pid / hostname: the platform labels lines with their pod
    messageKey: 'msg',
    formatters: {
      level: (label) => ({ level: label }),
      // Every line's fields (the log context included: pino merges the mixin first) and any child
      // bindings (pino-http's) pass through scrub before they are written.
      log: (obj) => scrub(obj) as Record<string, unknown>,
      bindings: (bindings) => scrub(bindings) as Record<string, unknown>,
    },
    timestamp: () => `,"time":"${(givenTime ?? new Date()).toISOString()}"`,
    // scrub has serialised errors already; pino's default `err` serializer would serialise the
    // result again (as an error of type Object).
    serializers: { err: (v: unknown) => v },
    // The request's or activity's context, under the line's own fields (pino merges the mixin first).
    mixin: () => ({ ...context.getStore() }),
  },
  { write: (line: string) => process.stderr.write(line) },
);

/** Writes every line handed to it, whatever the level: for lines whose caller already filtered them. */
const unfiltered = root.child({}, { level: 'debug' });

export function setLogLevel(level: Level): void {
  root.level = level;
}

/** True when a line at `level` would be written. */
export function logEnabled(level: Level): boolean {
  return root.isLevelEnabled(level);
}

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

/**
 * Writes one line whatever the level (the caller decided it is wanted); `time` may come from the
 * caller (e.g. the Temporal SDK's own timestamp). The log context's fields are added under `fields`.
 */
export function writeLogLine(level: Level, msg: string, fields: Record<string, unknown>, time = new Date()): void {
  givenTime = time;
  try {
    unfiltered[level](fields, msg);
  } finally {
    givenTime = undefined;
  }
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** The fields each logger from {@link createLogger} adds, for {@link pinoFor}. */
const baseFields = new WeakMap<Logger, Record<string, unknown>>();

/**
 * A logger whose lines all carry `base` (e.g. `{ component: 'api' }`). Precedence, lowest first: the
 * log context, `base`, the line's own fields.
 */
export function createLogger(base: Record<string, unknown> = {}): Logger {
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (!root.isLevelEnabled(level)) return;
    root[level](fields ? { ...base, ...fields } : { ...base }, msg);
  };
  const logger: Logger = {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (f) => createLogger({ ...base, ...f }),
  };
  baseFields.set(logger, base);
  return logger;
}

/**
 * The pino logger behind `log` and the fields `log` adds, for libraries that take a pino logger
 * (pino-http: api/request-log.ts). The logger is the shared one, so the level set by
 * {@link setLogLevel} holds for what those libraries write and their children of it; they should
 * add `fields` to their lines (pino-http: `customProps`).
 */
export function pinoFor(log: Logger): { logger: pino.Logger; fields: Record<string, unknown> } {
  return { logger: root, fields: { ...baseFields.get(log) } };
}
