/**
 * Admission, for every way a job comes in (upload and URL on `/v1/jobs`, the OpenAI-compatible routes,
 * re-transcription, privacy mode and its cloud fallback, live streams): route the model, check the
 * audio, choose the backend, write the job's rows and its reservation in one transaction, and start its
 * workflow (by function reference, so its arguments are type-checked), taking everything back when the
 * start fails. No transport here: a refusal is a value ({@link Refusal}); api/errors.ts and
 * api/listen.ts turn it into their own answers. Order and rules: the README's "How a job runs" and
 * docs/api.md's errors; nothing stays reserved on refusal.
 */
import { WorkflowIdReusePolicy, type Client, type WorkflowHandle, type WorkflowStartOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { Pool } from 'pg';
import type { PoolClient } from 'pg';
import { blobKeys, type BlobStore } from '../common/blobs';
import { chooseBackend, type QueueStats } from '../common/backends';
import type { Config } from '../common/config';
import { PRIORITY_KEYS, TASK_QUEUES, workflowIdFor, type Backend, type ModelTier, type PriorityClass } from '../common/constants';
import { withTransaction } from '../common/db';
import type { EdgeInput } from '../common/edge';
import type { TranscriptionInput } from '../common/jobs';
import type { Principal } from '../common/keys';
import { languageRoutingFor } from '../common/language-routing';
import type { LiveSessionInput } from '../common/live';
import type { Logger } from '../common/log';
import { jobAdmitted } from '../common/metrics';
import { chooseModel, MODEL_REGISTRY, type ModelRequest } from '../common/routing';
import { MAX_RETAIN_AUDIO_SECONDS, type TierLimits } from '../common/tiers';
import { MAX_CHANNELS } from '../audio/channels';
import { probeAudio, UnsupportedAudioError, type AudioProbe } from '../audio/ffmpeg';
import { QuotaUnavailableError, type QuotaService } from '../quota/quota-service';
import { transcriptionWorkflow } from '../workflows/transcription';
import { liveTranscriptionWorkflow } from '../workflows/live';
import type { CreateJobFields } from '../api/schemas';
import { withoutModelAlias } from '../api/routes/models';
import { JobRepository, type NewJobRow } from './repository';
import {
  concurrencyRefusal,
  JobRefusal,
  NO_CAPACITY_RETRY_AFTER_S,
  notStarted,
  quotaExceededRefusal,
  quotaUnavailable,
  refusal,
  refuse,
  type Refusal,
} from './refusal';

/** What admission needs; the API's dependencies (api/app.ts ApiDeps) have all of it. */
export interface JobsDeps {
  pool: Pool;
  quota: QuotaService;
  temporal: Client;
  blobs: BlobStore;
  config: Config;
  log: Logger;
  /** model folders found in WHISPER_MODELS_DIR at start-up */
  installedModels: string[];
  /** pollers and backlog of each backend's queue (api/queue-stats.ts) */
  queueStats: { get(): Promise<Partial<Record<Backend, QueueStats>>> };
}

/** The outcome of an admission: the admitted job, or why not. */
export type Admission<T> = { ok: true; job: T } | { ok: false; refusal: Refusal };

/** Runs `fn`, turning a {@link JobRefusal} it throws into `{ok: false, refusal}`; other errors pass. */
export async function admitOrRefuse<T>(fn: () => Promise<T>): Promise<Admission<T>> {
  try {
    return { ok: true, job: await fn() };
  } catch (err) {
    if (err instanceof JobRefusal) return { ok: false, refusal: err.refusal };
    throw err;
  }
}

// Control characters, path separators and parent references: never acceptable in a file name.
// eslint-disable-next-line no-control-regex
const BAD_FILENAME_RE = /[\u0000-\u001f\u007f/\\]|^\.\.?$/;

/**
 * A live stream reserves its seconds in steps of this many as it streams (one ledger + Redis update a
 * minute), so the user's other jobs see the quota it has actually claimed, not the rest of the day.
 */
export const LIVE_RESERVE_STEP_S = 60;

// ---------------------------------------------------------------------------------------------------
// Checks shared by the ways in

/** The model for a request, or a refusal (not installed, not allowed for the tier, wrong language). */
export function routeModel(me: Principal, req: ModelRequest, installed: readonly string[]) {
  const choice = chooseModel(me.tier, req, installed);
  if (!choice.ok) refuse(choice.code, choice.message, choice.field ? { field: choice.field } : {});
  return choice;
}

/** Refuses `retainAudioSeconds` over the tier's maximum (common/tiers.ts MAX_RETAIN_AUDIO_SECONDS). */
export function checkRetention(tier: Principal['tier'], seconds: number | undefined): void {
  if (seconds !== undefined && seconds > MAX_RETAIN_AUDIO_SECONDS[tier]) {
    refuse('invalid_request', `retainAudioSeconds: your ${tier} tier keeps audio at most ${MAX_RETAIN_AUDIO_SECONDS[tier]} s`, {
      details: { limit: MAX_RETAIN_AUDIO_SECONDS[tier], param: 'retainAudioSeconds' },
      field: 'retainAudioSeconds',
    });
  }
}

/**
 * Probes an uploaded file (audio/ffmpeg.ts); audio it cannot read is refused `unsupported_audio` with
 * our sentence, ffmpeg's own words (scrubbed of addresses and paths) going to the log only.
 */
export async function probeUpload(deps: Pick<JobsDeps, 'log'>, jobId: string, path: string): Promise<AudioProbe> {
  try {
    return await probeAudio(path);
  } catch (err) {
    if (err instanceof UnsupportedAudioError) {
      deps.log.info('upload refused: unsupported audio', { jobId, reason: err.message, detail: err.detail });
      refuse('unsupported_audio', err.message);
    }
    throw err;
  }
}

/** Refuses audio longer than the tier allows, or than a synchronous route waits for. */
export function checkDuration(seconds: number, limits: TierLimits, syncMaxAudioSeconds?: number): void {
  if (syncMaxAudioSeconds !== undefined && seconds > syncMaxAudioSeconds) {
    refuse(
      'audio_too_long',
      `the audio lasts ${Math.round(seconds)} s, over this synchronous route's limit of ${syncMaxAudioSeconds} s; submit it to POST /v1/jobs and poll or stream its events`,
      { details: { limit: syncMaxAudioSeconds } },
    );
  }
  if (seconds > limits.maxAudioSeconds) {
    refuse('audio_too_long', `the audio lasts ${Math.round(seconds)} s, over your tier's limit of ${limits.maxAudioSeconds} s`, {
      details: { limit: limits.maxAudioSeconds },
    });
  }
}

/**
 * The inference queues' live stats (api/queue-stats.ts), or the refusal `unavailable` (503, Retry-After) when Temporal
 * does not answer: the job's workflow could not be started either, and waiting on it would hold the request open.
 * @param what the subject of the sentence ("the job", "the stream")
 * @throws JobRefusal unavailable
 */
async function queueStatsOrRefuse(deps: Pick<JobsDeps, 'queueStats' | 'log'>, what?: string): Promise<Partial<Record<Backend, QueueStats>>> {
  try {
    return await deps.queueStats.get();
  } catch (err) {
    deps.log.error('queue stats unavailable', { err: String(err) });
    throw new JobRefusal(notStarted(what));
  }
}

function noCapacity(): never {
  refuse('no_capacity', 'no worker serves the backends your tier may use right now; try again shortly', { retryAfterSeconds: NO_CAPACITY_RETRY_AFTER_S });
}

// ---------------------------------------------------------------------------------------------------
// Rows + reservation, and the workflow start

interface Reservation {
  userId: string;
  jobId: string;
  seconds: number;
  limits: TierLimits;
  /**
   * When a whole `seconds` is not left today but some is, reserve what is left instead (a live
   * stream's first step); the reservation's seconds are returned.
   */
  shrinkToRemaining?: boolean;
  /** the quota_exceeded refusal for `usedSeconds` (default: the file's, {@link quotaExceededRefusal}) */
  quotaExceeded?: (usedSeconds: number, resetAt: Date) => Refusal;
}

/**
 * Writes a job's rows with `insertRows` and reserves its seconds plus one concurrency slot in one
 * Postgres transaction that Redis decides inside (quota/quota-service.ts reserve): a refusal or an
 * unreachable Redis rolls the rows back, and a reservation whose rows then fail to commit is taken
 * back, so nothing stays reserved.
 * @returns the seconds reserved (rounded up)
 * @throws JobRefusal concurrency_limit | quota_exceeded | quota_unavailable
 */
export async function reserveWithRows(deps: Pick<JobsDeps, 'pool' | 'quota'>, r: Reservation, insertRows: (tx: PoolClient) => Promise<void>): Promise<number> {
  let granted: { day: string; seconds: number } | null = null;
  try {
    return await withTransaction(deps.pool, async (tx) => {
      await insertRows(tx);
      let seconds = r.seconds;
      const reserve = async () => {
        try {
          return await deps.quota.reserve(tx, { userId: r.userId, jobId: r.jobId, seconds }, r.limits);
        } catch (err) {
          if (err instanceof QuotaUnavailableError) throw new JobRefusal(quotaUnavailable());
          throw err;
        }
      };
      // One atomic Redis decision (quota/lua/reserve-3.lua): the concurrency slot first, then the day's
      // seconds, so of N simultaneous requests beyond the tier's concurrentJobs each hears
      // `concurrency_limit`, never a quota it has not used.
      let outcome = await reserve();
      if (!outcome.ok && outcome.reason === 'quota_exceeded' && r.shrinkToRemaining && r.limits.dailySeconds !== null) {
        // Less than asked is left today: one retry with what is left (the count Redis returned).
        const left = Math.floor(r.limits.dailySeconds - outcome.usedSeconds);
        if (left >= 1 && left < seconds) {
          seconds = left;
          await deps.quota.discardRefused(tx, r.jobId);
          outcome = await reserve();
        }
      }
      if (!outcome.ok) {
        if (outcome.reason === 'concurrency_limit') throw new JobRefusal(concurrencyRefusal(outcome.activeJobs, r.limits));
        throw new JobRefusal(r.quotaExceeded ? r.quotaExceeded(outcome.usedSeconds, outcome.resetAt) : quotaExceededRefusal(outcome.usedSeconds, r.limits, outcome.resetAt));
      }
      granted = { day: outcome.day, seconds };
      return Math.ceil(seconds);
    });
  } catch (err) {
    // Redis said yes but the rows did not commit: take the Redis reservation back too.
    const g = granted as { day: string; seconds: number } | null;
    if (g) await deps.quota.releaseUncommitted({ userId: r.userId, jobId: r.jobId, day: g.day, seconds: g.seconds }).catch(() => undefined);
    throw err;
  }
}

/** Search attributes and priority of a job's workflow (the README's "finding jobs in the Temporal UI"). */
interface StartSpec<W extends Workflow> {
  workflow: W;
  args: Parameters<W>;
  jobId: string;
  /** default transcription-<jobId> */
  workflowId?: string;
  me: Principal;
  limits: TierLimits;
  priorityClass: PriorityClass;
  searchAttributes: NonNullable<WorkflowStartOptions['searchAttributes']>;
  /** the subject of the `unavailable` sentence ("the job", "the stream") */
  what?: string;
  /** runs first; its failure counts as the start's */
  beforeStart?: () => Promise<void>;
}

/**
 * Starts a job's workflow by function reference. When the start fails the job was not admitted after
 * all: its reservation is released and its row forgotten, and the caller hears `unavailable`.
 * @throws JobRefusal unavailable
 */
export async function startJobWorkflow<W extends Workflow>(deps: Pick<JobsDeps, 'temporal' | 'quota' | 'pool' | 'log'>, s: StartSpec<W>): Promise<WorkflowHandle<W>> {
  try {
    await s.beforeStart?.();
    return await deps.temporal.workflow.start(s.workflow, {
      workflowId: s.workflowId ?? workflowIdFor(s.jobId),
      taskQueue: TASK_QUEUES.orchestration,
      args: s.args,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      searchAttributes: s.searchAttributes,
      priority: { priorityKey: PRIORITY_KEYS[s.priorityClass], fairnessKey: s.me.userId, fairnessWeight: s.limits.fairnessWeight },
    } as unknown as WorkflowStartOptions<W>);
  } catch (err) {
    deps.log.error('workflow start failed', { jobId: s.jobId, err: String(err) });
    await deps.quota.settle(s.jobId, 0).catch((e) => deps.log.error('release failed', { jobId: s.jobId, err: String(e) }));
    await new JobRepository(deps.pool).remove(s.jobId);
    throw new JobRefusal(notStarted(s.what));
  }
}

/** The workflow input every transcription job has, from its request (the route adds model and backend). */
function transcriptionInput(
  deps: Pick<JobsDeps, 'config'>,
  me: Principal,
  jobId: string,
  fields: CreateJobFields,
  retainAudioSeconds: number,
): Omit<TranscriptionInput, 'model' | 'modelTier' | 'backend'> {
  return {
    jobId,
    userId: me.userId,
    tier: me.tier,
    language: fields.language ?? null,
    task: fields.task ?? 'transcribe',
    priorityClass: fields.priorityClass ?? 'interactive',
    spotAttempts: deps.config.spotAttempts,
    chunksPerChild: deps.config.chunksPerChildWorkflow,
    webhook: fields.webhookUrl !== undefined,
    ...(retainAudioSeconds > 0 ? { retainAudioSeconds } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Cloud jobs: upload, URL, OpenAI routes, re-transcription

/** A file already on disk at blobKeys.upload(jobId). */
export interface UploadedFile {
  path: string;
  filename: string;
  bytes: number;
  sha256: string;
}

export interface UploadRequest {
  jobId: string;
  /** null when the request carried no audio (refused missing_file) */
  file: UploadedFile | null;
  /** the request's validated fields, as they are stored in the job's options */
  fields: CreateJobFields;
  /** the sync (OpenAI-compatible) route's audio limit, seconds; longer audio belongs on /v1/jobs */
  syncMaxAudioSeconds?: number;
  /** refuse with no_capacity (reserving nothing) when no allowed queue has workers */
  requireCapacity?: boolean;
  /**
   * A re-transcription: `jobId` is the new version's row of job `parentJobId`, run by workflow
   * `workflowId` (api/routes/retranscribe.ts); its audio is a copy of the job's retained audio.
   */
  version?: { parentJobId: string; version: number; workflowId: string };
}

/** An admitted cloud job. */
export interface AdmittedJob {
  jobId: string;
  model: string;
  backend: Backend;
  audioSeconds: number;
}

/**
 * Admits one uploaded file as job `req.jobId`. The caller deletes the upload when it is refused.
 * @returns the job, or a refusal: missing_file, invalid_request (file name, retention, channels, model),
 *   model_not_allowed, unsupported_audio, audio_too_long, no_capacity, concurrency_limit,
 *   quota_exceeded, quota_unavailable, unavailable
 */
export function admitUpload(deps: JobsDeps, me: Principal, req: UploadRequest): Promise<Admission<AdmittedJob>> {
  return admitOrRefuse(() => admitUploadOrThrow(deps, me, req));
}

async function admitUploadOrThrow(deps: JobsDeps, me: Principal, req: UploadRequest): Promise<AdmittedJob> {
  const { config } = deps;
  const { jobId, fields, version } = req;
  const limits = config.tiers[me.tier];
  const file = req.file;
  if (!file) return refuse('missing_file', "no audio: send it as the multipart part named 'file'");
  if (BAD_FILENAME_RE.test(file.filename)) refuse('invalid_request', 'the file name contains control characters or path separators');
  const choice = routeModel(me, fields, deps.installedModels);
  checkRetention(me.tier, fields.retainAudioSeconds);
  // Retention belongs to the job's audio; a version runs on a copy that goes when the version ends.
  const retainAudioSeconds = version ? 0 : (fields.retainAudioSeconds ?? 0);

  const probe = await probeUpload(deps, jobId, file.path);
  checkDuration(probe.durationSeconds, limits, req.syncMaxAudioSeconds);
  if (fields.multichannel && probe.channels > MAX_CHANNELS) {
    refuse('invalid_request', `multichannel: the audio has ${probe.channels} channels; at most ${MAX_CHANNELS} are transcribed separately`, { field: 'multichannel' });
  }
  // Each channel is transcribed (and may be billed) on its own: reserve for all of them.
  const channels = fields.multichannel ? probe.channels : undefined;
  const priorityClass = fields.priorityClass ?? 'interactive';
  const route = chooseBackend({ tier: me.tier, audioSeconds: probe.durationSeconds, optimizeFor: fields.optimizeFor }, await queueStatsOrRefuse(deps));
  if (req.requireCapacity && route.waitingForCapacity) noCapacity();
  const backend = route.backend;

  await reserveWithRows(deps, { userId: me.userId, jobId, seconds: probe.durationSeconds * (channels ?? 1), limits }, (tx) =>
    new JobRepository(deps.pool).insert(tx, {
      id: jobId,
      user_id: me.userId,
      status: 'queued',
      mode: 'cloud',
      priority_class: priorityClass,
      tier: me.tier,
      model: choice.model,
      model_tier: choice.modelTier,
      backend,
      language: fields.language ?? null,
      options: { ...fields, modelNote: choice.note },
      filename: file.filename,
      audio_ref: blobKeys.upload(jobId),
      audio_seconds: probe.durationSeconds,
      expected_cost_per_minute: route.expectedCostPerMinute,
      actual_cost_per_minute: route.expectedCostPerMinute,
      waiting_for_capacity: route.waitingForCapacity,
      content_sha256: file.sha256,
      parent_job_id: version?.parentJobId ?? null,
      version: version?.version ?? 1,
      retain_audio_seconds: retainAudioSeconds,
    }),
  );
  const input: TranscriptionInput = {
    ...transcriptionInput(deps, me, jobId, fields, retainAudioSeconds),
    model: choice.model,
    modelTier: choice.modelTier,
    backend,
    ...(channels ? { channels } : {}),
    languageRouting: languageRoutingFor(fields, choice, deps.installedModels),
  };
  await startJobWorkflow(deps, {
    // Admitted: the upload becomes visible to workers on other machines (S3) before the job starts.
    beforeStart: () => deps.blobs.commit(blobKeys.upload(jobId)),
    workflow: transcriptionWorkflow,
    args: [input],
    jobId,
    workflowId: version?.workflowId,
    me,
    limits,
    priorityClass,
    searchAttributes: { UserId: [me.userId], Tier: [me.tier], JobStatus: ['queued'], Backend: [backend], ModelTier: [choice.modelTier] },
  });
  jobAdmitted(me.tier);
  deps.log.info('job admitted', {
    jobId: version?.parentJobId ?? jobId,
    ...(version ? { version: version.version, versionRowId: jobId } : {}),
    userId: me.userId,
    tier: me.tier,
    model: choice.model,
    backend,
    priorityClass,
    audioSeconds: probe.durationSeconds,
    bytes: file.bytes,
  });
  return { jobId, model: choice.model, backend, audioSeconds: probe.durationSeconds };
}

// ---------------------------------------------------------------------------------------------------
// Privacy mode (edge): the browser transcribes; the job holds a slot and reserves 0 seconds

export interface EdgeRequest {
  jobId: string;
  fields: CreateJobFields;
  /** the device's capabilities as sent (stored with the job's options) */
  capabilities: unknown;
  /** the model the device can hold, or null with the reason it cannot run edge mode */
  model: string | null;
  reason: string | null;
  edge: EdgeInput;
  /** sha256 of the single-use edge token (api/edge/token.ts) */
  tokenHash: Buffer;
}

/**
 * Admits an edge job: its row, its edge plan and a reservation of 0 seconds and one concurrency slot
 * in one transaction, then its workflow (workflows/edge.ts waits for the browser's result).
 * @returns the job id, or a refusal: invalid_request (retention), concurrency_limit,
 *   quota_unavailable, unavailable
 */
export function admitEdge(deps: JobsDeps, me: Principal, req: EdgeRequest): Promise<Admission<{ jobId: string }>> {
  return admitOrRefuse(async () => {
    const { config } = deps;
    const { jobId, fields, edge, model } = req;
    const limits = config.tiers[me.tier];
    // Retention applies to cloud audio only: an edge job's audio exists here only after a fallback upload.
    checkRetention(me.tier, fields.retainAudioSeconds);
    const retainAudioSeconds = edge.allowFallback ? (fields.retainAudioSeconds ?? 0) : 0;
    const priorityClass = fields.priorityClass ?? 'interactive';
    // Inference runs on the user's device: 0 seconds, but the job holds a concurrency slot while it waits.
    await reserveWithRows(deps, { userId: me.userId, jobId, seconds: 0, limits }, async (tx) => {
      await new JobRepository(deps.pool).insert(tx, {
        id: jobId,
        user_id: me.userId,
        status: 'queued',
        mode: 'edge',
        priority_class: priorityClass,
        tier: me.tier,
        model,
        language: fields.language ?? null,
        options: { ...fields, capabilities: req.capabilities ?? null, edge: { ...edge, reason: req.reason } },
        retain_audio_seconds: retainAudioSeconds,
      });
      await tx.query(
        `INSERT INTO edge_plans (job_id, token_hash, model, allow_fallback, expires_at, upload_expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
        [jobId, req.tokenHash, model, edge.allowFallback, new Date(edge.deadline), edge.uploadDeadline ? new Date(edge.uploadDeadline) : null],
      );
    });
    const input: TranscriptionInput = {
      ...transcriptionInput(deps, me, jobId, fields, retainAudioSeconds),
      model: model ?? '',
      modelTier: 'economy',
      // No backend runs an edge job; a fallback upload routes it (PUT /v1/jobs/:id/audio) and replaces this.
      backend: 'cpu',
      edge,
    };
    await startJobWorkflow(deps, {
      workflow: transcriptionWorkflow,
      args: [input],
      jobId,
      me,
      limits,
      priorityClass,
      searchAttributes: { UserId: [me.userId], Tier: [me.tier], JobStatus: ['queued'] },
    });
    return { jobId };
  });
}

/** What `PUT /v1/jobs/:id/audio` probed and routed, waiting in edge_plans.pending_audio. */
export interface PendingAudio {
  filename: string;
  audioSeconds: number;
  backend: Backend;
  model: string;
  modelTier: ModelTier;
  expectedCostPerMinute: number | null;
  waitingForCapacity: boolean;
  modelNote: string | null;
}

/**
 * Checks and routes an edge job's fallback upload (the same probe, duration limit, model routing and
 * backend choice as an upload); the job's workflow then reserves its seconds (activities/edge.ts).
 * @param job the edge job's language and stored request fields
 * @returns the pending audio, or a refusal: unsupported_audio, audio_too_long, invalid_request, model_not_allowed
 */
export function routeFallbackAudio(
  deps: JobsDeps,
  me: Principal,
  job: { id: string; language: string | null; options: Record<string, unknown> },
  file: UploadedFile,
): Promise<Admission<PendingAudio>> {
  return admitOrRefuse(async () => {
    const probe = await probeUpload(deps, job.id, file.path);
    checkDuration(probe.durationSeconds, deps.config.tiers[me.tier]);
    const fields = job.options as Pick<CreateJobFields, 'model' | 'task' | 'requireHighAccuracy' | 'optimizeFor'>;
    const choice = routeModel(me, { ...fields, language: job.language }, deps.installedModels);
    const route = chooseBackend({ tier: me.tier, audioSeconds: probe.durationSeconds, optimizeFor: fields.optimizeFor }, await queueStatsOrRefuse(deps));
    return {
      filename: file.filename,
      audioSeconds: probe.durationSeconds,
      backend: route.backend,
      model: choice.model,
      modelTier: choice.modelTier,
      expectedCostPerMinute: route.expectedCostPerMinute,
      waitingForCapacity: route.waitingForCapacity,
      modelNote: choice.note,
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// Live streams (WebSocket): a running job whose reservation grows as it streams

export interface LiveRequest {
  jobId: string;
  model?: string;
  language?: string;
  sampleRate: number;
  encoding: string;
  wordTimestamps?: boolean;
}

export interface AdmittedLive {
  jobId: string;
  handle: WorkflowHandle<typeof liveTranscriptionWorkflow>;
  /** seconds reserved so far (a first step of {@link LIVE_RESERVE_STEP_S}, or what is left today) */
  reservedSeconds: number;
  /** the longest the stream may last: the tier's longest audio */
  maxSeconds: number;
}

/**
 * Admits a live stream as a running job: the fastest model the tier allows unless one is named, a
 * backend with workers now, the first step of its reservation, its workflow.
 * @returns the stream's job, or a refusal: invalid_request, model_not_allowed, no_capacity,
 *   concurrency_limit, quota_exceeded, quota_unavailable, unavailable
 */
export function admitLive(deps: JobsDeps, me: Principal, req: LiveRequest): Promise<Admission<AdmittedLive>> {
  return admitOrRefuse(async () => {
    const { jobId } = req;
    const limits = deps.config.tiers[me.tier];
    // Live wants the fastest model the tier allows unless the caller names one (English: tiny.en).
    const english = req.language === undefined || req.language === 'en';
    const economy = MODEL_REGISTRY.tiers.economy.find((m) => deps.installedModels.includes(m) && (english || MODEL_REGISTRY.models[m]?.multilingual));
    // `whisper-1` (OpenAI's name, listed by GET /v1/models) is no model named, as on the HTTP routes
    // (api/routes/models.ts withoutModelAlias): the stream runs on what it runs without one.
    const named = withoutModelAlias({ model: req.model }).model;
    const choice = routeModel(me, { model: named ?? economy, language: req.language }, deps.installedModels);
    const route = chooseBackend({ tier: me.tier, audioSeconds: 60, optimizeFor: 'speed' }, await queueStatsOrRefuse(deps, 'the stream'));
    if (route.waitingForCapacity) noCapacity();
    // The stream may last the tier's longest audio (and no longer than today's remaining quota, which
    // the reservation enforces). It reserves that in steps of LIVE_RESERVE_STEP_S as it streams, not
    // all at once: a reservation of the whole rest of the day would make the quota look spent to the
    // user's other jobs while this stream has used seconds of it.
    const maxSeconds = Math.floor(limits.maxAudioSeconds);
    const row: NewJobRow = {
      id: jobId,
      user_id: me.userId,
      status: 'running',
      mode: 'cloud',
      priority_class: 'live',
      tier: me.tier,
      model: choice.model,
      model_tier: choice.modelTier,
      backend: route.backend,
      language: req.language ?? null,
      options: { live: { sampleRate: req.sampleRate, encoding: req.encoding }, ...(req.wordTimestamps ? { wordTimestamps: true } : {}) },
      audio_seconds: 0,
      started_now: true,
      expected_cost_per_minute: route.expectedCostPerMinute,
      actual_cost_per_minute: route.expectedCostPerMinute,
    };
    const reservedSeconds = await reserveWithRows(
      deps,
      {
        userId: me.userId,
        jobId,
        seconds: Math.min(LIVE_RESERVE_STEP_S, maxSeconds),
        limits,
        shrinkToRemaining: true,
        // As a file's quota_exceeded: the numbers and the wait until the day's reset (UTC midnight).
        quotaExceeded: (used, resetAt) =>
          refusal('quota_exceeded', `your daily audio quota is used up (${used} of ${limits.dailySeconds} s)`, {
            details: { limit: limits.dailySeconds, used, resetAt: resetAt.toISOString() },
            retryAfterSeconds: Math.max(1, Math.ceil((resetAt.getTime() - Date.now()) / 1000)),
          }),
      },
      (tx) => new JobRepository(deps.pool).insert(tx, row),
    );
    const input: LiveSessionInput = {
      jobId,
      userId: me.userId,
      tier: me.tier,
      model: choice.model,
      backend: route.backend,
      language: req.language ?? (MODEL_REGISTRY.models[choice.model]?.multilingual ? null : 'en'),
      fairnessWeight: limits.fairnessWeight,
      maxSeconds,
    };
    const handle = await startJobWorkflow(deps, {
      workflow: liveTranscriptionWorkflow,
      args: [input],
      jobId,
      me,
      limits,
      priorityClass: 'live',
      searchAttributes: { UserId: [me.userId], Tier: [me.tier], JobStatus: ['running'], Backend: [route.backend], ModelTier: [choice.modelTier] },
      what: 'the stream',
    });
    return { jobId, handle, reservedSeconds, maxSeconds };
  });
}

/**
 * Raises a live stream's reservation by a step (QuotaService.extend: ledger row and Redis counter
 * together, within the day's limit), or by what is left today when a whole step is not.
 * @param reservedSeconds what the stream holds now
 * @param needed the seconds the stream needs now
 * @returns the new total, or null when `needed` cannot be reserved (tier's longest audio or day used up)
 * @throws JobRefusal quota_unavailable
 */
export async function extendLive(
  deps: Pick<JobsDeps, 'quota' | 'config'>,
  me: Principal,
  s: { jobId: string; reservedSeconds: number; maxSeconds: number; needed: number },
): Promise<number | null> {
  const limits = deps.config.tiers[me.tier];
  const tryTotal = async (total: number) => {
    try {
      return await deps.quota.extend(s.jobId, total, limits.dailySeconds);
    } catch (err) {
      if (err instanceof QuotaUnavailableError) throw new JobRefusal(quotaUnavailable());
      throw err;
    }
  };
  let total = Math.min(s.maxSeconds, s.reservedSeconds + LIVE_RESERVE_STEP_S);
  if (total < s.needed) return null;
  let outcome = await tryTotal(total);
  if (!outcome.ok && outcome.reason === 'quota_exceeded' && limits.dailySeconds !== null) {
    total = s.reservedSeconds + Math.floor(limits.dailySeconds - outcome.usedSeconds);
    if (total < s.needed) return null;
    outcome = await tryTotal(total);
  }
  return outcome.ok ? total : null;
}
