/**
 * Running a job's chunks: one chunk on its backend (with the spot fallback), many chunks with bounded
 * concurrency, and — past a chunk count — in child workflows of chunk groups, so no workflow's history
 * grows without bound on a long file.
 *
 * History bound (measured by test/integration/chunk-groups.test.ts, which prints it): a chunk costs
 * its workflow 6.0 history events (activity scheduled / started / completed, and the workflow task
 * that wakes on its completion when completions do not share one); a child workflow costs its parent
 * about 6, on top of the parent's fixed ~40 (prepare, job updates, settle, finalize, cleanup).
 * Temporal warns at 10,240 events per history and stops a workflow at 51,200 (or 50 MB). So a
 * workflow runs at most {@link DEFAULT_CHUNKS_PER_CHILD} = 1,000 chunks itself (~6,000 events, under
 * the warning); a longer job (1,000 chunks of ≤ 30 s is over 8 h of speech; premium allows 12 h) runs
 * its chunks in children of 1,000 each, one child at a time, and its own history stays near 50 events.
 * The limit is config (`CHUNKS_PER_CHILD_WORKFLOW`), so a test can use 2.
 *
 * Deterministic workflow code: activities by type only; payloads carry chunk spans, never audio.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  executeChild,
  TimeoutFailure,
  isCancellation,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { createInferenceActivities } from '../activities/inference';
import type { createStorageActivities } from '../activities/storage';
import { fallbackBackend } from '../common/backends';
import { BACKEND_TASK_QUEUE, TASK_QUEUES } from '../common/constants';
import type { ChunkSpan, DetectLanguageResult, TranscribeChunkInput, TranscribeChunkResult, TranscriptionInput } from '../common/jobs';

type Inference = ReturnType<typeof createInferenceActivities>;
type Storage = ReturnType<typeof createStorageActivities>;

/** Attempts a chunk gets on spot before it moves to the tier's fallback backend. */
export const DEFAULT_SPOT_ATTEMPTS = 2;

/** Chunks of one workflow in flight at once: enough to fill a batch, few enough to leave room for others. */
export const MAX_CHUNKS_IN_FLIGHT = 16;

/** Chunks one workflow runs itself; a job with more runs them in child workflows of this many (see above). */
export const DEFAULT_CHUNKS_PER_CHILD = 1_000;

const storage = proxyActivities<Storage>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

export function inferenceActivities(taskQueue: string, maximumAttempts = 5, summary?: string): Inference {
  return proxyActivities<Inference>({
    taskQueue,
    // what the Temporal UI shows for the activity instead of its bare type (chunkSummary)
    ...(summary ? { summary } : {}),
    // No schedule-to-start limit: with no worker on the queue the task waits for capacity.
    startToCloseTimeout: '10 minutes',
    // Heartbeats flow from the activity's event loop every 5 s while the engine thread works; a few
    // times the worst batch run, so a dead spot worker's chunk is retried elsewhere within seconds.
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts },
  });
}

/** Our failure types are snake_case codes (`unsupported_audio`, `inference_failed`…); JS error names are not. */
const OUR_CODE_RE = /^[a-z][a-z0-9_]*$/;

/**
 * A readable reason for the job's `error` (shown to its user), from the failure chain: our own
 * ApplicationFailures keep their code and sentence; anything else (a JS exception thrown by a library,
 * Temporal's timeout or termination wording) becomes `internal` with our sentence — the full failure
 * stays in the workflow's history and the worker's log.
 */
export function describeFailure(err: unknown): { code: string; message: string } {
  let e: unknown = err;
  while ((e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure && e.type && OUR_CODE_RE.test(e.type)) return { code: e.type, message: e.message };
  if (e instanceof TimeoutFailure) return { code: 'internal', message: 'a step of the job timed out (its worker stopped answering)' };
  return { code: 'internal', message: 'the job failed inside the service' };
}

/** A chunk of the job's audio; multichannel jobs say which channel it is cut from. */
export type JobChunk = ChunkSpan & { channel?: number };

/** What a chunk needs of its job (a subset of the workflow input, so a child gets only this). */
export type ChunkJob = Pick<TranscriptionInput, 'jobId' | 'userId' | 'tier' | 'model' | 'backend' | 'task' | 'spotAttempts' | 'chunksPerChild'>;

/**
 * How one chunk is transcribed when it differs from the job's default (languages per window,
 * workflows/languages.ts): its language (null = detect), model, and the detection options of
 * TranscribeChunkInput.
 */
export type ChunkCall = Pick<TranscribeChunkInput, 'language'> & Partial<Pick<TranscribeChunkInput, 'model' | 'minLanguageProbability' | 'detectModel'>>;

/**
 * Transcribes one chunk on the job's backend; on spot, after `spotAttempts` failures it moves to the
 * tier's first non-spot backend (durability beats cost, even CPU for a long file), recorded in the
 * job's `fallbacks`. `call` (optional) sets the chunk's language, model and detection options.
 */
export function chunkRunner(
  job: ChunkJob,
  language: () => string | null,
  total: () => number | null = () => null,
): (chunk: JobChunk, call?: ChunkCall) => Promise<TranscribeChunkResult> {
  const onSpot = job.backend === 'gpu-spot';
  const fallbackTo = fallbackBackend(job.tier);
  return async (chunk, call) => {
    const { channel, ...span } = chunk;
    const args: TranscribeChunkInput = { jobId: job.jobId, model: job.model, chunk: span, language: language(), task: job.task, tier: job.tier, ...(channel === undefined ? {} : { channel }), ...call };
    const summary = chunkSummary(chunk, total());
    try {
      return await inferenceActivities(BACKEND_TASK_QUEUE[job.backend], onSpot ? (job.spotAttempts ?? DEFAULT_SPOT_ATTEMPTS) : undefined, summary).transcribeChunk(args);
    } catch (err) {
      if (!onSpot || isCancellation(err)) throw err;
      const reason = describeFailure(err).message;
      await storage.recordFallback({ jobId: job.jobId, fallback: { chunk: chunk.index, from: job.backend, to: fallbackTo, reason } });
      return inferenceActivities(BACKEND_TASK_QUEUE[fallbackTo], undefined, `${summary}, fallback to ${fallbackTo}`).transcribeChunk(args);
    }
  };
}

/**
 * The one line the Temporal UI shows for a chunk's activity (ActivityOptions.summary), e.g. `chunk 3/19 (12.0–41.2 s)`:
 * 1-based index, of `total` when known (not yet while preparation is still planning), its span on the original time
 * line; `channel 1, chunk …` for a multichannel job (the API's channel number). Metadata only: not part of the command sequence Temporal replays.
 */
export function chunkSummary(chunk: JobChunk, total: number | null): string {
  const of = total === null ? '' : `/${total}`;
  return `${chunk.channel === undefined ? '' : `channel ${chunk.channel}, `}chunk ${chunk.index + 1}${of} (${chunk.start.toFixed(1)}–${chunk.end.toFixed(1)} s)`;
}

/**
 * The routing step of a job with neither language nor model: the spoken language of its first chunk's
 * first window, by the multilingual `model`, on the job's backend with the same spot fallback as a chunk.
 */
export async function detectLanguageOnBackend(job: ChunkJob, model: string, chunk: JobChunk): Promise<DetectLanguageResult> {
  const onSpot = job.backend === 'gpu-spot';
  const { channel, ...span } = chunk;
  const args = { jobId: job.jobId, model, chunk: span, ...(channel === undefined ? {} : { channel }) };
  try {
    return await inferenceActivities(BACKEND_TASK_QUEUE[job.backend], onSpot ? (job.spotAttempts ?? DEFAULT_SPOT_ATTEMPTS) : undefined).detectLanguage(args);
  } catch (err) {
    if (!onSpot || isCancellation(err)) throw err;
    const fallbackTo = fallbackBackend(job.tier);
    const reason = describeFailure(err).message;
    await storage.recordFallback({ jobId: job.jobId, fallback: { chunk: chunk.index, from: job.backend, to: fallbackTo, reason } });
    return inferenceActivities(BACKEND_TASK_QUEUE[fallbackTo]).detectLanguage(args);
  }
}

/** Only the fields a chunk needs: a child's input stays small whatever the parent's input holds. */
function pickJob(j: ChunkJob): ChunkJob {
  return {
    jobId: j.jobId,
    userId: j.userId,
    tier: j.tier,
    model: j.model,
    backend: j.backend,
    task: j.task,
    spotAttempts: j.spotAttempts,
    chunksPerChild: j.chunksPerChild,
  };
}

/** Runs `fn` over items with at most `limit` promises pending; rejects on the first failure. */
export async function runBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/**
 * A child's input: the job's fields it needs (flat, so logs find `jobId` and `userId`), its chunks and,
 * per chunk, how it is transcribed (`calls`; absent in children started before languages per window:
 * every chunk in `language`).
 */
export type ChunkGroupInput = ChunkJob & { language: string | null; chunks: JobChunk[]; calls?: ChunkCall[] };

/** What a chunk's run tells the workflow (a subset of TranscribeChunkResult: a child returns these). */
export type ChunkOutcome = Pick<TranscribeChunkResult, 'chunkIndex' | 'language' | 'languageProbability' | 'deferred'>;

/** The part of a chunk's result the workflow keeps. */
export const outcomeOf = (r: TranscribeChunkResult): ChunkOutcome => ({
  chunkIndex: r.chunkIndex,
  language: r.language,
  languageProbability: r.languageProbability,
  ...(r.deferred ? { deferred: true } : {}),
});

/**
 * Runs all `chunks` of a job: in this workflow when they are at most the job's chunks-per-child
 * limit, else in child workflows `<workflowId>-chunks-<k>` of that many chunks each, one at a time.
 * `call(chunk)` says how each chunk runs, asked when it starts (inline) or when its group starts
 * (children), so a decision taken from earlier results (a re-route) applies to the chunks after it.
 * `opts.onResult` sees each chunk's outcome (inline: as it completes; children: per group, in order);
 * `onDone(n)` reports progress. A cancelled parent cancels its child, whose activities stop through
 * their heartbeats.
 */
export async function runChunks(
  job: ChunkJob,
  chunks: JobChunk[],
  call: (chunk: JobChunk) => ChunkCall,
  run: (chunk: JobChunk, call?: ChunkCall) => Promise<TranscribeChunkResult>,
  onDone: (n: number) => void,
  opts: { onResult?: (chunk: JobChunk, outcome: ChunkOutcome) => void; childIdSuffix?: string } = {},
): Promise<void> {
  const onResult = opts.onResult ?? (() => undefined);
  const perChild = job.chunksPerChild ?? DEFAULT_CHUNKS_PER_CHILD;
  if (chunks.length <= perChild) {
    await runBounded(chunks, MAX_CHUNKS_IN_FLIGHT, async (c) => {
      onResult(c, outcomeOf(await run(c, call(c))));
      onDone(1);
    });
    return;
  }
  const parentId = workflowInfo().workflowId;
  for (let k = 0; k * perChild < chunks.length; k++) {
    const group = chunks.slice(k * perChild, (k + 1) * perChild);
    const calls = group.map(call);
    const done = await executeChild(chunkGroupWorkflow, {
      // a second pass over a job's chunks (languages per window: workflows/languages.ts) has its own ids
      workflowId: `${parentId}-chunks-${k}${opts.childIdSuffix ?? ''}`,
      taskQueue: TASK_QUEUES.orchestration,
      args: [{ ...pickJob(job), language: calls[0]?.language ?? null, chunks: group, calls }],
    });
    (done.outcomes ?? []).forEach((o, i) => onResult(group[i], o));
    onDone(group.length);
  }
}

/** A child workflow: one group of a long job's chunks (see the file comment for why and when). */
export async function chunkGroupWorkflow(input: ChunkGroupInput): Promise<{ chunks: number; outcomes?: ChunkOutcome[] }> {
  const run = chunkRunner(input, () => input.language);
  const outcomes = await runBounded(input.chunks, MAX_CHUNKS_IN_FLIGHT, async (c) => {
    const i = input.chunks.indexOf(c);
    return outcomeOf(await run(c, input.calls?.[i]));
  });
  return { chunks: input.chunks.length, outcomes };
}
