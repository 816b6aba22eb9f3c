/**
 * One transcription job, as README "How a job runs" draws it: prepare → fan out chunks → merge → store.
 * Deterministic orchestration only: every side effect is an activity, and payloads carry ids and
 * references (audio and transcripts stay in the blob store and Postgres).
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { createAudioActivities } from '../activities/audio';
import type { createChannelsActivities } from '../activities/channels';
import type { createQuotaActivities } from '../activities/quota';
import type { createStorageActivities } from '../activities/storage';
import type { JobStatus } from '../common/constants';
import type { TranscriptionInput, WorkflowStatus } from '../common/jobs';
import { describeFailure } from './chunks';
import { transcribeByWindow, transcribeInLanguage, type LanguageOutcome } from './languages';
import { MODEL_REGISTRY } from '../common/routing';
import { startWebhookDelivery } from './webhook';
import { runEdge } from './edge';
import { retainAudio } from './retention';

type Orchestration = ReturnType<typeof createAudioActivities> &
  ReturnType<typeof createChannelsActivities> &
  ReturnType<typeof createStorageActivities> &
  ReturnType<typeof createQuotaActivities>;

export const statusQuery = defineQuery<WorkflowStatus>('status');
/** Stops the job (API cancel route, Temporal UI, `temporal workflow signal --name cancel`). */
export const cancelSignal = defineSignal('cancel');

/**
 * Settlement never gives up: a job must not stay `running` holding quota because Redis was down for
 * longer than a bounded retry. Each attempt is idempotent (ledger rows unique, Lua settle idempotent).
 */
const settlement = proxyActivities<Orchestration>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * Quick writes (job row, transcript merge, blob removal). A short start-to-close, so a task lost with
 * its worker (or in transit) is retried within minutes, not after half an hour; a database restart is
 * waited out inside each attempt (common/patient-pool.ts) and then by these retries.
 */
const orchestration = proxyActivities<Orchestration>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

/**
 * Audio preparation writes the normalised blob: on cancellation the workflow waits until ffmpeg has
 * stopped (the activity heartbeats and kills it), so no file appears after the cleanup removed them.
 * Its time grows with the audio's length (ffmpeg and Silero VAD over the whole file: one model call per 30 s
 * block with the sequence graph, audio/silero-vad.ts; measured times in docs/capacity.md, `npm run
 * bench:long-audio`), so the start-to-close is generous; a lost worker is found by the 10 s heartbeat timeout.
 */
const preparation = proxyActivities<Orchestration>({
  startToCloseTimeout: '3 hours',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

export { DEFAULT_SPOT_ATTEMPTS } from './chunks';

export async function transcriptionWorkflow(input: TranscriptionInput): Promise<{ jobId: string; status: JobStatus }> {
  const state: WorkflowStatus = { status: 'queued', chunksDone: 0, chunksTotal: null, error: null };
  setHandler(statusQuery, () => state);
  const setStatus = (status: JobStatus) => {
    state.status = status;
    upsertSearchAttributes({ JobStatus: [status] });
  };

  // The job's work runs in its own scope, so the cancel signal and Temporal's own workflow
  // cancellation end it the same way: activities cancelled, reservation released, status `cancelled`.
  const work = new CancellationScope();
  const root = CancellationScope.current();
  setHandler(cancelSignal, () => work.cancel());

  let retained = false;
  try {
    retained = await work.run(() => transcribe(input, state, setStatus));
  } catch (err) {
    const cancelled = isCancellation(err);
    const error = cancelled ? null : describeFailure(err);
    state.error = error;
    setStatus(cancelled ? 'cancelled' : 'failed');
    // The job must reach its end state, and its audio must go, even while the workflow is being cancelled.
    await CancellationScope.nonCancellable(async () => {
      await settlement.settleQuota({ jobId: input.jobId, billedSeconds: 0 });
      await orchestration.deleteAudio({ jobId: input.jobId });
      // Last: a client that sees the end state finds the quota released and the audio gone.
      await orchestration.updateJob({ jobId: input.jobId, patch: { status: state.status, error } });
      if (input.webhook) await startWebhookDelivery(input.jobId, cancelled ? 'cancelled' : 'failed');
    });
    // Temporal's workflow cancellation (the API's cancel route, DELETE): close as Canceled. The `cancel`
    // signal (UI, CLI) asked the job to stop, not the workflow to be cancelled: it completes, with
    // result status `cancelled`, so Temporal's status filter never counts a user's cancel as a failure.
    if (cancelled) {
      if (root.consideredCancelled) throw err;
      return { jobId: input.jobId, status: 'cancelled' };
    }
    // Fail the workflow too, so the Temporal UI shows the job as Failed with the same reason.
    throw ApplicationFailure.nonRetryable(error!.message, error!.code);
  }
  // Also when Temporal's own cancellation came during the finish above: the audio goes either way,
  // unless the job asked to keep it for re-transcription (a durable timer deletes it later: retention.ts).
  if (!retained) await CancellationScope.nonCancellable(() => orchestration.deleteAudio({ jobId: input.jobId }));
  // An edge job that expired ends without a webhook event (webhooks announce completed, failed, cancelled).
  if (input.webhook && state.status === 'completed') await startWebhookDelivery(input.jobId, 'completed');
  return { jobId: input.jobId, status: state.status };
}

/**
 * prepare → fan out chunks → settle quota → store the transcript.
 * @returns true when the job's audio is retained for re-transcription (the workflow must not delete it)
 */
async function transcribe(input: TranscriptionInput, state: WorkflowStatus, setStatus: (s: JobStatus) => void): Promise<boolean> {
  if (input.edge) {
    // Privacy mode: the browser transcribes; the cloud path below runs only after a fallback upload.
    const cloud = await runEdge(input, state, setStatus);
    if (!cloud) return false;
    input = cloud;
  }
  const prepared = input.channels
    ? await preparation.prepareChannels({ jobId: input.jobId, channels: input.channels, tier: input.tier })
    : await preparation.prepareAudio({ jobId: input.jobId, tier: input.tier });
  state.chunksTotal = prepared.chunks.length;
  await orchestration.updateJob({
    jobId: input.jobId,
    patch: { audioSeconds: prepared.audioSeconds, chunksTotal: prepared.chunks.length },
  });

  if (prepared.chunks.length > 0) setStatus('running');
  const onDone = (n: number) => (state.chunksDone += n);
  // No language: each window in its own detected language (a multilingual model, or routing by
  // language); else every chunk in the given language (or an English-only model's English).
  const byWindow = input.language === null && (!!input.languageRouting || MODEL_REGISTRY.models[input.model]?.multilingual !== false);
  const languages = byWindow
    ? await transcribeByWindow(input, prepared.chunks, onDone)
    : await transcribeInLanguage(input, prepared.chunks, input.language, onDone);

  // Billed = audio sent to inference, rounded up (README "Quotas and tiers"); the rest of the reservation goes back.
  // Settled before the job reads `completed`, so a client never sees a finished job still holding quota.
  const billedSeconds = Math.ceil(prepared.speechSeconds);
  // Point of no return: every chunk is stored. A cancel arriving now must not cut between the charge and
  // the transcript (a cancelled job left charged, or a `completed` row written after `cancelled`), so
  // the job finishes; the cancel found it ending.
  const retain = (input.retainAudioSeconds ?? 0) > 0;
  await CancellationScope.nonCancellable(async () => {
    // Retention starts before the job reads `completed`, so a completed job already shows
    // `audioRetainedUntil` (the timer child is abandoned: it outlives this workflow).
    if (retain) await retainAudio(input.jobId, input.retainAudioSeconds!);
    await settlement.settleQuota({ jobId: input.jobId, billedSeconds });
    if (input.channels) {
      await orchestration.finalizeChannels({ jobId: input.jobId, channels: input.channels, audioSeconds: prepared.audioSeconds, billedSeconds, languages: jobLanguagesOf(languages) });
    } else {
      await orchestration.finalizeTranscript({ jobId: input.jobId, audioSeconds: prepared.audioSeconds, billedSeconds, languages: jobLanguagesOf(languages) });
    }
  });
  setStatus('completed');
  return retain;
}

/** The job's language fields (written with the transcript: the one place they are decided). */
function jobLanguagesOf(l: LanguageOutcome) {
  return { language: l.language, languageProbability: l.languageProbability, languages: l.languages };
}
