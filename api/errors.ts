/** Errors in the shape of ../shared/API.md: HTTP status + {"error": {"code", "message", …details}}. */
import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../common/log';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}) {
  return { error: { code, message, ...details } };
}

/** Routes that speak OpenAI's API and so answer errors in OpenAI's shape. */
export function isOpenAiRoute(path: string): boolean {
  return path.startsWith('/v1/audio/') || path === '/v1/models' || path.startsWith('/v1/models/');
}

/** OpenAI's error `type` for an HTTP status (API.md "Conventions"). */
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

/** OpenAI's `param` for an error: the field it names, when it names one; else null. */
function openAiParam(err: ApiError): string | null {
  if (typeof err.details.param === 'string') return err.details.param;
  if (PARAM_OF_CODE[err.code]) return PARAM_OF_CODE[err.code];
  if (/^model '/.test(err.message)) return 'model';
  return null;
}

/** The last middleware: ApiErrors answer as themselves, anything else is a 500 that is logged. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
      const body = isOpenAiRoute(req.path)
        ? openAiErrorBody(err.status, err.code, err.message, openAiParam(err))
        : errorBody(err.code, err.message, err.details);
      res.status(err.status).json(body);
      return;
    }
    // body-parser style errors carry a status (e.g. malformed JSON → 400)
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) log.error('unhandled error', { path: req.path, err });
    const message =
      status === 500
        ? 'internal error'
        : err?.type === 'entity.too.large'
          ? `the JSON body is ${err.length ?? 'more than'} bytes; at most ${err.limit} bytes are accepted`
          : String(err.message);
    const code = status === 500 ? 'internal' : err?.type === 'entity.too.large' ? 'body_too_large' : 'invalid_request';
    res.status(status).json(errorBody(code, message));
  };
}
