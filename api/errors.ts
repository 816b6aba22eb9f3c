/** Errors in our shape (docs/api.md "Errors"): HTTP status + {"error": {"code", "message", …details}}. */
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from '../common/log';
import { CONCURRENCY_RETRY_AFTER_S, JobRefusal, UNAVAILABLE_RETRY_AFTER_S, type Refusal, type RefusalCode } from '../jobs/refusal';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
    /** the request field the error is about (OpenAI's `param`), when the error came with one */
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** The HTTP status of each admission refusal (the OpenAPI document's error responses). */
const STATUS_OF_REFUSAL: Record<RefusalCode, number> = {
  invalid_request: 400,
  missing_file: 400,
  model_not_allowed: 403,
  not_awaiting_audio: 409,
  file_too_large: 413,
  audio_too_long: 413,
  unsupported_audio: 422,
  edge_not_possible: 422,
  concurrency_limit: 429,
  quota_exceeded: 429,
  no_capacity: 503,
  quota_unavailable: 503,
  unavailable: 503,
};

/**
 * The HTTP status of a job's error code, for the synchronous OpenAI routes that answer a failed job as an
 * error: a refusal code keeps its admission status (audio damaged beyond its header → 422 like a refusal at
 * admission, audio decoding past the tier's length → 413); `cancelled` → 409; anything else (`internal`, a
 * failure that is not the caller's) → 500.
 */
export function statusOfJobError(code: string | null | undefined, status: string | undefined): number {
  if (code && code in STATUS_OF_REFUSAL) return STATUS_OF_REFUSAL[code as RefusalCode];
  return status === 'cancelled' ? 409 : 500;
}

/** A refusal of the jobs module (jobs/refusal.ts) as our HTTP error: status by code, Retry-After, `param`. */
export function refusalError(r: Refusal): ApiError {
  const headers: Record<string, string> = r.retryAfterSeconds !== undefined ? { 'Retry-After': String(r.retryAfterSeconds) } : {};
  return new ApiError(STATUS_OF_REFUSAL[r.code], r.code, r.message, r.details, headers, r.field ?? null);
}

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}) {
  return { error: { code, message, ...details } };
}

/** Routes that speak OpenAI's API and so answer errors in OpenAI's shape. */
export function isOpenAiRoute(path: string): boolean {
  return path.startsWith('/v1/audio/') || path === '/v1/models' || path.startsWith('/v1/models/');
}

/** OpenAI's error `type` for an HTTP status, as OpenAI's API and its client libraries name them. */
function openAiErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** `{"error": {"message", "type", "code", "param"}}` with our code in `code`. */
export function openAiErrorBody(status: number, code: string, message: string, param: string | null = null) {
  return { error: { message, type: openAiErrorType(status), code, param } };
}

/** Codes that are always about one request field (OpenAI's `param`). */
const PARAM_OF_CODE: Record<string, string> = {
  missing_file: 'file',
  file_too_large: 'file',
  audio_too_long: 'file',
  unsupported_audio: 'file',
  model_not_allowed: 'model',
};

/** OpenAI's `param` of an error code that is always about one field (`file` for the audio's), else null. */
export function openAiParamOfCode(code: string): string | null {
  return PARAM_OF_CODE[code] ?? null;
}

/** OpenAI's `param` for an error: the field it names, when it names one; else null. */
function openAiParam(err: ApiError): string | null {
  if (err.param) return err.param;
  if (typeof err.details.param === 'string') return err.details.param;
  return PARAM_OF_CODE[err.code] ?? null;
}

/**
 * The official openai clients retry 408, 409, 429 and 5xx by themselves, re-sending the request (the whole upload)
 * up to twice, and wait as Retry-After says only up to 60 s, retrying after about a second otherwise; they obey
 * `x-should-retry` (openai-node client.ts shouldRetry). False for the refusals no retry in the next minute can
 * change: a 429 whose Retry-After is over a minute (quota_exceeded waits for UTC midnight) and a 409
 * idempotency_conflict (the same key with another request conflicts every time).
 */
function openAiClientShouldRetry(err: ApiError): boolean {
  if (err.status === 409 && err.code === 'idempotency_conflict') return false;
  if (err.status === 429) {
    const after = Number(err.headers['Retry-After']);
    return !(Number.isFinite(after) && after > 60);
  }
  return true;
}

/**
 * The Retry-After (seconds) of a 429 or 503 whose error named none, else null. Every such answer carries one
 * (docs/api.md "Errors"; RFC 9110 §10.2.3): clients (openai-node, our CLIs) wait by it. A refusal's own value
 * (the day's reset, a rate-limit window) always wins; this only fills the gap of an error built without one: a 503
 * waits like `quota_unavailable` (UNAVAILABLE_RETRY_AFTER_S), a 429 like `concurrency_limit` (CONCURRENCY_RETRY_AFTER_S).
 */
export function defaultRetryAfterSeconds(status: number): number | null {
  if (status === 503) return UNAVAILABLE_RETRY_AFTER_S;
  if (status === 429) return CONCURRENCY_RETRY_AFTER_S;
  return null;
}

/** Sets Retry-After on a 429 or 503 that has none yet ({@link defaultRetryAfterSeconds}). */
export function ensureRetryAfter(res: Pick<Response, 'hasHeader' | 'setHeader'>, status: number): void {
  const seconds = defaultRetryAfterSeconds(status);
  if (seconds !== null && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', String(seconds));
}

/** The last middleware: ApiErrors answer as themselves, anything else is a 500 that is logged. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (thrown, req, res, _next) => {
    // A refusal thrown by the jobs module answers like the error it maps to.
    const err = thrown instanceof JobRefusal ? refusalError(thrown.refusal) : thrown;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
      ensureRetryAfter(res, err.status);
      if (isOpenAiRoute(req.path) && !res.hasHeader('x-should-retry') && !openAiClientShouldRetry(err)) res.setHeader('x-should-retry', 'false');
      const body = isOpenAiRoute(req.path)
        ? openAiErrorBody(err.status, err.code, err.message, openAiParam(err))
        : errorBody(err.code, err.message, err.details);
      res.status(err.status).json(body);
      return;
    }
    // body-parser style errors carry a status (e.g. malformed JSON → 400)
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) log.error('unhandled error', { path: req.path, err });
    const { code, message } = status === 500 ? { code: 'internal', message: 'internal error' } : bodyReadError(status, err, req.path);
    ensureRetryAfter(res, status);
    res.status(status).json(isOpenAiRoute(req.path) ? openAiErrorBody(status, code, message) : errorBody(code, message));
  };
}

/**
 * Our code and sentence for a 4xx that body-parser (express.json) raised, by its documented `type`
 * (body-parser README "Errors": entity.too.large, entity.parse.failed, charset.unsupported,
 * encoding.unsupported, …). Its own messages are JavaScript's (`JSON.parse`'s "Unexpected token …"), so a
 * user reads ours; a 415 answers `unsupported_media_type` like every other 415 of the API.
 */
/** The fields of a body-parser error (http-errors) that the answer uses. */
interface BodyParserError {
  type?: string;
  length?: number;
  limit?: number;
  charset?: string;
  encoding?: string;
}

/** The example body a malformed-JSON sentence shows: the route's own (only POST /v1/jobs takes a url). */
function jsonBodyExample(path: string): string {
  if (path === '/v1/jobs') return ', e.g. {"url": "https://…"}';
  if (/^\/v1\/jobs\/[^/]+\/retranscribe$/.test(path)) return ', e.g. {"model": "whisper-base"}';
  if (path === '/v1/tokens') return ', e.g. {"jobId": "…"} or {"scope": "listen"}';
  return '';
}

function bodyReadError(status: number, err: BodyParserError | undefined, path = ''): { code: string; message: string } {
  switch (err?.type) {
    case 'entity.too.large':
      return { code: 'body_too_large', message: `the JSON body is ${err.length ?? 'more than'} bytes; at most ${err.limit} bytes are accepted` };
    case 'entity.parse.failed':
      return { code: 'invalid_request', message: `the body is not valid JSON: send one JSON object${jsonBodyExample(path)}` };
    case 'charset.unsupported':
      return { code: 'unsupported_media_type', message: `the body's charset ${String(err.charset ?? '').toUpperCase()} is not supported: send JSON in UTF-8` };
    case 'encoding.unsupported':
      return { code: 'unsupported_media_type', message: `Content-Encoding ${err.encoding ?? ''} is not supported: send the body uncompressed, or gzip, deflate or br` };
  }
  if (status === 415) return { code: 'unsupported_media_type', message: 'the body is in an encoding or charset this API does not read' };
  return { code: 'invalid_request', message: 'the request body could not be read' };
}

/** The admitted job of an admission, or its refusal thrown as our HTTP error. */
export function admittedOrThrow<T>(a: { ok: true; job: T } | { ok: false; refusal: Refusal }): T {
  if (!a.ok) throw refusalError(a.refusal);
  return a.job;
}
