/** `/v1/jobs`: admission (stream → probe → job row → workflow start) and job reads. */
import * as crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { WorkflowIdReusePolicy } from '@temporalio/client';
import { blobKeys } from '../../common/blobs';
import { PRIORITY_KEYS, TASK_QUEUES, TRANSCRIPTION_WORKFLOW, workflowIdFor } from '../../common/constants';
import type { TranscriptionInput } from '../../common/jobs';
import { chooseModel } from '../../common/routing';
import type { TierLimits } from '../../common/tiers';
import { QuotaUnavailableError, type ReserveOutcome } from '../../quota/quota-store';
import { probeAudio, UnsupportedAudioError } from '../../audio/ffmpeg';
import { principalOf } from '../auth';
import { ApiError } from '../errors';
import { jobJson, type JobRow } from '../job-json';
import { createJobFields, describeZodError } from '../schemas';
import { receiveMultipart } from '../upload';
import type { ApiDeps } from '../app';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Control characters, path separators and parent references: never acceptable in a file name.
// eslint-disable-next-line no-control-regex
const BAD_FILENAME_RE = /[\u0000-\u001f\u007f/\\]|^\.\.?$/;

/**
 * After refusing an upload part-way, the rest of the body is still on the wire and the connection
 * cannot serve another request: answer with `Connection: close`. A refused oversize upload is cut off
 * once the answer is out; anything else is drained (bounded by the size limit) so the client reads
 * the answer instead of a reset.
 */
function abandonUpload(req: Request, res: Response, err: unknown) {
  res.setHeader('Connection', 'close');
  if (err instanceof ApiError && err.status === 413) {
    res.on('finish', () => setTimeout(() => req.socket.destroy(), 50).unref());
  } else {
    req.resume();
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

const CONCURRENCY_RETRY_AFTER_S = 30;

export function jobsRouter(deps: ApiDeps): Router {
  const { pool, blobs, temporal, config } = deps;
  const r = Router();

  r.post('/v1/jobs', async (req: Request, res: Response) => {
    const me = principalOf(req);
    const limits = config.tiers[me.tier];
    const jobId = crypto.randomUUID();
    const uploadPath = blobs.prepare(blobKeys.upload(jobId));
    let admitted = false;
    try {
      let upload;
      try {
        upload = await receiveMultipart(req, { maxFileBytes: limits.maxFileBytes, destPath: uploadPath });
      } catch (err) {
        abandonUpload(req, res, err);
        throw err;
      }
      const parsed = createJobFields.safeParse(upload.fields);
      if (!parsed.success) throw new ApiError(400, 'invalid_request', describeZodError(parsed.error));
      const fields = parsed.data;
      if (fields.mode === 'edge') {
        throw new ApiError(400, 'invalid_request', 'mode=edge (privacy mode) is not available yet; use mode=cloud');
      }
      if (!upload.file) throw new ApiError(400, 'missing_file', "no audio: send it as the multipart part named 'file'");
      if (BAD_FILENAME_RE.test(upload.file.filename)) {
        throw new ApiError(400, 'invalid_request', 'the file name contains control characters or path separators');
      }
      const choice = chooseModel(me.tier, fields, deps.installedModels);
      if (!choice.ok) throw new ApiError(choice.status, choice.code, choice.message);

      let probe;
      try {
        probe = await probeAudio(upload.file.path);
      } catch (err) {
        if (err instanceof UnsupportedAudioError) throw new ApiError(422, 'unsupported_audio', err.message);
        throw err;
      }
      if (probe.durationSeconds > limits.maxAudioSeconds) {
        throw new ApiError(
          413,
          'audio_too_long',
          `the audio lasts ${Math.round(probe.durationSeconds)} s, over your tier's limit of ${limits.maxAudioSeconds} s`,
          { limit: limits.maxAudioSeconds },
        );
      }

      const priorityClass = fields.priorityClass ?? 'interactive';
      const backend = 'cpu' as const;
      // Job row + reservation row in one transaction; Redis decides inside it, so a refusal or an
      // unreachable Redis rolls both back and nothing stays reserved.
      const tx = await pool.connect();
      let reservedDay: string | null = null;
      try {
        await tx.query('BEGIN');
        await tx.query(
          `INSERT INTO jobs (id, user_id, status, mode, priority_class, tier, model, model_tier, backend, language, options, filename, audio_ref, audio_seconds)
           VALUES ($1, $2, 'queued', 'cloud', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
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
            upload.file.filename,
            blobKeys.upload(jobId),
            probe.durationSeconds,
          ],
        );
        let outcome;
        try {
          outcome = await deps.quota.reserve(tx, { userId: me.userId, jobId, seconds: probe.durationSeconds }, limits);
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
        if (reservedDay) await deps.quota.store.settle({ userId: me.userId, jobId, day: reservedDay }, 0).catch(() => undefined);
        throw err;
      } finally {
        tx.release();
      }
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
      };
      try {
        await temporal.workflow.start(TRANSCRIPTION_WORKFLOW, {
          workflowId: workflowIdFor(jobId),
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
      admitted = true;
      res.status(202).json({
        id: jobId,
        status: 'queued',
        links: { self: `/v1/jobs/${jobId}`, events: `/v1/jobs/${jobId}/events` },
      });
    } finally {
      if (!admitted) await blobs.deleteJob(jobId);
    }
  });

  r.get('/v1/jobs/:id', async (req: Request, res: Response) => {
    const me = principalOf(req);
    const id = String(req.params.id);
    // Another user's job and a malformed id answer exactly like an unknown one.
    if (!UUID_RE.test(id)) throw new ApiError(404, 'not_found', 'no such job');
    const { rows } = await pool.query<JobRow>(
      'SELECT * FROM jobs WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL',
      [id, me.userId],
    );
    if (!rows[0]) throw new ApiError(404, 'not_found', 'no such job');
    res.json(jobJson(rows[0]));
  });

  return r;
}
