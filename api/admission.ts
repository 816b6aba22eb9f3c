/**
 * Admission, shared by `/v1/jobs` and the OpenAI-compatible routes: after the upload is on disk and
 * the route's fields are validated, check the file, route the model, probe the audio, choose the
 * backend, write the job and its reservation atomically, and start the workflow.
 * Order and failure rules: ../shared/API.md and the quota issue — nothing stays reserved on refusal.
 */
import { WorkflowIdReusePolicy } from '@temporalio/client';
import type { PoolClient } from 'pg';
import { blobKeys } from '../common/blobs';
import { jobAdmitted } from '../common/metrics';
import { chooseBackend } from '../common/backends';
import { PRIORITY_KEYS, TASK_QUEUES, TRANSCRIPTION_WORKFLOW, workflowIdFor } from '../common/constants';
import type { TranscriptionInput } from '../common/jobs';
import type { Principal } from '../common/keys';
import { chooseModel } from '../common/routing';
import { languageRoutingFor } from '../common/language-routing';
import { MAX_RETAIN_AUDIO_SECONDS, type TierLimits } from '../common/tiers';
import { probeAudio, UnsupportedAudioError } from '../audio/ffmpeg';
import { MAX_CHANNELS } from '../audio/channels';
import { QuotaUnavailableError, type ReserveOutcome } from '../quota/quota-store';
import type { ApiDeps } from './app';
import { ApiError } from './errors';
import type { CreateJobFields } from './schemas';
import type { ReceivedUpload } from './upload';
import { logJob } from './request-log';

// Control characters, path separators and parent references: never acceptable in a file name.
// eslint-disable-next-line no-control-regex
const BAD_FILENAME_RE = /[\u0000-\u001f\u007f/\\]|^\.\.?$/;
const CONCURRENCY_RETRY_AFTER_S = 30;
const NO_CAPACITY_RETRY_AFTER_S = 30;

export interface AdmitOptions {
  /** the sync (OpenAI-compatible) route's audio limit, seconds; longer audio belongs on /v1/jobs */
  syncMaxAudioSeconds?: number;
  /** refuse with 503 no_capacity (reserving nothing) when no allowed queue has workers */
  requireCapacity?: boolean;
  /**
   * A re-transcription: `jobId` is the new version's row of job `parentJobId`, run by workflow
   * `workflowId` (api/routes/retranscribe.ts); its audio is a copy of the job's retained audio.
   */
  version?: { parentJobId: string; version: number; workflowId: string };
}

/**
 * 400 when `retainAudioSeconds` is over the tier's maximum (common/tiers.ts MAX_RETAIN_AUDIO_SECONDS).
 * @throws ApiError 400 invalid_request with `limit`
 */
export function checkRetention(tier: Principal['tier'], seconds: number | undefined): void {
  if (seconds !== undefined && seconds > MAX_RETAIN_AUDIO_SECONDS[tier]) {
    throw new ApiError(
      400,
      'invalid_request',
      `retainAudioSeconds: your ${tier} tier keeps audio at most ${MAX_RETAIN_AUDIO_SECONDS[tier]} s`,
      { limit: MAX_RETAIN_AUDIO_SECONDS[tier], param: 'retainAudioSeconds' },
    );
  }
}

/** 429 with the limit, current use, reset time and Retry-After (API.md "Errors"). */
function quotaRefusal(outcome: Exclude<ReserveOutcome, { ok: true }>, limits: TierLimits, resetAt: Date): ApiError {
  if (outcome.reason === 'concurrency_limit') {
    return new ApiError(
      429,
      'concurrency_limit',
      `you already have ${outcome.activeJobs} job(s) running; your tier allows ${limits.concurrentJobs} at a time`,
      { limit: limits.concurrentJobs, used: outcome.activeJobs, resetAt: null },
      // A slot frees when a running job ends; there is no fixed time, so suggest a short wait.
      { 'Retry-After': String(CONCURRENCY_RETRY_AFTER_S) },
    );
  }
  const retryAfter = Math.max(1, Math.ceil((resetAt.getTime() - Date.now()) / 1000));
  return new ApiError(
    429,
    'quota_exceeded',
    `this file would exceed your daily audio quota (${outcome.usedSeconds} of ${limits.dailySeconds} seconds used today, UTC)`,
    { limit: limits.dailySeconds, used: outcome.usedSeconds, resetAt: resetAt.toISOString() },
    { 'Retry-After': String(retryAfter) },
  );
}

/**
 * 422 unsupported_audio with our sentence; ffmpeg's own words (scrubbed of addresses and paths) go to
 * the log only, never to the client.
 */
export function unsupportedAudio(deps: Pick<ApiDeps, 'log'>, jobId: string, err: UnsupportedAudioError): ApiError {
  deps.log.info('upload refused: unsupported audio', { jobId, reason: err.message, detail: err.detail });
  return new ApiError(422, 'unsupported_audio', err.message);
}

/**
 * Writes a job's rows with `insertRows` and reserves `seconds` of the user's quota plus one concurrency
 * slot, in one Postgres transaction that Redis decides inside: a refusal or an unreachable Redis rolls the
 * rows back, and a reservation whose rows then fail to commit is taken back, so nothing stays reserved.
 * @param seconds audio seconds to reserve (0 for an edge job: it only holds a slot)
 * @throws ApiError 429 concurrency_limit | quota_exceeded, 503 quota_unavailable
 */
export async function reserveWithRows(
  deps: Pick<ApiDeps, 'pool' | 'quota'>,
  me: Principal,
  jobId: string,
  seconds: number,
  limits: TierLimits,
  insertRows: (tx: PoolClient) => Promise<void>,
): Promise<void> {
  const tx = await deps.pool.connect();
  let reservedDay: string | null = null;
  try {
    await tx.query('BEGIN');
    await insertRows(tx);
    let outcome;
    try {
      outcome = await deps.quota.reserve(tx, { userId: me.userId, jobId, seconds }, limits);
    } catch (err) {
      if (err instanceof QuotaUnavailableError) {
        throw new ApiError(503, 'quota_unavailable', 'the quota store is unavailable; try again shortly', {}, { 'Retry-After': '5' });
      }
      throw err;
    }
    if (!outcome.ok) throw quotaRefusal(outcome, limits, outcome.resetAt);
    reservedDay = outcome.day;
    await tx.query('COMMIT');
  } catch (err) {
    await tx.query('ROLLBACK').catch(() => undefined);
    // Redis said yes but the rows did not commit: take the Redis reservation back too.
    if (reservedDay) await deps.quota.store.settle({ userId: me.userId, jobId, day: reservedDay, seconds: Math.ceil(seconds) }, 0).catch(() => undefined);
    throw err;
  } finally {
    tx.release();
  }
}

/**
 * Admits one uploaded file as job `jobId` (its upload already at blobKeys.upload(jobId)).
 * @throws ApiError for every refusal (4xx) or unavailability (503); the caller deletes the blobs
 */
export async function admitUpload(
  deps: ApiDeps,
  me: Principal,
  jobId: string,
  upload: ReceivedUpload,
  fields: CreateJobFields,
  opts: AdmitOptions = {},
): Promise<void> {
  const { pool, temporal, config } = deps;
  const limits = config.tiers[me.tier];
  // A version's request is about its job (the path's id); the version's own row id goes in the admitted line.
  logJob(opts.version?.parentJobId ?? jobId, me.userId);
  if (!upload.file) throw new ApiError(400, 'missing_file', "no audio: send it as the multipart part named 'file'");
  if (BAD_FILENAME_RE.test(upload.file.filename)) {
    throw new ApiError(400, 'invalid_request', 'the file name contains control characters or path separators');
  }
  const choice = chooseModel(me.tier, fields, deps.installedModels);
  if (!choice.ok) throw new ApiError(choice.status, choice.code, choice.message);
  checkRetention(me.tier, fields.retainAudioSeconds);
  // Retention belongs to the job's audio; a version runs on a copy that goes when the version ends.
  const retainAudioSeconds = opts.version ? 0 : (fields.retainAudioSeconds ?? 0);

  let probe;
  try {
    probe = await probeAudio(upload.file.path);
  } catch (err) {
    if (err instanceof UnsupportedAudioError) throw unsupportedAudio(deps, jobId, err);
    throw err;
  }
  if (opts.syncMaxAudioSeconds !== undefined && probe.durationSeconds > opts.syncMaxAudioSeconds) {
    throw new ApiError(
      413,
      'audio_too_long',
      `the audio lasts ${Math.round(probe.durationSeconds)} s, over this synchronous route's limit of ${opts.syncMaxAudioSeconds} s; submit it to POST /v1/jobs and poll or stream its events`,
      { limit: opts.syncMaxAudioSeconds },
    );
  }
  if (probe.durationSeconds > limits.maxAudioSeconds) {
    throw new ApiError(
      413,
      'audio_too_long',
      `the audio lasts ${Math.round(probe.durationSeconds)} s, over your tier's limit of ${limits.maxAudioSeconds} s`,
      { limit: limits.maxAudioSeconds },
    );
  }

  if (fields.multichannel && probe.channels > MAX_CHANNELS) {
    throw new ApiError(400, 'invalid_request', `multichannel: the audio has ${probe.channels} channels; at most ${MAX_CHANNELS} are transcribed separately`);
  }
  // Each channel is transcribed (and may be billed) on its own: reserve for all of them.
  const channels = fields.multichannel ? probe.channels : undefined;
  const reserveSeconds = probe.durationSeconds * (channels ?? 1);

  const priorityClass = fields.priorityClass ?? 'interactive';
  const route = chooseBackend(
    { tier: me.tier, audioSeconds: probe.durationSeconds, optimizeFor: fields.optimizeFor },
    await deps.queueStats.get(),
  );
  if (opts.requireCapacity && route.waitingForCapacity) {
    throw new ApiError(
      503,
      'no_capacity',
      'no worker serves the backends your tier may use right now; try again shortly',
      {},
      { 'Retry-After': String(NO_CAPACITY_RETRY_AFTER_S) },
    );
  }
  const backend = route.backend;
  // Job row + reservation row in one transaction; Redis decides inside it, so a refusal or an
  // unreachable Redis rolls both back and nothing stays reserved.
  const file = upload.file;
  await reserveWithRows(deps, me, jobId, reserveSeconds, limits, async (tx) => {
    await tx.query(
      `INSERT INTO jobs (id, user_id, status, mode, priority_class, tier, model, model_tier, backend, language, options,
                         filename, audio_ref, audio_seconds, expected_cost_per_minute, actual_cost_per_minute, waiting_for_capacity,
                         content_sha256, parent_job_id, version, retain_audio_seconds)
       VALUES ($1, $2, 'queued', 'cloud', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17, $18)`,
      [
        jobId,
        me.userId,
        priorityClass,
        me.tier,
        choice.model,
        choice.modelTier,
        backend,
        fields.language ?? null,
        JSON.stringify({ ...fields, modelNote: choice.note }),
        file.filename,
        blobKeys.upload(jobId),
        probe.durationSeconds,
        route.expectedCostPerMinute,
        route.waitingForCapacity,
        file.sha256,
        opts.version?.parentJobId ?? null,
        opts.version?.version ?? 1,
        retainAudioSeconds,
      ],
    );
  });
  const input: TranscriptionInput = {
    jobId,
    userId: me.userId,
    tier: me.tier,
    model: choice.model,
    modelTier: choice.modelTier,
    backend,
    language: fields.language ?? null,
    task: fields.task ?? 'transcribe',
    priorityClass,
    spotAttempts: config.spotAttempts,
    chunksPerChild: config.chunksPerChildWorkflow,
    webhook: fields.webhookUrl !== undefined,
    ...(channels ? { channels } : {}),
    languageRouting: languageRoutingFor(fields, choice, deps.installedModels),
    ...(retainAudioSeconds > 0 ? { retainAudioSeconds } : {}),
  };
  try {
    // Admitted: the upload becomes visible to workers on other machines (S3) before the job starts.
    await deps.blobs.commit(blobKeys.upload(jobId));
    await temporal.workflow.start(TRANSCRIPTION_WORKFLOW, {
      workflowId: opts.version?.workflowId ?? workflowIdFor(jobId),
      taskQueue: TASK_QUEUES.orchestration,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      searchAttributes: {
        UserId: [me.userId],
        Tier: [me.tier],
        JobStatus: ['queued'],
        Backend: [backend],
        ModelTier: [choice.modelTier],
      },
      priority: {
        priorityKey: PRIORITY_KEYS[priorityClass],
        fairnessKey: me.userId,
        fairnessWeight: limits.fairnessWeight,
      },
    });
  } catch (err) {
    // Not admitted after all: give the reservation back, then forget the job.
    deps.log.error('workflow start failed', { jobId, err: String(err) });
    await deps.quota.settle(jobId, 0).catch((e) => deps.log.error('release failed', { jobId, err: String(e) }));
    await pool.query('DELETE FROM jobs WHERE id = $1', [jobId]);
    throw new ApiError(503, 'unavailable', 'the job could not be started; try again', {}, { 'Retry-After': '5' });
  }
  jobAdmitted(me.tier);
  deps.log.info('job admitted', {
    jobId: opts.version?.parentJobId ?? jobId,
    ...(opts.version ? { version: opts.version.version, versionRowId: jobId } : {}),
    userId: me.userId,
    tier: me.tier,
    model: choice.model,
    backend,
    priorityClass,
    audioSeconds: probe.durationSeconds,
    bytes: upload.file.bytes,
  });
}
