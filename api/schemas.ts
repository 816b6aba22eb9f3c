/**
 * Request and response schemas (zod): the one definition that validates requests and generates the
 * OpenAPI document (api/openapi.ts, through zod's `z.toJSONSchema`). Multipart fields arrive as
 * strings, so booleans are parsed from "true"/"false". Response schemas are loose objects: clients
 * must tolerate fields added later; every documented field is checked by the contract test.
 */
import { z } from 'zod';
import { BACKENDS, JOB_STATUSES, MODEL_TIERS, PRIORITY_CLASSES, TIERS } from '../common/constants';
import { UUID_RE } from '../common/ids';
import { WHISPER_LANGUAGES } from '../common/languages';

const boolString = z.enum(['true', 'false']).transform((v) => v === 'true');

/**
 * A language Whisper knows (openai/whisper tokenizer.py LANGUAGES), as its ISO 639-1 code: a code it does
 * not know would only fail later in the decoder, after the job was admitted and retried.
 */
export const languageCode = z.enum(Object.keys(WHISPER_LANGUAGES) as [string, ...string[]], {
  error: 'must be a language Whisper supports, as an ISO 639-1 code such as "en"',
});

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

export const RESPONSE_FORMATS = ['json', 'text', 'srt', 'vtt', 'verbose_json'] as const;

/** `POST /v1/audio/transcriptions|translations` multipart fields besides `file` (OpenAI's names). */
export const openAiFields = z
  .object({
    model: z.string().min(1).max(100),
    language: languageCode.optional(),
    prompt: z.string().max(1000).optional(),
    response_format: z.enum(RESPONSE_FORMATS).optional(),
    temperature: z.coerce.number().min(0).max(1).optional(),
    // OpenAI: segment, word or both (repeated field, joined with ','); needs response_format=verbose_json.
    'timestamp_granularities[]': z
      .string()
      .refine((v) => v.split(',').every((g) => g === 'segment' || g === 'word'), 'must be segment or word')
      .optional(),
    // OpenAI's `include[]=logprobs` gives per-token log-probabilities for its gpt-4o models only; our
    // chunk store keeps no tokens, so it is refused by name rather than answered without them.
    'include[]': z
      .string()
      .refine(() => false, 'include[]=logprobs is not available: per-token log-probabilities are not kept; use response_format=verbose_json for avg_logprob per segment')
      .optional(),
    // Accepted for compatibility: we always chunk at silences ourselves.
    chunking_strategy: z.string().optional(),
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
  fallbacks: z.array(z.looseObject({ chunk: z.number().int(), from: z.enum(BACKENDS), to: z.enum(BACKENDS), reason: z.string() })),
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
  }),
  z.looseObject({ text: z.string() }),
]);

export const healthSchema = z.looseObject({ status: z.literal('ok') });
export const readinessSchema = z.looseObject({ postgres: z.boolean(), temporal: z.boolean(), redis: z.boolean() });

/** Turns a zod error into one sentence naming the fields. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      if (i.code === 'unrecognized_keys') return `unknown field(s): ${i.keys.join(', ')}`;
      const where = i.path.join('.') || 'body';
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
