/**
 * Privacy mode (edge): the job's browser transcribes, the workflow waits for its result until the
 * plan's deadline. With fallback it then waits for the audio (`PUT /v1/jobs/:id/audio`, admitted here
 * so the deadline and the admission cannot race) and hands the job to the cloud path; without it
 * the job ends `expired` with its slot released. Payloads carry ids only: the result waits in
 * Postgres (edge_results) and the audio in the blob store.
 */
import { condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
import type { createEdgeActivities } from '../activities/edge';
import type { createQuotaActivities } from '../activities/quota';
import type { createStorageActivities } from '../activities/storage';
import type { JobStatus } from '../common/constants';
import { EDGE_AUDIO_UPDATE, EDGE_RESULT_UPDATE, type EdgeAudioOutcome } from '../common/edge';
import type { TranscriptionInput, WorkflowStatus } from '../common/jobs';

type Activities = ReturnType<typeof createEdgeActivities> &
  ReturnType<typeof createQuotaActivities> &
  ReturnType<typeof createStorageActivities>;

/** The API stored a validated result in edge_results and asks the workflow to take it. */
export const edgeResultUpdate = defineUpdate<{ accepted: true }, []>(EDGE_RESULT_UPDATE);
/** The API stored and probed the fallback audio (edge_plans.pending_audio); the workflow admits it. */
export const edgeAudioUpdate = defineUpdate<EdgeAudioOutcome, []>(EDGE_AUDIO_UPDATE);

/** Settlement and job writes never give up (as in transcription.ts): each is idempotent. */
const settlement = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});
/** The fallback admission answers an HTTP request that waits: bounded. */
const admission = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 4 },
});

type Phase = 'edge' | 'awaiting-audio' | 'admitting' | 'cloud' | 'ended';

/** Milliseconds from the workflow's clock to an ISO time, at least 1 (Temporal's `condition` needs > 0). */
function msUntil(iso: string): number {
  return Math.max(1, Date.parse(iso) - Date.now());
}

/**
 * Runs the edge part of a job. Returns null when the job has ended here (completed from the browser's
 * result, or expired), or the input for the cloud path after a fallback upload was admitted.
 * Cancellation (the caller's scope) interrupts every wait.
 */
export async function runEdge(
  input: TranscriptionInput,
  state: WorkflowStatus,
  setStatus: (s: JobStatus) => void,
): Promise<TranscriptionInput | null> {
  const edge = input.edge!;
  const jobId = input.jobId;
  let phase: Phase = edge.model ? 'edge' : 'awaiting-audio';
  let resultArrived = false;
  let routed: Extract<EdgeAudioOutcome, { ok: true }> | null = null;
  // Handlers change the phase between awaits; reading it through a function keeps TypeScript from
  // narrowing it as if it could not change.
  const phaseNow = (): Phase => phase;

  setHandler(
    edgeResultUpdate,
    () => {
      resultArrived = true;
      return { accepted: true as const };
    },
    {
      // A rejected update leaves no trace in history: a late or repeated result is refused cleanly.
      validator: () => {
        if (phase !== 'edge' || resultArrived) {
          throw new Error(resultArrived ? 'a result was already received' : 'the job no longer waits for a browser result (its deadline passed or it fell back to the cloud)');
        }
      },
    },
  );
  setHandler(
    edgeAudioUpdate,
    async () => {
      // The user may fall back before the deadline too (e.g. the browser failed): the edge phase ends.
      const before = phase;
      phase = 'admitting';
      let outcome: EdgeAudioOutcome;
      try {
        outcome = await admission.admitFallbackAudio({ jobId });
      } catch {
        outcome = { ok: false, refusal: { code: 'unavailable', message: 'the upload could not be admitted; try again', details: {}, retryAfterSeconds: 5 } };
      }
      if (outcome.ok) {
        routed = outcome;
        phase = 'cloud';
      } else {
        phase = before;
      }
      return outcome;
    },
    {
      validator: () => {
        const open = phase === 'awaiting-audio' || (phase === 'edge' && edge.allowFallback && !resultArrived);
        if (!open) throw new Error(edge.allowFallback ? 'the job no longer waits for audio' : 'this edge job does not allow fallback to the cloud');
      },
    },
  );

  for (;;) {
    if (resultArrived) {
      phase = 'ended';
      // Settled before the job reads `completed`: a client never sees it still holding its slot.
      await settlement.settleQuota({ jobId, billedSeconds: 0 });
      await settlement.finalizeEdgeResult({ jobId });
      setStatus('completed');
      return null;
    }
    if (phaseNow() === 'cloud') {
      const r = routed!;
      return { ...input, backend: r.backend, model: r.model, modelTier: r.modelTier, edge: undefined };
    }
    if (phaseNow() === 'admitting') {
      // An admission in flight (even across a deadline) finishes first: the upload that won it is not lost.
      await condition(() => phase !== 'admitting');
      continue;
    }
    const current = phase;
    const deadline = current === 'edge' ? edge.deadline : edge.uploadDeadline!;
    if (Date.now() >= Date.parse(deadline)) {
      if (current === 'edge' && edge.allowFallback) {
        phase = 'awaiting-audio';
        await settlement.markEdgeFallback({ jobId, reason: 'deadline' });
        continue;
      }
      phase = 'ended';
      await expire(
        jobId,
        state,
        setStatus,
        current === 'edge'
          ? `no result came from the browser before the deadline (${edge.deadline}) and the job does not allow fallback to the cloud`
          : `no audio was uploaded for the cloud fallback before ${edge.uploadDeadline}`,
      );
      return null;
    }
    if (current === 'awaiting-audio' && !edge.model) await settlement.markEdgeFallback({ jobId, reason: 'device' });
    await condition(() => resultArrived || phase !== current, msUntil(deadline));
  }
}

/** Ends the job `expired`: its slot released, the reason in `error`. */
async function expire(jobId: string, state: WorkflowStatus, setStatus: (s: JobStatus) => void, message: string): Promise<void> {
  const error = { code: 'expired', message };
  state.error = error;
  await settlement.settleQuota({ jobId, billedSeconds: 0 });
  // Last: a client that sees `expired` finds the quota released.
  await settlement.updateJob({ jobId, patch: { status: 'expired', error } });
  setStatus('expired');
}
