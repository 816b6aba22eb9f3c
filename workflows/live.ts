/**
 * One live (WebSocket) stream as a workflow, at priority `live`: the API asks it, by Update, to decode
 * each window (the window's samples are in the blob store; the Update carries its key), and signals
 * `finish` when the stream ends. Then the quota is settled on the streamed seconds and the utterances'
 * results are merged into the job's transcript, exactly as a file job's chunks are.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineSignal,
  isCancellation,
  defineUpdate,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { createLiveActivities } from '../activities/live';
import type { createQuotaActivities } from '../activities/quota';
import type { createStorageActivities } from '../activities/storage';
import { BACKEND_TASK_QUEUE, PRIORITY_KEYS } from '../common/constants';
import type { LiveFinish, LiveSessionInput, LiveWindow } from '../common/live';
import { cancelSignal } from './transcription';

type Orchestration = ReturnType<typeof createStorageActivities> & ReturnType<typeof createQuotaActivities>;
type Live = ReturnType<typeof createLiveActivities>;

export const decodeWindowUpdate = defineUpdate<{ seq: number }, [LiveWindow]>('decodeWindow');
export const finishSignal = defineSignal<[LiveFinish]>('finish');

/**
 * The patch under which a stream ended by the client's protocol error closes Completed (result status `failed`
 * with the client's code) instead of Failed: Temporal's Failed is kept for the service's own failures
 * (`stream_lost`, an activity that gave up). Streams that ended before it replay as they ran (Failed).
 */
export const LIVE_CLIENT_ERROR_COMPLETES_PATCH = 'live-client-error-completes';

/** How a live stream's workflow closed (its result: ids and our error code only, never text). */
export interface LiveOutcome {
  jobId: string;
  status: 'completed' | 'failed' | 'cancelled';
  /** the client's protocol error that ended the stream (status `failed`) */
  error?: { code: string; message: string };
}

/** After the reservation's length, a stream whose API never said `finish` is given up on (seconds). */
const LOST_STREAM_SLACK_S = 120;

const orchestration = proxyActivities<Orchestration>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * One live stream, from its admission to its end: decodes windows by Update until `finish` (or `cancel`), then
 * settles the quota and merges the transcript. Closes Completed for a stream that ended normally, was
 * cancelled by signal, or was ended by the client's protocol error (result status `failed`, the job failed with
 * the client's code: the client's fault, not the service's); Canceled under Temporal's cancellation; Failed only
 * when the service lost the stream (`stream_lost`) or an activity gave up.
 */
export async function liveTranscriptionWorkflow(input: LiveSessionInput): Promise<LiveOutcome> {
  // Live inference outranks every file job (priority key 1) and shares the live level fairly by user.
  const live = proxyActivities<Live>({
    taskQueue: BACKEND_TASK_QUEUE[input.backend],
    // A window is at most ~30 s of audio: seconds of work. A longer wait means no capacity; the API
    // tells the client rather than letting partials go stale.
    scheduleToCloseTimeout: '60 seconds',
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumAttempts: 3 },
    priority: { priorityKey: PRIORITY_KEYS.live, fairnessKey: input.userId, fairnessWeight: input.fairnessWeight },
  });
  let finish: LiveFinish | null = null;
  let cancelled = false;
  let inFlight = 0;
  setHandler(
    decodeWindowUpdate,
    async (window) => {
      inFlight++;
      try {
        return await live.transcribeWindow({ jobId: input.jobId, model: input.model, language: input.language, window });
      } finally {
        inFlight--;
      }
    },
    {
      validator: (_window: LiveWindow) => {
        if (finish) throw new Error('the stream has finished');
      },
    },
  );
  setHandler(finishSignal, (f) => {
    finish ??= f;
  });
  // POST /v1/jobs/:id/cancel and DELETE signal `cancel`, as for a file job: further windows are refused
  // (the API then closes the stream) and the reservation is released without charge.
  setHandler(cancelSignal, () => {
    cancelled = true;
  });

  let finished: boolean;
  try {
    finished = await condition(() => finish !== null || cancelled, `${input.maxSeconds + LOST_STREAM_SLACK_S} seconds`);
  } catch (err) {
    // Temporal's workflow cancellation (the API's cancel route): the same clean-up, then close as Canceled.
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(async () => {
      await condition(() => inFlight === 0);
      await endCancelled(input.jobId);
    });
    throw err;
  }
  await condition(() => inFlight === 0);
  if (cancelled && !finish) {
    await endCancelled(input.jobId);
    return { jobId: input.jobId, status: 'cancelled' };
  }
  const ended = finish as LiveFinish | null; // set by the signal handler (TS cannot see that)
  if (ended?.error) {
    // A stream ended by a protocol error: the job failed with its code and, like a failed file job,
    // bills nothing (the reservation goes back).
    const { audioSeconds, error } = ended;
    await orchestration.settleQuota({ jobId: input.jobId, billedSeconds: 0 });
    await orchestration.updateJob({ jobId: input.jobId, patch: { status: 'failed', error, audioSeconds } });
    upsertSearchAttributes({ JobStatus: ['failed'] });
    await orchestration.deleteAudio({ jobId: input.jobId });
    // The client broke the protocol: the job records the failure, but the workflow did all it should, so it
    // closes Completed, and the Temporal UI's Failed stays a sign of the service's own trouble.
    if (patched(LIVE_CLIENT_ERROR_COMPLETES_PATCH)) return { jobId: input.jobId, status: 'failed', error };
    throw ApplicationFailure.nonRetryable(error.message, error.code);
  }
  if (!finished) {
    await orchestration.settleQuota({ jobId: input.jobId, billedSeconds: 0 });
    const error = { code: 'stream_lost', message: 'the live stream’s API connection was lost before it finished' };
    await orchestration.updateJob({ jobId: input.jobId, patch: { status: 'failed', error } });
    upsertSearchAttributes({ JobStatus: ['failed'] });
    throw ApplicationFailure.nonRetryable(error.message, error.code);
  }
  const { audioSeconds, billedSeconds } = finish!;
  await orchestration.settleQuota({ jobId: input.jobId, billedSeconds });
  await orchestration.finalizeTranscript({ jobId: input.jobId, audioSeconds, billedSeconds });
  upsertSearchAttributes({ JobStatus: ['completed'] });
  await orchestration.deleteAudio({ jobId: input.jobId });
  return { jobId: input.jobId, status: 'completed' };
}

/** A cancelled stream: nothing billed, reservation released, audio gone, status `cancelled`. */
async function endCancelled(jobId: string): Promise<void> {
  await orchestration.settleQuota({ jobId, billedSeconds: 0 });
  await orchestration.deleteAudio({ jobId });
  await orchestration.updateJob({ jobId, patch: { status: 'cancelled', error: null } });
  upsertSearchAttributes({ JobStatus: ['cancelled'] });
}
