/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas in ./schemas.ts — the same
 * objects that validate requests — through zod's `z.toJSONSchema` (OpenAPI 3.1 schemas are JSON Schema
 * 2020-12). Served at /openapi.json and rendered at /docs; test/integration/openapi.test.ts calls every
 * operation listed here against a running app and checks status codes and bodies against it.
 */
import { z } from 'zod';
import { TRANSCRIPT_FORMATS } from './transcript-formats';
import {
  cancelAcceptedSchema,
  captionQuery,
  createJobFields,
  errorSchema,
  healthSchema,
  jobCreatedSchema,
  jobListSchema,
  jobSchema,
  listJobsQuery,
  liveStartMessage,
  modelListSchema,
  modelSchema,
  openAiErrorSchema,
  openAiFields,
  openAiTranscriptionSchema,
  readinessSchema,
  retranscribeBody,
  tokenRequest,
  tokenSchema,
  transcriptJsonSchema,
  usageQuery,
  usageSchema,
} from './schemas';
import { edgeAcceptedSchema, edgeResultSchema } from './edge/schemas';

type JsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema: `input` for what clients send, `output` for what we answer. */
function schema(s: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const json = (s: z.ZodType) => ({ 'application/json': { schema: schema(s, 'output') } });
const text = { schema: { type: 'string' } };

/** The audio part of a multipart request (any container/codec ffmpeg reads). */
const FILE_PART = { type: 'string', format: 'binary', contentMediaType: 'application/octet-stream', description: 'the audio' };

/** A multipart body: the route's zod fields plus the required `file` part. */
function multipart(fields: z.ZodType, fileRequired: boolean): JsonSchema {
  const s = schema(fields, 'input') as { properties: JsonSchema; required?: string[] };
  return {
    required: true,
    content: {
      'multipart/form-data': {
        schema: { ...s, properties: { file: FILE_PART, ...s.properties }, required: [...(fileRequired ? ['file'] : []), ...(s.required ?? [])] },
      },
    },
  };
}

/**
 * POST /v1/jobs: multipart with `file` (or `url` instead), or JSON with `url` and the same fields (JSON
 * booleans and numbers are accepted where multipart sends their text).
 */
function jobsBody(): JsonSchema {
  const body = multipart(createJobFields, false) as { required: boolean; content: Record<string, unknown> };
  const fields = schema(createJobFields, 'input');
  return {
    ...body,
    content: {
      ...body.content,
      'application/json': { schema: { ...fields, required: ['url'] } },
    },
  };
}

/** Query parameters from a zod object schema. */
function queryParams(q: z.ZodObject): JsonSchema[] {
  const s = schema(q, 'input') as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(s.properties).map(([name, p]) => ({ name, in: 'query', required: s.required?.includes(name) ?? false, schema: p }));
}

const ERROR_TEXT: Record<number, string> = {
  400: 'invalid_request, missing_file, or url_not_allowed (url: a scheme other than http(s), credentials, or an address the SSRF policy refuses, redirects included)',
  401: 'unauthorized: no key, unknown or revoked key, bad or expired token',
  403: 'model_not_allowed',
  404: 'not_found: unknown job, or another user’s job',
  408: 'request_timeout: the body sent nothing for UPLOAD_IDLE_TIMEOUT_SECONDS (or the headers took that long); the connection is closed',
  409:
    'not_cancellable, idempotency_conflict, not_completed (the job has no transcript until it is completed; retranscribe while a version runs), ' +
    'audio_not_retained (retranscribe: the job kept no audio, or its retention ended), ' +
    'edge_result_rejected (edge token used, late or for another job), not_awaiting_audio (not an edge job waiting for its audio) ' +
    'or words_not_available (captions by maxLineWidth/maxLineCount of a job made without wordTimestamps)',
  413: 'file_too_large, audio_too_long, body_too_large (a JSON body over 64 KB), or edge_result_rejected (over the size bound)',
  415: 'unsupported_media_type',
  422:
    'unsupported_audio (what the headers show: empty, a cut header, shorter than its header says, not audio, no audio stream, or not an allowed audio container: playlists, concat scripts, images, SDP…; ' +
    'audio damaged beyond its headers is admitted and its job then fails with error code unsupported_audio, its reservation released in full), ' +
    'edge_not_possible (mode=edge on a device that cannot, without allowFallback) or url_unreachable (url: DNS or connection failure, a non-2xx answer, more than 3 redirects, a timeout)',
  426: 'upgrade_required: this route speaks WebSocket only',
  429: 'quota_exceeded, concurrency_limit (jobs, or uploads in flight, decided before the body is read) or rate_limited (with limit, used, resetAt and Retry-After)',
  503: 'quota_unavailable or no_capacity (with Retry-After)',
};

function errors(statuses: number[], openAi = false, text: Record<number, string> = {}): Record<string, JsonSchema> {
  return Object.fromEntries(
    statuses.map((st) => [String(st), { description: text[st] ?? ERROR_TEXT[st] ?? 'error', content: json(openAi ? openAiErrorSchema : errorSchema) }]),
  );
}

/**
 * The OpenAI-compatible audio routes' errors: only what they answer (no url, edge or job-route codes), plus the
 * outcome of the job they wait for when it did not complete. Answers a retry cannot change carry
 * `x-should-retry: false`, which the official clients obey instead of retrying on their own.
 */
const OPENAI_AUDIO_ERROR_TEXT: Record<number, string> = {
  400: 'invalid_request (param names the field) or missing_file',
  409:
    'idempotency_conflict (the same Idempotency-Key with another request), or cancelled (the job was cancelled while the call waited); ' +
    'both with x-should-retry: false',
  413: 'file_too_large, or audio_too_long (over the tier’s limit, or the synchronous routes’ SYNC_MAX_AUDIO_S, 20 min by default)',
  422: 'unsupported_audio (param file): refused at admission, or the job failed decoding audio damaged beyond its headers',
  429:
    'quota_exceeded (with x-should-retry: false: its Retry-After runs to UTC midnight), concurrency_limit or rate_limited ' +
    '(Retry-After in seconds)',
  500:
    'the job failed: its error code (inference_failed, or internal for a failure that is not the caller’s). Without an Idempotency-Key a ' +
    'retry runs a new job (the client may retry); with one, a retry gets the same job, so it carries x-should-retry: false',
  503: 'quota_unavailable, no_capacity (no worker on any queue the tier may use) or unavailable (with Retry-After)',
};

const jobId = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', minLength: 1, maxLength: 255 },
  description: 'the same key from the same user within 24 h returns the first answer',
};
const PUBLIC = { security: [] as unknown[] };

function openAiAudio(summary: string) {
  return {
    summary,
    tags: ['OpenAI-compatible'],
    parameters: [idempotencyKey],
    requestBody: multipart(openAiFields, true),
    responses: {
      '200': {
        description: 'the transcript in the requested response_format',
        content: {
          ...json(openAiTranscriptionSchema),
          'text/plain': text,
          'text/vtt': text,
          'text/event-stream': {
            schema: { type: 'string' },
            description:
              'stream=true (response_format json or text): `data: {"type":"transcript.text.delta","delta"}` per transcript segment, in order, ' +
              'as soon as it is final; then `data: {"type":"transcript.text.done","text"}`. The deltas concatenate to text. A job that fails ' +
              'ends the stream with `event: error` and OpenAI’s error body; a client that disconnects cancels the job.',
          },
        },
      },
      ...errors([400, 401, 403, 408, 409, 413, 415, 422, 429, 500, 503], true, OPENAI_AUDIO_ERROR_TEXT),
    },
  };
}

/** Builds the OpenAPI document (call once; it is a plain object). */
export function buildOpenApi(): JsonSchema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'fairscribe',
      version: '1',
      description:
        'Multi-tenant speech-to-text. Our routes use camelCase JSON and {"error": {"code", "message"}}; the ' +
        'OpenAI-compatible routes use OpenAI’s shapes. Every route but /healthz, /readyz, /metrics, /openapi.json, /docs ' +
        'and privacy mode’s page (/edge) needs `Authorization: Bearer <apiKey>`; privacy mode’s plan and edge-result ' +
        'routes take the edge token instead, and GET /v1/jobs/{id}/events and GET /v1/listen also accept `?token=` ' +
        'from POST /v1/tokens (browsers cannot set headers there).',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'an API key fsk_…' },
        edgeToken: { type: 'http', scheme: 'bearer', description: 'the edge token fset_… of an edge job’s plan (single use, that job only, until its deadline)' },
      },
    },
    security: [{ apiKey: [] }],
    paths: {
      '/healthz': { get: { summary: 'process up', tags: ['ops'], ...PUBLIC, responses: { '200': { description: 'up', content: json(healthSchema) } } } },
      '/readyz': {
        get: {
          summary: 'Temporal, Postgres and Redis reachable',
          tags: ['ops'],
          ...PUBLIC,
          responses: {
            '200': { description: 'ready', content: json(readinessSchema) },
            '503': { description: 'a dependency is unreachable (with Retry-After)', content: json(readinessSchema) },
          },
        },
      },
      '/openapi.json': {
        get: { summary: 'this document', tags: ['ops'], ...PUBLIC, responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics of this process (text exposition format)',
          tags: ['ops'],
          ...PUBLIC,
          responses: { '200': { description: 'metrics', content: { 'text/plain': text } } },
        },
      },
      '/docs': {
        get: { summary: 'this document, rendered (Swagger UI)', tags: ['ops'], ...PUBLIC, responses: { '200': { description: 'HTML', content: { 'text/html': text } } } },
      },
      '/v1/jobs': {
        post: {
          summary: 'submit audio as a job: a multipart upload (file), or a url to fetch (JSON or a multipart field)',
          tags: ['jobs'],
          parameters: [idempotencyKey],
          requestBody: jobsBody(),
          responses: {
            '202': { description: 'admitted', content: json(jobCreatedSchema) },
            ...errors([400, 401, 403, 408, 409, 413, 415, 422, 429, 503]),
          },
        },
        get: {
          summary: 'your jobs, newest first (cursor pagination)',
          tags: ['jobs'],
          parameters: queryParams(listJobsQuery),
          responses: { '200': { description: 'a page', content: json(jobListSchema) }, ...errors([400, 401]) },
        },
      },
      '/v1/jobs/{id}': {
        get: {
          summary: 'a job',
          tags: ['jobs'],
          parameters: [jobId],
          responses: { '200': { description: 'the job JSON', content: json(jobSchema) }, ...errors([401, 404]) },
        },
        delete: {
          summary: 'delete a job (cancels it first if running); its ledger rows are kept',
          tags: ['jobs'],
          parameters: [jobId],
          responses: { '204': { description: 'deleted' }, ...errors([401, 404]) },
        },
      },
      '/v1/jobs/{id}/transcript': {
        get: {
          summary: 'a completed job’s transcript',
          tags: ['jobs'],
          parameters: [
            jobId,
            { name: 'format', in: 'query', required: false, schema: { type: 'string', enum: [...TRANSCRIPT_FORMATS], default: 'text' } },
            // srt/vtt laid out by word times, as openai/whisper's --max_line_width / --max_line_count
            ...queryParams(captionQuery),
            {
              name: 'version',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 1 },
              description: 'a version of a re-transcribed job (default: the newest completed one)',
            },
          ],
          responses: {
            '200': {
              description: 'text, SRT, WebVTT or JSON',
              content: { 'text/plain': text, 'application/x-subrip': text, 'text/vtt': text, ...json(transcriptJsonSchema) },
            },
            ...errors([400, 401, 404, 409]),
          },
        },
      },
      '/v1/jobs/{id}/retranscribe': {
        post: {
          summary: 'version n+1 of a completed job whose audio is retained (retainAudioSeconds), with another model; earlier versions stay readable',
          description:
            'Admitted like a new job (the tier’s model rules, quota reserved and charged for this version on its own). The job then shows the ' +
            'new version (status, model, transcript once completed) with `version` and `versions`; `GET …/transcript?version=n` reads any ' +
            'version; cancel acts on the running version; events and webhooks carry `version`.',
          tags: ['jobs'],
          parameters: [jobId],
          requestBody: { required: true, content: { 'application/json': { schema: schema(retranscribeBody, 'input') } } },
          responses: {
            '202': { description: 'the new version is admitted: the job JSON (version n+1, queued)', content: json(jobSchema) },
            ...errors([400, 401, 403, 404, 409, 415, 422, 429, 503]),
          },
        },
      },
      '/v1/jobs/{id}/events': {
        get: {
          summary: 'Server-Sent Events: progress, segment, then completed | failed | cancelled | expired with the job JSON',
          description:
            'Events: `progress` {chunksDone, chunksTotal, version}; `segment` {chunk, start, end, text, language, words?, channel? ' +
            '(multichannel jobs: the 0-based channel, as in the job JSON; `chunk` is then the 0-based index of the chunk within ' +
            'its channel)} once its ' +
            'chunk\'s overlap with its neighbours is resolved (start/end in seconds on the job\'s time line, language as the ' +
            'job JSON\'s segments[].language); then one terminal event with the job JSON.',
          tags: ['jobs'],
          parameters: [
            jobId,
            { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } },
            { name: 'token', in: 'query', required: false, schema: { type: 'string' }, description: 'from POST /v1/tokens, for EventSource' },
          ],
          responses: {
            '200': { description: 'an event stream', content: { 'text/event-stream': text } },
            '204': { description: 'Last-Event-ID is at or past the terminal event: the stream is over (EventSource stops reconnecting)' },
            ...errors([400, 401, 404]),
          },
        },
      },
      '/v1/jobs/{id}/cancel': {
        post: {
          summary: 'cancel a job',
          tags: ['jobs'],
          parameters: [jobId],
          responses: {
            '202': { description: 'accepted: the job as it is now (it reads cancelled once its clean-up is done)', content: json(cancelAcceptedSchema) },
            ...errors([401, 404, 409]),
          },
        },
      },
      '/v1/jobs/{id}/edge-result': {
        post: {
          summary: 'privacy mode: the browser’s result, only {text, segments, language}; the job completes with producedBy "edge", 0 s billed',
          tags: ['privacy mode'],
          security: [{ edgeToken: [] }],
          parameters: [jobId],
          requestBody: { required: true, content: { 'application/json': { schema: schema(edgeResultSchema, 'input') } } },
          responses: { '202': { description: 'the job took the result', content: json(edgeAcceptedSchema) }, ...errors([400, 401, 404, 408, 409, 413, 415]) },
        },
      },
      '/v1/jobs/{id}/audio': {
        put: {
          summary: 'privacy mode’s cloud fallback: the audio of an edge job that allows it (normal admission, so it may answer 429)',
          tags: ['privacy mode'],
          parameters: [jobId],
          requestBody: multipart(z.object({}), true),
          responses: { '202': { description: 'admitted: the job continues on the cloud path', content: json(jobCreatedSchema) }, ...errors([400, 401, 404, 408, 409, 413, 415, 422, 429, 503]) },
        },
      },
      '/v1/tokens': {
        post: {
          summary: 'a ≤ 5 min token for ?token= on one job’s events or on /v1/listen',
          tags: ['auth'],
          requestBody: { required: true, content: { 'application/json': { schema: schema(tokenRequest, 'input') } } },
          responses: { '201': { description: 'the token', content: json(tokenSchema) }, ...errors([400, 401, 404, 408, 413, 415]) },
        },
      },
      '/v1/usage': {
        get: {
          summary: 'your quota: a UTC day’s audio seconds used, billed and left, jobs running, and your tier’s limits',
          description:
            'From the usage ledger (the quota’s truth), so it answers while Redis is down. usedSeconds is what counts against ' +
            'the daily limit (a running job counts its whole file until it is settled to the seconds billed) and what a 429 ' +
            'quota_exceeded calls `used`; limitSeconds and remainingSeconds are null on an unlimited tier.',
          tags: ['quota'],
          parameters: queryParams(usageQuery),
          responses: { '200': { description: 'the day’s usage', content: json(usageSchema) }, ...errors([400, 401]) },
        },
      },
      '/v1/models': {
        get: {
          summary: 'installed models (OpenAI’s list shape) and whether your tier may use each',
          tags: ['OpenAI-compatible'],
          responses: { '200': { description: 'the models', content: json(modelListSchema) }, ...errors([401], true) },
        },
      },
      '/v1/models/{model}': {
        get: {
          summary: 'one model (OpenAI’s shape); whisper-1 is the alias of your tier’s default model',
          tags: ['OpenAI-compatible'],
          parameters: [{ name: 'model', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'the model', content: json(modelSchema) }, ...errors([401, 404], true) },
        },
      },
      '/v1/listen': {
        get: {
          summary: 'live transcription over WebSocket',
          description:
            'Upgrade to a WebSocket (Bearer key, or ?token= from POST /v1/tokens {"scope":"listen"}). Client: the start ' +
            'message (schema below), then binary frames of mono samples in the chosen encoding, then {"type":"stop"}. ' +
            'Server: {"type":"partial","text"}, {"type":"final","text","start","end","language"} per utterance (language: ' +
            'the stream\'s, or the one detected on the utterance), ' +
            '{"type":"done","jobId","text","audioSeconds"}, or {"type":"error","code","message","jobId"?} (jobId once the stream has its job; ' +
            'a refusal also carries its numbers, e.g. limit, used, resetAt, and retryAfterSeconds where the same refusal over HTTP ' +
            'sends Retry-After: quota_unavailable, no_capacity, unavailable (close 1013), concurrency_limit, quota_exceeded at start) and a close ' +
            '(codes: invalid_request, start_timeout, idle_timeout, quota_exceeded, concurrency_limit, too_fast, ' +
            'slow_client, no_capacity, model_not_allowed, frame_too_large, cancelled). frame_too_large: a message (binary or ' +
            'text) over 65536 bytes, answered before the close 1009. The stream is recorded as a job (priorityClass ' +
            'live): completed with the whole transcript when the client stops or goes away, failed with the code when ' +
            'it breaks the protocol (its Temporal workflow then closes Completed with result status failed: Failed is kept ' +
            'for the service\'s own failures).',
          tags: ['live'],
          parameters: [{ name: 'token', in: 'query', required: false, schema: { type: 'string' } }],
          'x-websocket-start-message': schema(liveStartMessage, 'input'),
          responses: {
            '101': { description: 'switching to the WebSocket protocol' },
            ...errors([401, 426]),
          },
        },
      },
      '/v1/audio/transcriptions': { post: openAiAudio('transcribe and wait (OpenAI’s shapes)') },
      '/v1/audio/translations': { post: openAiAudio('translate to English and wait (OpenAI’s shapes)') },
    },
  };
}
