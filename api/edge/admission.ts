/**
 * Edge admission (`POST /v1/jobs` with mode=edge, no file): choose the model the device can hold,
 * write the job, its edge plan and a reservation of 0 seconds and one concurrency slot in one
 * transaction (Redis decides inside it, as for cloud jobs), then start the job's workflow, which waits
 * for the browser's result (workflows/edge.ts).
 */
import type { Request } from 'express';
import { WorkflowIdReusePolicy } from '@temporalio/client';
import { PRIORITY_KEYS, TASK_QUEUES, TRANSCRIPTION_WORKFLOW, workflowIdFor } from '../../common/constants';
import type { EdgeInput } from '../../common/edge';
import type { TranscriptionInput } from '../../common/jobs';
import type { Principal } from '../../common/keys';
import { checkRetention, reserveWithRows } from '../admission';
import type { ApiDeps } from '../app';
import { ApiError } from '../errors';
import { describeZodError, type CreateJobFields } from '../schemas';
import type { ReceivedUpload } from '../upload';
import { capabilitiesSchema, chooseEdgeModel, modelFileUrl, manifestFor, type Capabilities } from './plan';
import { newEdgeToken } from './token';

/** API.md: the 202 body's `edge` plan. */
export interface EdgePlanBody {
  token: string;
  expiresAt: string;
  model: string | null;
  modelFiles: { url: string; sha256: string; bytes: number }[];
  pageUrl: string;
  /** when `model` is null: why the device cannot run edge mode (the job then waits for the audio) */
  reason?: string;
}

/** The origin the caller reached us at (behind nginx: X-Forwarded-Proto/Host, trusted from loopback). */
export function originOf(req: Request): string {
  return `${req.protocol}://${req.get('host')}`;
}

function parseCapabilities(raw: string | undefined): Capabilities | undefined {
  if (raw === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ApiError(400, 'invalid_request', 'capabilities: must be a JSON object such as {"wasmSimd": true, "wasmThreads": true, "deviceMemoryGb": 8}');
  }
  const parsed = capabilitiesSchema.safeParse(json);
  if (!parsed.success) throw new ApiError(400, 'invalid_request', `capabilities: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/**
 * Admits an edge job and returns the 202 body with its plan.
 * @throws ApiError 400 (a file was sent, bad capabilities), 422 edge_not_possible (device cannot, no
 *   fallback allowed), 429 concurrency_limit, 503 quota_unavailable / unavailable
 */
export async function admitEdge(
  deps: ApiDeps,
  req: Request,
  me: Principal,
  jobId: string,
  upload: ReceivedUpload,
  fields: CreateJobFields,
) {
  const { pool, temporal, config } = deps;
  const limits = config.tiers[me.tier];
  if (upload.file) throw new ApiError(400, 'invalid_request', 'mode=edge keeps the audio in the browser: send no file');
  const caps = parseCapabilities(fields.capabilities);
  const allowFallback = fields.allowFallback ?? false;
  const choice = chooseEdgeModel(caps, fields, deps.installedModels);
  if (!choice.ok && !allowFallback) {
    throw new ApiError(422, 'edge_not_possible', `edge mode is not possible on this device: ${choice.reason}; retry with allowFallback=true or mode=cloud`);
  }
  const model = choice.ok ? choice.model : null;
  const origin = originOf(req);
  const files = model ? await manifestFor(config.modelsDir).files(model) : [];

  const now = Date.now();
  const deadline = new Date(now + config.edge.deadlineSeconds * 1000);
  const uploadDeadline = allowFallback ? new Date(deadline.getTime() + config.edge.uploadDeadlineSeconds * 1000) : null;
  const edge: EdgeInput = {
    deadline: deadline.toISOString(),
    uploadDeadline: uploadDeadline?.toISOString() ?? null,
    allowFallback,
    model,
  };
  // Retention applies to cloud audio only: an edge job's audio exists here only after a fallback upload.
  checkRetention(me.tier, fields.retainAudioSeconds);
  const retainAudioSeconds = allowFallback ? (fields.retainAudioSeconds ?? 0) : 0;
  const { token, hash } = newEdgeToken();
  const priorityClass = fields.priorityClass ?? 'interactive';

  // Inference runs on the user's device: 0 seconds, but the job holds a concurrency slot while it waits.
  await reserveWithRows(deps, me, jobId, 0, limits, async (tx) => {
    await tx.query(
      `INSERT INTO jobs (id, user_id, status, mode, priority_class, tier, model, language, options, retain_audio_seconds)
       VALUES ($1, $2, 'queued', 'edge', $3, $4, $5, $6, $7, $8)`,
      [
        jobId,
        me.userId,
        priorityClass,
        me.tier,
        model,
        fields.language ?? null,
        JSON.stringify({ ...fields, capabilities: caps ?? null, edge: { ...edge, reason: choice.ok ? null : choice.reason } }),
        retainAudioSeconds,
      ],
    );
    await tx.query(
      `INSERT INTO edge_plans (job_id, token_hash, model, allow_fallback, expires_at, upload_expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [jobId, hash, model, allowFallback, deadline, uploadDeadline],
    );
  });

  const input: TranscriptionInput = {
    jobId,
    userId: me.userId,
    tier: me.tier,
    model: model ?? '',
    modelTier: 'economy',
    // No backend runs an edge job; a fallback upload routes it (PUT /v1/jobs/:id/audio) and replaces this.
    backend: 'cpu',
    language: fields.language ?? null,
    task: fields.task ?? 'transcribe',
    priorityClass,
    spotAttempts: config.spotAttempts,
    chunksPerChild: config.chunksPerChildWorkflow,
    webhook: fields.webhookUrl !== undefined,
    edge,
    ...(retainAudioSeconds > 0 ? { retainAudioSeconds } : {}),
  };
  try {
    await temporal.workflow.start(TRANSCRIPTION_WORKFLOW, {
      workflowId: workflowIdFor(jobId),
      taskQueue: TASK_QUEUES.orchestration,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      searchAttributes: { UserId: [me.userId], Tier: [me.tier], JobStatus: ['queued'] },
      priority: { priorityKey: PRIORITY_KEYS[priorityClass], fairnessKey: me.userId, fairnessWeight: limits.fairnessWeight },
    });
  } catch (err) {
    deps.log.error('workflow start failed', { jobId, err: String(err) });
    await deps.quota.settle(jobId, 0).catch((e) => deps.log.error('release failed', { jobId, err: String(e) }));
    await pool.query('DELETE FROM jobs WHERE id = $1', [jobId]);
    throw new ApiError(503, 'unavailable', 'the job could not be started; try again', {}, { 'Retry-After': '5' });
  }

  const plan: EdgePlanBody = {
    token,
    expiresAt: edge.deadline,
    model,
    modelFiles: model ? files.map((f) => ({ url: modelFileUrl(origin, model, f), sha256: f.sha256, bytes: f.bytes })) : [],
    // The token rides in the fragment: browsers never send it to the server or in a Referer.
    pageUrl: `${origin}/edge#job=${jobId}&token=${token}`,
    ...(choice.ok ? {} : { reason: choice.reason }),
  };
  return {
    id: jobId,
    status: 'queued',
    links: { self: `/v1/jobs/${jobId}`, events: `/v1/jobs/${jobId}/events` },
    edge: plan,
  };
}
