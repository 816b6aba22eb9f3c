/**
 * The heartbeat helper for long activity work: Temporal only learns that an activity is alive, and only
 * delivers its cancellation, through heartbeats (https://docs.temporal.io/encyclopedia/detecting-activity-failures#activity-heartbeat),
 * so work that runs longer than the heartbeat timeout beats on a timer meanwhile. The work runs off the
 * event loop (the engine's worker thread), so the timer keeps firing while it runs.
 */
import type { Context } from '@temporalio/activity';

/**
 * Runs `work` while heartbeating every `everyMs` (one beat at once), and settles as soon as the activity
 * is cancelled (rejecting with Temporal's CancelledFailure from `ctx.cancelled`) even if `work` has not.
 * @param ctx the activity's context (Context.current())
 * @param everyMs beat interval in ms; keep it well under the activity's heartbeat timeout
 * @param work the long-running part; it should itself stop on `ctx.cancellationSignal`
 * @returns what `work` resolves to
 */
/**
 * Whether the workflow asked for this activity's cancellation (the job is being cancelled), as opposed to
 * Temporal abandoning this attempt: a heartbeat or start-to-close timeout, the attempt no longer found on
 * the server, a worker shutdown. After those the same work is retried, so only the first may discard the
 * job's files. A timed-out preparation that deleted the upload turned its retry into a non-retryable
 * `audio_missing`: in CI at load 17, 20 of 20 jobs of chaos-spot.test.ts failed so.
 * Source: ActivityCancellationDetails (@temporalio/common 1.12+, `cancelRequested` is the server's
 * `is_cancelled`, set only by a RequestCancelActivityTask from the workflow).
 */
export function cancelRequestedByWorkflow(ctx: Context): boolean {
  return ctx.cancellationDetails?.cancelRequested === true;
}

export async function withHeartbeat<T>(ctx: Context, everyMs: number, work: () => Promise<T>): Promise<T> {
  const beat = setInterval(() => ctx.heartbeat(), everyMs);
  try {
    ctx.heartbeat();
    return await Promise.race([work(), ctx.cancelled]);
  } finally {
    clearInterval(beat);
  }
}
