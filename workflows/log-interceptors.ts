/**
 * Workflow interceptors for logs (bundled with the workflows: see workers/bundle.ts). Every workflow
 * log line gets the job's `jobId` and `userId` (taken from the workflow's input, which carries both),
 * and every activity it schedules gets them in a header, so the activity's lines carry them too
 * (workers/activity-log.ts). Lines go through Temporal's logger sink to the worker's logger, which
 * writes our JSON lines (workers/logging.ts); they are not repeated on replay.
 * Deterministic: reads only the input and Temporal's workflow APIs.
 */
import {
  defaultPayloadConverter,
  log,
  type WorkflowInterceptors,
} from '@temporalio/workflow';

/** Header that carries the job's ids from a workflow to its activities. */
export const LOG_CONTEXT_HEADER = 'fairscribe-log-context';

export interface JobLogIds {
  jobId: string | null;
  userId: string | null;
}

/** The ids in a workflow's or activity's first argument (`{ jobId, userId, … }`), when present. */
export function idsOf(args: readonly unknown[]): JobLogIds {
  const first = (args[0] ?? {}) as { jobId?: unknown; userId?: unknown };
  return {
    jobId: typeof first.jobId === 'string' ? first.jobId : null,
    userId: typeof first.userId === 'string' ? first.userId : null,
  };
}

/** An error as workflow log lines carry it under `err`. */
export interface ErrorChain {
  type: string;
  message: string;
  /** an ApplicationFailure's own type (our error code, e.g. `unsupported_audio`) */
  failureType?: string;
  cause?: ErrorChain;
}

/**
 * An error as a plain `{type, message, cause?}` chain (at most 5 deep), the shape common/log.ts writes
 * errors in under `err`, built inside the workflow so that what crosses the logger sink to the worker
 * is plain data whatever the isolate does with Error objects. Workflow stacks point into the bundle,
 * so they are left out; Temporal failures carry the activity's failure as their cause.
 */
export function errorChain(err: unknown, depth = 5): ErrorChain {
  if (!(err instanceof Error)) return { type: typeof err, message: String(err) };
  const out: ErrorChain = { type: err.name, message: err.message };
  const failureType = (err as { type?: unknown }).type;
  if (typeof failureType === 'string') out.failureType = failureType;
  if (err.cause !== undefined && depth > 1) out.cause = errorChain(err.cause, depth - 1);
  return out;
}

export const interceptors = (): WorkflowInterceptors => {
  // One factory call per workflow execution: these ids belong to this run only.
  let ids: JobLogIds = { jobId: null, userId: null };
  return {
    inbound: [
      {
        async execute(input, next) {
          ids = idsOf(input.args);
          log.info('workflow started');
          try {
            const result = await next(input);
            log.info('workflow ended', { status: (result as { status?: string } | undefined)?.status ?? null });
            return result;
          } catch (err) {
            log.warn('workflow ended', { status: 'failed_or_cancelled', err: errorChain(err) });
            throw err;
          }
        },
        async handleSignal(input, next) {
          log.info('signal received', { signal: input.signalName });
          return next(input);
        },
      },
    ],
    outbound: [
      {
        getLogAttributes(input, next) {
          return next({ ...input, jobId: ids.jobId, userId: ids.userId });
        },
        async scheduleActivity(input, next) {
          if (!ids.jobId) return next(input);
          return next({
            ...input,
            headers: { ...input.headers, [LOG_CONTEXT_HEADER]: defaultPayloadConverter.toPayload(ids) },
          });
        },
        // The job's finish runs as local activities (workflows/transcription.ts LOCAL_FINISH_PATCH): same header.
        async scheduleLocalActivity(input, next) {
          if (!ids.jobId) return next(input);
          return next({
            ...input,
            headers: { ...input.headers, [LOG_CONTEXT_HEADER]: defaultPayloadConverter.toPayload(ids) },
          });
        },
        async startChildWorkflowExecution(input, next) {
          log.info('child workflow started', { childWorkflowId: input.options.workflowId ?? null });
          return next(input);
        },
      },
    ],
  };
};
