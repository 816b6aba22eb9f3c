/**
 * Activity interceptor for logs: each activity runs inside a log context holding its job's `jobId`
 * and `userId` (from the header the workflow interceptor sets, see workflows/log-interceptors.ts), so
 * every line it or our code beneath it logs carries them, and one line reports how it ended
 * (activity type, attempt, task queue, duration; on failure the error as common/log.ts writes errors,
 * under `err` like every other line, never the activity's arguments).
 */
import type { Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ActivityInterceptors } from '@temporalio/worker';
import { createLogger, withLogContext } from '../common/log';
import { idsOf, LOG_CONTEXT_HEADER, type JobLogIds } from '../workflows/log-interceptors';

const log = createLogger({ component: 'activity' });

function idsFrom(headers: Record<string, unknown>, args: readonly unknown[]): JobLogIds {
  const fromArgs = idsOf(args);
  const payload = headers[LOG_CONTEXT_HEADER];
  if (!payload) return fromArgs;
  try {
    const h = defaultPayloadConverter.fromPayload<JobLogIds>(payload as never);
    return { jobId: h.jobId ?? fromArgs.jobId, userId: h.userId ?? fromArgs.userId };
  } catch {
    return fromArgs;
  }
}

/** `interceptors.activity` entry for Worker.create. */
export function activityLogInterceptors(ctx: Context): ActivityInterceptors {
  let ids: JobLogIds = { jobId: null, userId: null };
  return {
    inbound: {
      async execute(input, next) {
        ids = idsFrom(input.headers as Record<string, unknown>, input.args);
        const { activityType, attempt, taskQueue } = ctx.info;
        return withLogContext({ jobId: ids.jobId, userId: ids.userId }, async () => {
          const t0 = Date.now();
          log.debug('activity started', { activity: activityType, attempt, taskQueue });
          try {
            const result = await next(input);
            log.info('activity completed', { activity: activityType, attempt, taskQueue, ms: Date.now() - t0 });
            return result;
          } catch (err) {
            const e = err as { type?: string; name?: string } | null;
            log.warn('activity failed', {
              activity: activityType,
              attempt,
              taskQueue,
              ms: Date.now() - t0,
              cancelled: ctx.cancellationSignal.aborted,
              // ApplicationFailure's own type (e.g. unsupported_audio): the serialised err's `type` is its class.
              errorType: e?.type ?? e?.name ?? null,
              // Serialised by common/log.ts: type, message, stack and the cause chain.
              err: err instanceof Error ? err : { message: String(err) },
            });
            throw err;
          }
        });
      },
    },
    outbound: {
      getLogAttributes(input, next) {
        return next({ ...input, jobId: ids.jobId, userId: ids.userId });
      },
    },
  };
}
