/**
 * Structured JSON logs on pino, one object per line on stderr: `{level, time, ...fields, msg}` with
 * `level` as its name and `time` as ISO 8601. Lines about a job carry `jobId` and `userId` (from the
 * fields, or from the log context of the request or activity that writes them). Callers pass ids,
 * never keys, audio or transcript text; fields with a name that means a secret or content are replaced
 * by `[redacted]` at any depth up to {@link REDACT_DEPTH} (pino's `redact`, fast-redact paths) as a
 * second line of defence. Errors, at any top-level field, are written with their type, message, stack,
 * own properties and `cause` chain (pino-std-serializers `errWithCause`).
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
 * Cookie headers) and content (transcript text, segments, words, prompts, audio). Matched at every
 * depth up to {@link REDACT_DEPTH}, in the spellings {@link spellings} lists (pino's paths are
 * case-sensitive; the hand-written logger this replaced matched case-insensitively).
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

/** Levels of nesting under a top-level field that redaction reaches (`a.b.c.text` at 3). */
export const REDACT_DEPTH = 4;

/** `apiKey` → apiKey, apikey, ApiKey, APIKEY: the spellings of a name that redaction matches. */
function spellings(name: string): string[] {
  return [...new Set([name, name.toLowerCase(), name[0].toUpperCase() + name.slice(1), name.toUpperCase()])];
}

/**
 * pino `redact.paths` for every spelling of every redacted name, top-level (`text`) and under up to
 * REDACT_DEPTH wildcards (`*.text`, `*.*.text`, …; a wildcard also matches array indices). Names that
 * are not identifiers are written in brackets (`*["x-api-key"]`).
 */
export function redactPaths(names: readonly string[] = REDACTED_FIELDS, depth = REDACT_DEPTH): string[] {
  const paths: string[] = [];
  // Shallow paths first. @pinojs/redact 0.4.0 (pino's redactor) copies only the branches its paths
  // lead into, and where a level has both a literal key and `*` it follows the literal key's branch
  // alone (pinojs/redact issue #36, fix proposed in PR #37): `job.segments` (a redacted name, a leaf)
  // is then shared with the caller's object while `*.*.text` still walks into it and writes the
  // censor into the caller's segments. Censoring `segments` before any deeper path runs means the
  // walk meets the censor string instead; the only literal keys here are redacted names, so this
  // holds for every path. test/unit/log.test.ts checks that callers' objects are left as they were.
  for (let d = 0; d <= depth; d++) {
    for (const name of names) {
      for (const spelling of spellings(name)) {
        const key = /^[A-Za-z_$][\w$]*$/.test(spelling) ? spelling : `["${spelling}"]`;
        const wildcards = '*.'.repeat(d);
        paths.push(key.startsWith('[') ? (d === 0 ? key : `${wildcards.slice(0, -1)}${key}`) : `${wildcards}${key}`);
      }
    }
  }
  return paths;
}

const context = new AsyncLocalStorage<Record<string, unknown>>();

/** The time of the line being written, when its caller gave one (see {@link writeLogLine}). */
let givenTime: Date | undefined;

/** The error serializer for every top-level field holding an Error (and for `err` / `error` / `cause`). */
const errSerializer = pino.stdSerializers.errWithCause;
/** Keys pino serialises itself (below); {@link withErrors} leaves them to it. */
const ERROR_KEYS = new Set(['err', 'error', 'cause']);

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
    formatters: { level: (label) => ({ level: label }) },
    timestamp: () => `,"time":"${(givenTime ?? new Date()).toISOString()}"`,
    redact: { paths: redactPaths(), censor: '[redacted]' },
    serializers: Object.fromEntries([...ERROR_KEYS].map((k) => [k, errSerializer])),
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

/** `fields` with each top-level Error serialised (pino's serializers only see the keys they name). */
function withErrors(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (v instanceof Error && !ERROR_KEYS.has(k)) {
      out ??= { ...fields };
      out[k] = errSerializer(v);
    }
  }
  return out ?? fields;
}

/**
 * Writes one line whatever the level (the caller decided it is wanted); `time` may come from the
 * caller (e.g. the Temporal SDK's own timestamp). The log context's fields are added under `fields`.
 */
export function writeLogLine(level: Level, msg: string, fields: Record<string, unknown>, time = new Date()): void {
  givenTime = time;
  try {
    unfiltered[level](withErrors(fields), msg);
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
    root[level](withErrors(fields ? { ...base, ...fields } : { ...base }), msg);
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
