/**
 * One JSON line per API request (pino-http), written when the response finishes or the connection
 * closes first: `msg: "request"`, method, path (never the query string: browser tokens travel there),
 * status, `ms`, the caller's `userId` and the `jobId` the request is about (from the path, or set by
 * admission once a new job has its id), and `aborted: true` when the client went away before the
 * answer was sent. Headers and bodies are not logged. The rest of the request runs inside this log
 * context (common/log.ts), so every line it logs carries the same ids.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { pinoHttp } from 'pino-http';
import { UUID_RE } from '../common/ids';
import { addLogContext, logEnabled, pinoFor, withLogContext, type Logger } from '../common/log';

/** `/v1/jobs/<id>` and everything under it. */
const JOB_PATH_RE = /^\/v1\/jobs\/([^/]+)/;

/** What a request line says, besides the logger's own fields and the request's log context. */
interface RequestFields {
  method: string;
  path: string;
  status: number;
  ms: number;
  userId: string | null;
  jobId: string | null;
  aborted?: true;
}

/** The request's log context (what its handlers added) and its path, kept from its start. */
const requestContext = new WeakMap<IncomingMessage, { ctx: Record<string, unknown>; path: string }>();

/**
 * Express middleware writing the request line through `log` (its fields, e.g. `component: 'api'`,
 * come first, then the request's context, then the fields above).
 */
export function requestLog(log: Logger) {
  const { logger, fields: base } = pinoFor(log);

  const line = (req: IncomingMessage, res: ServerResponse, ms: number): Record<string, unknown> => {
    const { ctx, path } = requestContext.get(req) ?? { ctx: {}, path: (req.url ?? '').split('?')[0] };
    const out: RequestFields = {
      method: req.method ?? '',
      path,
      status: res.statusCode,
      ms,
      userId: (req as Request).principal?.userId ?? (ctx.userId as string | undefined) ?? null,
      jobId: (ctx.jobId as string | undefined) ?? null,
    };
    if (!res.writableFinished) out.aborted = true;
    return { ...base, ...ctx, ...out };
  };

  const http = pinoHttp({
    logger,
    // The child pino-http makes keeps the level it is given; the shared level decides per line below.
    level: 'debug',
    customLogLevel: () => (logEnabled('info') ? 'info' : 'silent'),
    quietReqLogger: true,
    quietResLogger: true,
    // Nothing of the request itself is bound to its loggers: no headers (keys), no query (tokens).
    serializers: { req: (r: { method?: string }) => ({ method: r.method }), res: (r: { statusCode?: number }) => ({ statusCode: r.statusCode }) },
    customSuccessMessage: () => 'request',
    customErrorMessage: () => 'request',
    customSuccessObject: (req, res, o: { responseTime?: number }) => line(req, res, o.responseTime ?? 0),
    // 5xx lines read like the others: errors.ts logs the unhandled error itself, with its stack.
    customErrorObject: (req, res, _err, o: { responseTime?: number }) => line(req, res, o.responseTime ?? 0),
  });

  return (req: Request, res: Response, next: NextFunction) => {
    const path = req.originalUrl.split('?')[0];
    const fromPath = JOB_PATH_RE.exec(path)?.[1];
    const jobId = fromPath && UUID_RE.test(fromPath) ? fromPath : undefined;
    withLogContext(jobId ? { jobId } : {}, (ctx) => {
      // The context object this request's handlers add to (admission sets the new job's id).
      requestContext.set(req, { ctx, path });
      http(req, res, next);
    });
  };
}

/** Marks the current request as being about `jobId` of `userId` (admission, once the id exists). */
export function logJob(jobId: string, userId: string): void {
  addLogContext({ jobId, userId });
}
