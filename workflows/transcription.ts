/**
 * One transcription job, as README "How a job runs" draws it: prepare → fan out chunks → merge → store.
 * Deterministic orchestration only: every side effect is an activity, and payloads carry ids and
 * references (audio and transcripts stay in the blob store and Postgres).
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { createAudioActivities } from '../activities/audio';
import type { createChannelsActivities } from '../activities/channels';
import type { createQuotaActivities } from '../activities/quota';
import type { createStorageActivities } from '../activities/storage';
import { CHUNKS_PLANNED_SIGNAL, type JobStatus } from '../common/constants';
import type { PreparedAudio, TranscriptionInput, WorkflowStatus } from '../common/jobs';
import { DEFAULT_SPEECH_PLAN } from '../audio/speech-spans';
import {
  chunkRunner,
  DEFAULT_CHUNKS_PER_CHILD,
  describeFailure,
  MAX_CHUNKS_IN_FLIGHT,
  outcomeOf,
  runChunks,
  type ChunkOutcome,
  type JobChunk,
} from './chunks';
import { inLanguageOutcome, transcribeByWindow, transcribeInLanguage, type LanguageOutcome } from './languages';
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
/** prepareAudio's chunks planned before the whole file is (activities/audio.ts); see prepareWhileTranscribing. */
export const chunksPlannedSignal = defineSignal<[{ chunks: JobChunk[] }]>(CHUNKS_PLANNED_SIGNAL);

/**
 * The patch under which a job's first chunks start while its audio is still prepared (prepareWhileTranscribing):
 * workflows started before it replay the old command sequence (prepare, then the chunks).
 */
export const CHUNKS_WHILE_PREPARING_PATCH = 'chunks-start-while-preparing';

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

/**
 * The patch under which a job's finish (settleQuota, finalizeTranscript / finalizeChannels, deleteAudio; for a failed
 * or cancelled job settleQuota, deleteAudio, updateJob) runs as local activities: inside the orchestration worker that runs this workflow (it registers them all), one after the other
 * within the workflow task that saw the last chunk complete, recorded as markers when the task completes. An
 * ordinary activity costs a trip through the matching service and a workflow task per step: 0.2–0.9 s for the three
 * on the bench:pipeline file (docs/capacity.md round 6). Workflows started before it replay the ordinary activities.
 */
export const LOCAL_FINISH_PATCH = 'finish-as-local-activities';

/**
 * Backoffs above this wait in a server-side timer, not inside the worker (which holds the workflow task, heartbeating
 * it, while a local activity backs off): a Redis or database outage then costs a timer per retry, not a workflow-task
 * heartbeat every few seconds in the history.
 */
const LOCAL_RETRY_THRESHOLD = '10 seconds';

/**
 * {@link settlement} as a local activity: the same timeout and never-ending retries. A local activity runs at least
 * once per workflow task attempt (a worker lost before the task completed runs it again), which settleQuota's
 * idempotency by job id already allows.
 */
const localSettlement = proxyLocalActivities<Orchestration>({
  startToCloseTimeout: '1 minute',
  localRetryThreshold: LOCAL_RETRY_THRESHOLD,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * {@link orchestration}'s finish steps as local activities (finalizeTranscript, finalizeChannels, deleteAudio,
 * updateJob: each idempotent: the job row's update keeps the first completed_at, the terminal event is unique,
 * deleting is deleting), the same timeout and attempts.
 */
const localOrchestration = proxyLocalActivities<Orchestration>({
  startToCloseTimeout: '2 minutes',
  localRetryThreshold: LOCAL_RETRY_THRESHOLD,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

/** The finish's activities: local ones for workflows that reached their finish under {@link LOCAL_FINISH_PATCH}. */
function finishActivities(): { settle: typeof settlement; store: typeof orchestration } {
  return patched(LOCAL_FINISH_PATCH)
    ? { settle: localSettlement, store: localOrchestration }
    : { settle: settlement, store: orchestration };
}

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
      // As a completed job's finish: local activities under LOCAL_FINISH_PATCH, in this order.
      const { settle, store } = finishActivities();
      await settle.settleQuota({ jobId: input.jobId, billedSeconds: 0 });
      await store.deleteAudio({ jobId: input.jobId });
      // Last: a client that sees the end state finds the quota released and the audio gone.
      await store.updateJob({ jobId: input.jobId, patch: { status: state.status, error } });
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
  // A completed job (also one whose browser sent the edge result) deletes its audio as its finish ran
  // (finishActivities); an edge job that expired keeps the ordinary activity, as before.
  const store = state.status === 'completed' ? finishActivities().store : orchestration;
  if (!retained) await CancellationScope.nonCancellable(() => store.deleteAudio({ jobId: input.jobId }));
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
  const onDone = (n: number) => (state.chunksDone += n);
  // No language: each window in its own detected language (a multilingual model, or routing by
  // language); else every chunk in the given language (or an English-only model's English).
  const byWindow = input.language === null && (!!input.languageRouting || MODEL_REGISTRY.models[input.model]?.multilingual !== false);
  let prepared: PreparedAudio;
  let languages: LanguageOutcome;
  if (!input.channels && !byWindow && patched(CHUNKS_WHILE_PREPARING_PATCH)) {
    ({ prepared, languages } = await prepareWhileTranscribing(input, state, setStatus, onDone));
  } else {
    prepared = input.channels
      ? await preparation.prepareChannels({ jobId: input.jobId, channels: input.channels, tier: input.tier })
      : await preparation.prepareAudio({ jobId: input.jobId, tier: input.tier });
    state.chunksTotal = prepared.chunks.length;
    await orchestration.updateJob({
      jobId: input.jobId,
      patch: { audioSeconds: prepared.audioSeconds, chunksTotal: prepared.chunks.length },
    });

    if (prepared.chunks.length > 0) setStatus('running');
    languages = byWindow
      ? await transcribeByWindow(input, prepared.chunks, onDone)
      : await transcribeInLanguage(input, prepared.chunks, input.language, onDone);
  }

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
    // Settle, then store: the client reads `completed` from the stored transcript's row, after the quota is settled.
    const { settle, store: orchestration } = finishActivities();
    await settle.settleQuota({ jobId: input.jobId, billedSeconds });
    if (input.channels) {
      await orchestration.finalizeChannels({ jobId: input.jobId, channels: input.channels, audioSeconds: prepared.audioSeconds, billedSeconds, languages: jobLanguagesOf(languages) });
    } else {
      await orchestration.finalizeTranscript({ jobId: input.jobId, audioSeconds: prepared.audioSeconds, billedSeconds, languages: jobLanguagesOf(languages) });
    }
  });
  setStatus('completed');
  return retain;
}

/**
 * Preparation and the first chunks side by side, for a job whose chunks all run in one language (no channels, not
 * languages per window): prepareAudio signals the chunks its decoded prefix settles ({@link chunksPlannedSignal}, at
 * most min(chunks per child, MAX_CHUNKS_IN_FLIGHT) of them, audio/prepare.ts sureChunksOfPrefix) and this workflow
 * starts each at once, so inference begins while the rest of the file is decoded and planned (issue 18: on a
 * 9.5-minute file the first chunk waited 1.3–2.7 s for the whole preparation; docs/capacity.md round 6). Then the rest of the
 * chunks as before. The same as the serial flow in every other respect:
 *  - the same chunks with the same indices (the activity checks each announced chunk against the whole plan and
 *    fails the job `internal` if one differs; so does this workflow, on a retry's announcement or the result), so
 *    chunk activities stay idempotent by job id + chunk index and the merge sees the plan the serial flow would;
 *  - at most MAX_CHUNKS_IN_FLIGHT chunks in flight; a job whose header says it may need more chunks than one
 *    workflow runs itself announces nothing (announceIfSecondsAtMost: every chunk but the last holds more than
 *    minChunkSeconds of speech) and runs its chunks in child workflows as before; should the plan still exceed the
 *    limit, the chunks not yet started run in children;
 *  - billing from the whole plan's speech seconds (prepared.speechSeconds), as before;
 *  - a failed or cancelled preparation cancels the chunks started, and the job's cleanup waits until ffmpeg has
 *    stopped (prepareAudio's WAIT_CANCELLATION_COMPLETED); a failed chunk cancels preparation.
 * With an S3 blob store each announced chunk's audio is published as its own blob before the signal (the PCM blob is
 * published at the end of preparation; activities/audio.ts publishingEarlyChunks).
 */
async function prepareWhileTranscribing(
  input: TranscriptionInput,
  state: WorkflowStatus,
  setStatus: (s: JobStatus) => void,
  onDone: (n: number) => void,
): Promise<{ prepared: PreparedAudio; languages: LanguageOutcome }> {
  const perChild = input.chunksPerChild ?? DEFAULT_CHUNKS_PER_CHILD;
  const early = Math.min(perChild, MAX_CHUNKS_IN_FLIGHT);
  const announced: JobChunk[] = [];
  let conflict: number | null = null;
  const same = (a: JobChunk, b: JobChunk | undefined) => JSON.stringify(a) === JSON.stringify(b);
  setHandler(chunksPlannedSignal, ({ chunks }) => {
    for (const c of chunks) {
      // in order; a retried preparation announces the same chunks again
      if (c.index === announced.length) announced.push(c);
      else if (c.index < announced.length && !same(announced[c.index], c)) conflict ??= c.index;
    }
  });
  let prepared: PreparedAudio | null = null;
  // Chunks this workflow runs itself: the announced ones (up to `early`) while the plan grows; then all of them when
  // they fit in one workflow, else only those already started (the rest go to child workflows below).
  const inline = () => (prepared === null ? Math.min(announced.length, early) : prepared.chunks.length <= perChild ? prepared.chunks.length : Math.min(next, early));
  let next = 0;
  const language = input.language;
  const run = chunkRunner(input, () => language, () => state.chunksTotal);
  const outcomes = new Map<number, ChunkOutcome>();
  const record = (c: JobChunk, o: ChunkOutcome) => {
    outcomes.set(c.index, o);
    onDone(1);
  };
  const lane = async () => {
    for (;;) {
      await condition(() => next < inline() || prepared !== null);
      // another lane may have taken the chunk this one woke for: wait again, unless the plan is whole
      if (next >= inline()) {
        if (prepared !== null) return;
        continue;
      }
      const i = next++;
      const chunk = prepared ? prepared.chunks[i] : announced[i];
      if (state.status !== 'running') setStatus('running');
      record(chunk, outcomeOf(await run(chunk, { language })));
    }
  };
  const stage = new CancellationScope();
  const preparing = stage.run(async () => {
    const p = await preparation.prepareAudio({
      jobId: input.jobId,
      tier: input.tier,
      announceChunks: early,
      // every chunk but the last holds more than minChunkSeconds of speech (audio/speech-spans.ts planSpeechChunks)
      announceIfSecondsAtMost: (perChild - 1) * DEFAULT_SPEECH_PLAN.minChunkSeconds,
    });
    const differs = conflict ?? announced.findIndex((c, i) => !same(c, p.chunks[i]));
    if (differs >= 0) {
      throw ApplicationFailure.nonRetryable(`chunk planning failed: chunk ${differs} was announced before the whole file was planned, and the plan differs there`, 'internal');
    }
    prepared = p;
    state.chunksTotal = p.chunks.length;
    await orchestration.updateJob({ jobId: input.jobId, patch: { audioSeconds: p.audioSeconds, chunksTotal: p.chunks.length } });
  });
  const lanes = stage.run(() => Promise.all(Array.from({ length: MAX_CHUNKS_IN_FLIGHT }, lane)));
  try {
    await Promise.all([preparing, lanes]);
  } catch (err) {
    // The other side stops too; the job's cleanup runs after ffmpeg has (WAIT_CANCELLATION_COMPLETED).
    stage.cancel();
    await Promise.allSettled([preparing, lanes]);
    throw err;
  }
  const whole: PreparedAudio = prepared!;
  const rest = whole.chunks.slice(next);
  if (rest.length > 0) {
    // Only when the plan has more chunks than one workflow runs itself (the header understated the length).
    await runChunks(input, rest, () => ({ language }), run, (n) => n, { onResult: record });
  }
  return { prepared: whole, languages: inLanguageOutcome(input, whole.chunks, language, (c) => outcomes.get(c.index)) };
}

/** The job's language fields (written with the transcript: the one place they are decided). */
function jobLanguagesOf(l: LanguageOutcome) {
  return { language: l.language, languageProbability: l.languageProbability, languages: l.languages };
}
