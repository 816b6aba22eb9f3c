/**
 * Request and response schemas (zod): the one definition that validates requests and generates the
 * OpenAPI document (api/openapi.ts, through zod's `z.toJSONSchema`). Multipart fields arrive as
 * strings, so booleans are parsed from "true"/"false". Response schemas are loose objects: clients
 * must tolerate fields added later; every documented field is checked by the contract test.
 */
import { z } from 'zod';
import { ApiError } from './errors';
import { BACKENDS, JOB_STATUSES, MODEL_TIERS, PRIORITY_CLASSES, TIERS } from '../common/constants';
import { UUID_RE } from '../common/ids';
import { ACCEPTED_LANGUAGES, whisperLanguageCode } from '../common/languages';

const boolString = z.enum(['true', 'false']).transform((v) => v === 'true');

/**
 * A language Whisper knows (openai/whisper tokenizer.py LANGUAGES), as its ISO 639-1 code, parsed to Whisper's own
 * code: a code it does not know would only fail later in the decoder, after the job was admitted and retried.
 * ISO 639-1 codes Whisper spells otherwise (`jv` for its `jw`, the withdrawn `iw` for `he`) and Whisper's language
 * names and aliases (`javanese`, `mandarin`: its tokenizer's TO_LANGUAGE_CODE) are accepted as Whisper accepts them
 * (common/languages.ts whisperLanguageCode); what is stored and routed is Whisper's code.
 */
export const languageCode = z
  .string()
  .refine((v) => whisperLanguageCode(v) !== null, {
    error: 'must be a language Whisper supports, as an ISO 639-1 code such as "en"',
  })
  .transform((v) => whisperLanguageCode(v)!)
  .meta({ enum: [...ACCEPTED_LANGUAGES] });

/** Every field of `POST /v1/jobs` (docs/api.md is generated from this); any other name is refused. */
export const createJobFields = z
  .object({
    language: languageCode.optional(),
    model: z.string().min(1).max(100).optional(),
    task: z.enum(['transcribe', 'translate']).optional(),
    prompt: z.string().max(1000).optional(),
    /** the first decoding temperature (OpenAI's `temperature`): 0 = greedy with Whisper's fallback; t > 0 samples at t, then upward */
    temperature: z.coerce.number().min(0).max(1).optional(),
    optimizeFor: z.enum(['cost', 'speed', 'balanced']).optional(),
    requireHighAccuracy: boolString.optional(),
    priorityClass: z.enum(['interactive', 'backfill']).optional(),
    multichannel: boolString.optional(),
    webhookUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
      .max(2048)
      .optional(),
    mode: z.enum(['cloud', 'edge']).optional(),
    allowFallback: boolString.optional(),
    /** true: every segment carries `words` [{word, start, end, probability}] (default false: a 12 h transcript has ~100k words) */
    wordTimestamps: boolString.optional(),
    /** mode=edge: what the device can do, JSON (api/edge/plan.ts `capabilitiesSchema`) */
    capabilities: z.string().max(2000).optional(),
    /** keep the audio this many seconds after the job ends, for re-transcription (0: not kept; tier maximum) */
    retainAudioSeconds: z.coerce.number().int().min(0).max(30 * 24 * 3600).optional(),
    /** audio by URL instead of a `file` part (http or https; fetched under the SSRF policy, api/audio-url.ts) */
    url: z.string().min(1).max(4096).optional(),
  })
  .strict();

export type CreateJobFields = z.infer<typeof createJobFields>;

/** `POST /v1/jobs/:id/retranscribe` (JSON): a better model for a completed job whose audio is retained. */
export const retranscribeBody = z
  .object({
    model: z.string().min(1).max(100).optional(),
    requireHighAccuracy: z.boolean().optional(),
    language: languageCode.optional(),
    prompt: z.string().max(1000).optional(),
    wordTimestamps: z.boolean().optional(),
  })
  .strict();

export const MAX_PAGE = 100;
/** `GET /v1/jobs` query. */
export const listJobsQuery = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(20),
    cursor: z.string().max(200).optional(),
    /** jobs made from a file with this sha256 (lowercase hex), e.g. the backfill CLI's resume check */
    contentSha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in lowercase hex').optional(),
  })
  .strict();

/** `POST /v1/tokens` body: a token for one job's events, or for /v1/listen. */
export const tokenRequest = z.union([
  z.object({ jobId: z.string().regex(UUID_RE) }).strict(),
  z.object({ scope: z.literal('listen') }).strict(),
]);

/** `GET /v1/jobs/:id/transcript` caption layout (openai/whisper CLI --max_line_width / --max_line_count). */
export const captionQuery = z.object({
  maxLineWidth: z.coerce.number().int().min(1).max(1000).optional(),
  maxLineCount: z.coerce.number().int().min(1).max(100).optional(),
});

/** `GET /v1/usage` query: a UTC day (default today). */
export const usageQuery = z
  .object({
    day: z
      .string()
      // abort: a day not in this shape gets this reason alone, not also the calendar check's about a date never read
      .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a UTC day as YYYY-MM-DD', abort: true })
      .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'must be a real calendar day')
      .optional(),
  })
  .strict();

export const RESPONSE_FORMATS = ['json', 'text', 'srt', 'vtt', 'verbose_json'] as const;

/** OpenAI's `timestamp_granularities`: segment, word or both (a repeated field's values joined with ','). */
const timestampGranularities = z.string().refine((v) => v.split(',').every((g) => g === 'segment' || g === 'word'), 'must be segment or word');

/** `POST /v1/audio/transcriptions|translations` multipart fields besides `file` (OpenAI's names). */
export const openAiFields = z
  .object({
    model: z.string().min(1).max(100),
    language: languageCode.optional(),
    prompt: z.string().max(1000).optional(),
    response_format: z.enum(RESPONSE_FORMATS).optional(),
    temperature: z.coerce.number().min(0).max(1).optional(),
    // OpenAI: segment, word or both (repeated field, joined with ','); needs response_format=verbose_json.
    'timestamp_granularities[]': timestampGranularities.optional(),
    // The same without `[]` (curl -F timestamp_granularities=word, as OpenAI's own server takes it); both may be sent.
    timestamp_granularities: timestampGranularities.optional(),
    // OpenAI's `include[]=logprobs` gives per-token log-probabilities for its gpt-4o models only; our
    // chunk store keeps no tokens, so it is refused by name rather than answered without them.
    'include[]': z
      .string()
      .refine(() => false, {
        error: (iss) => {
          const why = 'logprobs is not available: per-token log-probabilities are not kept; use response_format=verbose_json for avg_logprob per segment';
          const other = String(iss.input)
            .split(',')
            .find((v) => v !== 'logprobs');
          return other === undefined ? why : `must be logprobs, the one value OpenAI defines (got ${JSON.stringify(other.slice(0, 40))}), and ${why}`;
        },
      })
      .optional(),
    // Accepted for compatibility: we always chunk at silences ourselves. OpenAI's string form is "auto" only (its
    // object form arrives as bracketed multipart keys, api/routes/openai.ts CHUNKING_STRATEGY_KEY).
    chunking_strategy: z.literal('auto', { error: 'must be "auto" or an object (chunking_strategy[type]=server_vad, …)' }).optional(),
    /** `true`: server-sent events `transcript.text.delta` … `transcript.text.done` (json or text format only) */
    stream: boolString.optional(),
  })
  .strict();

// ---- responses ----

const isoTime = z.iso.datetime();
/**
 * A word of a segment (jobs made with `wordTimestamps`): seconds on the segment's time line, inside the
 * segment; `word` keeps Whisper's leading space; `probability` is the mean of its tokens' probabilities.
 */
export const wordSchema = z.looseObject({ word: z.string(), start: z.number(), end: z.number(), probability: z.number().min(0).max(1) });
/** A transcript segment; times in seconds from the start of the audio. */
export const segmentSchema = z.looseObject({
  start: z.number(),
  end: z.number(),
  text: z.string(),
  channel: z.number().int().optional(),
  words: z.array(wordSchema).optional(),
  /** Whisper's figures of the decoding attempt that produced the segment (absent on jobs stored before they were kept) */
  avgLogprob: z.number().optional(),
  noSpeechProb: z.number().optional(),
  compressionRatio: z.number().optional(),
  temperature: z.number().optional(),
  tokens: z.array(z.number().int()).optional(),
  /** ISO 639-1 code of the language the segment was transcribed in (its window's; absent on jobs stored before) */
  language: z.string().optional(),
  /** start of the 30 s window the segment was decoded in, seconds, ≤ start (verbose_json `seek`; absent on jobs stored before) */
  windowStart: z.number().min(0).optional(),
});

/** The job JSON (docs/api.md `GET /v1/jobs/{id}`, generated from this). */
export const jobSchema = z.looseObject({
  id: z.string().regex(UUID_RE),
  status: z.enum(JOB_STATUSES),
  mode: z.enum(['cloud', 'edge']),
  priorityClass: z.enum(PRIORITY_CLASSES),
  tier: z.enum(TIERS),
  model: z.string().nullable(),
  modelTier: z.enum(MODEL_TIERS).nullable(),
  backend: z.enum(BACKENDS).nullable(),
  /** audio by URL: the URL without userinfo, query string or fragment; null for uploads */
  url: z.string().nullable(),
  /** the language with the most speech (given, or detected window by window) */
  language: z.string().nullable(),
  /** the detection probability of `language` (mean over its windows, by speech); null when given or not detected */
  languageProbability: z.number().nullable(),
  /** seconds of speech (VAD) per language, most first; null until the job's chunks are transcribed */
  languages: z.array(z.looseObject({ language: z.string(), seconds: z.number() })).nullable(),
  audioSeconds: z.number().nullable(),
  billedSeconds: z.number().int().nullable(),
  createdAt: isoTime,
  startedAt: isoTime.nullable(),
  firstResultAt: isoTime.nullable(),
  completedAt: isoTime.nullable(),
  waitingFor: z.enum(['capacity']).nullable(),
  cost: z.looseObject({ expectedPerMinute: z.number().nullable(), actualPerMinute: z.number().nullable() }),
  /** chunks moved off spot; a multichannel job's name their `channel` and count `chunk` within it */
  fallbacks: z.array(
    z.looseObject({ chunk: z.number().int(), channel: z.number().int().optional(), from: z.enum(BACKENDS), to: z.enum(BACKENDS), reason: z.string() }),
  ),
  error: z.looseObject({ code: z.string(), message: z.string() }).optional(),
  text: z.string().optional(),
  segments: z.array(segmentSchema).optional(),
  channels: z.array(z.looseObject({ channel: z.number().int(), text: z.string(), segments: z.array(segmentSchema) })).optional(),
  progress: z.looseObject({ chunksDone: z.number().int(), chunksTotal: z.number().int().nullable() }),
  producedBy: z.enum(['server', 'edge']),
  /** the version these fields describe: the latest (1 until the job is re-transcribed) */
  version: z.number().int().min(1),
  /** every version, oldest first */
  versions: z.array(
    z.looseObject({
      version: z.number().int().min(1),
      status: z.enum(JOB_STATUSES),
      model: z.string().nullable(),
      createdAt: isoTime,
      completedAt: isoTime.nullable(),
      billedSeconds: z.number().int().nullable(),
    }),
  ),
  /** while the audio is retained for re-transcription, until when; null when it is not (or no longer) kept */
  audioRetainedUntil: isoTime.nullable(),
});

export const jobCreatedSchema = z.looseObject({
  id: z.string().regex(UUID_RE),
  status: z.literal('queued'),
  links: z.looseObject({ self: z.string(), events: z.string() }),
});

export const jobListSchema = z.looseObject({ data: z.array(jobSchema), nextCursor: z.string().nullable() });
/** The 202 of a cancel: the job JSON as it is when the cancel is accepted (it reads `cancelled` once done). */
export const cancelAcceptedSchema = jobSchema;
export const transcriptJsonSchema = z.looseObject({
  id: z.string().regex(UUID_RE),
  version: z.number().int().min(1),
  language: z.string().nullable(),
  text: z.string(),
  segments: z.array(segmentSchema),
});
export const tokenSchema = z.looseObject({ token: z.string(), expiresAt: isoTime });

/** Our error shape; quota refusals add `limit`, `used`, `resetAt`. */
export const errorSchema = z.looseObject({ error: z.looseObject({ code: z.string(), message: z.string() }) });
/** OpenAI's error shape (OpenAI-compatible routes). */
export const openAiErrorSchema = z.looseObject({
  error: z.looseObject({ message: z.string(), type: z.string(), code: z.string().nullable(), param: z.string().nullable() }),
});

/** One model in OpenAI's shape, plus ours: `aliasOf` on `whisper-1` (the tier default it stands for). */
export const modelSchema = z.looseObject({
  id: z.string(),
  object: z.literal('model'),
  created: z.number().int(),
  owned_by: z.string(),
  multilingual: z.boolean(),
  allowed: z.boolean(),
  aliasOf: z.string().optional(),
});

export const modelListSchema = z.looseObject({
  object: z.literal('list'),
  data: z.array(modelSchema),
});

/** OpenAI's duration usage of a transcription: the seconds this job was billed (speech sent to inference, rounded up). */
const openAiUsageSchema = z.looseObject({ type: z.literal('duration'), seconds: z.number().int() });

/** OpenAI's transcription answer: `{text}` for json, the verbose shape for verbose_json. */
export const openAiTranscriptionSchema = z.union([
  z.looseObject({
    task: z.enum(['transcribe', 'translate']),
    language: z.string().nullable(),
    duration: z.number().nullable(),
    text: z.string(),
    // timestamp_granularities[]: segment (the default) gives `segments`, word gives `words`; both, both
    segments: z
      .array(
        z.looseObject({
          id: z.number().int(),
          seek: z.number(),
          start: z.number(),
          end: z.number(),
          text: z.string(),
          tokens: z.array(z.number().int()),
          temperature: z.number().nullable(),
          avg_logprob: z.number().nullable(),
          compression_ratio: z.number().nullable(),
          no_speech_prob: z.number().nullable(),
        }),
      )
      .optional(),
    words: z.array(z.looseObject({ word: z.string(), start: z.number(), end: z.number() })).optional(),
    usage: openAiUsageSchema,
  }),
  z.looseObject({ text: z.string(), usage: openAiUsageSchema }),
]);

/**
 * `GET /v1/usage`: the caller's UTC day from the usage ledger. Seconds of audio; `usedSeconds` counts what
 * the day's jobs reserved net of refunds (a running job counts its whole file until it settles to what was
 * billed), the number a 429 `quota_exceeded` calls `used`; null limits are unlimited (premium).
 */
export const usageSchema = z.looseObject({
  tier: z.enum(TIERS),
  day: z.string(),
  usedSeconds: z.number().int(),
  billedSeconds: z.number().int(),
  limitSeconds: z.number().int().nullable(),
  remainingSeconds: z.number().int().nullable(),
  resetAt: isoTime,
  /** jobs holding a concurrency slot now (any day) */
  activeJobs: z.number().int(),
  limits: z.looseObject({
    dailySeconds: z.number().int().nullable(),
    concurrentJobs: z.number().int(),
    maxFileBytes: z.number().int(),
    maxAudioSeconds: z.number().int(),
    requestsPerMinute: z.number().int(),
  }),
});

export const healthSchema = z.looseObject({ status: z.literal('ok') });
export const readinessSchema = z.looseObject({ postgres: z.boolean(), temporal: z.boolean(), redis: z.boolean() });

/** A received value as a short quoted snippet for an error sentence (never the whole of a giant field). */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Number.isNaN(v)) return 'not a number';
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > 40 ? `${s.slice(0, 37)}…` : s;
}

/**
 * "unknown field(s): a, b": each name cut to 40 characters and at most 5 named, so a hostile field name
 * (busboy allows 100 bytes, JSON any length) is not echoed back whole.
 */
function unknownFields(keys: readonly string[]): string {
  const names = keys.slice(0, 5).map((k) => (k.length > 40 ? `${k.slice(0, 37)}…` : k));
  return `unknown field(s): ${names.join(', ')}${keys.length > 5 ? ` and ${keys.length - 5} more` : ''}`;
}

/** What a zod `expected` type reads as in a sentence. */
const EXPECTED: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'a list',
};

/**
 * Our sentence for a zod issue whose schema gave none. Zod's own defaults ("Invalid input: expected number,
 * received NaN", "Too big: expected string to have <=1000 characters") name its internals, not the request;
 * a schema's own message (e.g. `languageCode`'s) takes precedence over this map (zod v4: schema-level error
 * > per-parse error map), so this only replaces the defaults. The field's name is added by describeZodError.
 */
export function issueMessage(iss: z.core.$ZodRawIssue): string {
  const input = (iss as { input?: unknown }).input;
  switch (iss.code) {
    case 'invalid_type': {
      if (input === undefined) return 'is required';
      // A repeated query parameter or form field arrives as a list.
      if (Array.isArray(input) && iss.expected !== 'array' && iss.path?.length) return 'was given more than once; give it once';
      if (iss.expected === 'boolean' && typeof input === 'string') return `must be a JSON boolean, true or false (got the string ${shown(input)})`;
      if (iss.expected === 'number' && typeof input === 'number' && Number.isNaN(input)) return 'must be a number';
      return `must be ${EXPECTED[iss.expected] ?? iss.expected} (got ${Array.isArray(input) ? 'a list' : input === null ? 'null' : typeof input === 'object' ? 'an object' : shown(input)})`;
    }
    case 'too_big': {
      const max = String(iss.maximum);
      if (iss.origin === 'string') return `must be at most ${max} characters (got ${typeof input === 'string' ? input.length : 'more'})`;
      if (iss.origin === 'array' || iss.origin === 'set') return `must have at most ${max} items`;
      return `must be ${iss.inclusive === false ? 'less than' : 'at most'} ${max} (got ${shown(input)})`;
    }
    case 'too_small': {
      const min = String(iss.minimum);
      if (iss.origin === 'string') return Number(iss.minimum) === 1 ? 'must not be empty' : `must be at least ${min} characters`;
      if (iss.origin === 'array' || iss.origin === 'set') return `must have at least ${min} items`;
      return `must be ${iss.inclusive === false ? 'more than' : 'at least'} ${min} (got ${shown(input)})`;
    }
    case 'invalid_value': {
      const values = (iss as { values?: unknown[] }).values ?? [];
      if (Array.isArray(input) && iss.path?.length) return 'was given more than once; give it once';
      return values.length === 1 ? `must be ${shown(values[0])} (got ${shown(input)})` : `must be one of ${values.map(String).join(', ')} (got ${shown(input)})`;
    }
    case 'invalid_format': {
      const format = (iss as { format?: string }).format;
      if (format === 'url') return `must be a URL (got ${shown(input)})`;
      if (format === 'uuid' || format === 'guid') return `must be an id such as 3f0c…-…, a UUID (got ${shown(input)})`;
      if (format === 'datetime') return `must be an ISO 8601 UTC time (got ${shown(input)})`;
      return `is not in the expected form (got ${shown(input)})`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${String((iss as { divisor?: unknown }).divisor)}`;
    case 'unrecognized_keys':
      return unknownFields(iss.keys);
    case 'invalid_union':
      return 'matches none of the accepted shapes';
    default:
      return 'is not valid';
  }
}

/**
 * `schema.safeParse(value)` with our sentences for zod's default messages ({@link issueMessage}); every
 * request the API validates goes through this, so a user never reads zod's words.
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.ZodSafeParseResult<z.output<S>> {
  return schema.safeParse(value, { error: issueMessage });
}

/**
 * Query parameters given empty (`?maxLineWidth=&format=srt`, what an HTML form sends for a blank field):
 * zod's number coercion would read '' as 0 and answer "must be at least 1 (got 0)", which the caller never
 * sent; this names them instead. Null when none is empty.
 */
export function emptyQueryParams(query: Record<string, unknown>): string | null {
  const empty = Object.entries(query)
    .filter(([, v]) => v === '' || (Array.isArray(v) && v.includes('')))
    .map(([k]) => (k.length > 40 ? `${k.slice(0, 37)}…` : k));
  if (!empty.length) return null;
  return `${empty.join(', ')}: given empty; give ${empty.length > 1 ? 'values' : 'a value'} or leave ${empty.length > 1 ? 'them' : 'it'} out`;
}

/**
 * The first query parameter given more than once (`?limit=2&limit=3`), as a sentence; null when none is. Checked
 * before the schema, whose own sentence for the array a repeated number becomes is only "must be a number".
 */
export function repeatedQueryParam(query: Record<string, unknown>): string | null {
  const name = Object.keys(query).find((k) => Array.isArray(query[k]));
  return name === undefined ? null : `${name.length > 40 ? `${name.slice(0, 37)}…` : name}: was given more than once; give it once`;
}

/** Query parameters not in `known`, as the strict schemas' sentence (`unknown field(s): a, b`); null when none. */
export function unknownQueryParams(query: Record<string, unknown>, known: readonly string[]): string | null {
  const unknown = Object.keys(query)
    .filter((k) => !known.includes(k))
    .map((k) => (k.length > 40 ? `${k.slice(0, 37)}…` : k));
  return unknown.length ? `unknown field(s): ${unknown.join(', ')}` : null;
}

/**
 * A route's whole query string checked against `schema`: empty parameters named first (emptyQueryParams), then the
 * schema's own sentence (describeZodError).
 * @returns the parsed query
 * @throws ApiError 400 invalid_request with that sentence
 */
export function parseQuery<S extends z.ZodType>(schema: S, query: Record<string, unknown>): z.output<S> {
  const empty = emptyQueryParams(query);
  if (empty) throw new ApiError(400, 'invalid_request', empty);
  const repeated = repeatedQueryParam(query);
  if (repeated) throw new ApiError(400, 'invalid_request', repeated);
  const q = validate(schema, query);
  if (!q.success) throw new ApiError(400, 'invalid_request', describeZodError(q.error, 'the query'));
  return q.data;
}

/**
 * Turns a zod error into one sentence naming the fields: `field: what is wrong (got …)`, issues joined by
 * "; ". `whole` names an issue about the whole input (a body that is not an object, a union that matched
 * nothing).
 */
export function describeZodError(err: z.ZodError, whole = 'the body'): string {
  return err.issues
    .map((i) => {
      if (i.code === 'unrecognized_keys') return unknownFields(i.keys);
      const where = i.path.map(String).join('.') || whole;
      return `${where}: ${i.message}`;
    })
    .join('; ');
}

// ---- GET /v1/listen (WebSocket) ----

/** The first message of a live stream. */
export const liveStartMessage = z
  .object({
    type: z.literal('start'),
    model: z.string().min(1).max(100).optional(),
    language: languageCode.optional(),
    sampleRate: z.number().int().min(8000).max(48000),
    encoding: z.enum(['pcm_s16le', 'f32']),
    /** true: `final` messages carry `words: [{word, start, end, probability}]` (seconds on the stream's time line) */
    wordTimestamps: z.boolean().optional(),
  })
  .strict();
export const liveStopMessage = z.object({ type: z.literal('stop') }).strict();
