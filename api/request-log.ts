/**
 * One JSON line per API request, written when the response finishes: method, path (never the query
 * string: browser tokens travel there), status, duration, and the caller's `userId` and the `jobId`
 * the request is about (from the path, or set by admission once a new job has its id). The rest of
 * the request runs inside this log context, so every line it logs carries the same ids.
 */
import type { NextFunction, Request, Response } from 'express';
import { UUID_RE } from '../common/ids';
import { addLogContext, withLogContext, type Logger } from '../common/log';

/** `/v1/jobs/<id>` and everything under it. */
const JOB_PATH_RE = /^\/v1\/jobs\/([^/]+)/;

export function requestLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const t0 = process.hrtime.bigint();
    const path = req.originalUrl.split('?')[0];
    const fromPath = JOB_PATH_RE.exec(path)?.[1];
    const jobId = fromPath && UUID_RE.test(fromPath) ? fromPath : undefined;
    withLogContext(jobId ? { jobId } : {}, (ctx) => {
      res.once('finish', () => {
        // The context object this request's handlers added to (admission sets the new job's id).
        const fields = ctx;
        log.info('request', {
          ...fields,
          method: req.method,
          path,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - t0) / 1e6,
          userId: req.principal?.userId ?? fields.userId ?? null,
          jobId: fields.jobId ?? null,
        });
      });
      next();
    });
  };
}

/** Marks the current request as being about `jobId` of `userId` (admission, once the id exists). */
export function logJob(jobId: string, userId: string): void {
  addLogContext({ jobId, userId });
}
