/**
 * `POST /v1/jobs/:id/retranscribe`: version n+1 of a completed job whose audio is retained, with another
 * model (`model`, or `requireHighAccuracy`), and optionally `language`, `prompt`, `wordTimestamps`. The
 * version is admitted like a new job (model rules of the tier, probe, quota reserved and charged on its
 * own, a workflow of its own: api/versions.ts) on a copy of the retained audio, which its workflow deletes
 * when it ends; the job's retained audio keeps its own timer. Earlier versions stay readable.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { Router, type Request, type Response } from 'express';
import { BlobNotFoundError, blobKeys } from '../../common/blobs';
import { TERMINAL_STATUSES, type JobStatus } from '../../common/constants';
import { routeModel } from '../../jobs/admission';
import { admitUpload } from '../admission';
import type { ApiDeps } from '../app';
import { principalOf } from '../auth';
import { ApiError } from '../errors';
import { jobJson, loadVersions } from '../job-json';
import { ownJob } from '../own-job';
import { createJobFields, describeZodError, retranscribeBody, validate, type CreateJobFields } from '../schemas';
import { versionWorkflowId } from '../versions';
import { withoutModelAlias } from './models';

/** Options of the job that a version does not inherit: what the request replaces, and the job's own. */
const NOT_INHERITED = ['model', 'requireHighAccuracy', 'language', 'prompt', 'wordTimestamps', 'url', 'retainAudioSeconds', 'mode', 'capabilities', 'allowFallback', 'edge'];

/** Postgres unique violation: another request made the same version first. */
const UNIQUE_VIOLATION = '23505';

export function retranscribeRouter(deps: ApiDeps): Router {
  const { pool, blobs } = deps;
  const r = Router();

  r.post('/v1/jobs/:id/retranscribe', async (req: Request, res: Response) => {
    if (!req.is('application/json')) {
      throw new ApiError(415, 'unsupported_media_type', 'send {"model"} or {"requireHighAccuracy": true} as JSON');
    }
    const body = validate(retranscribeBody, req.body ?? {});
    if (!body.success) throw new ApiError(400, 'invalid_request', describeZodError(body.error));
    const me = principalOf(req);
    const job = await ownJob(pool, me.userId, String(req.params.id));
    // The version's fields: the job's (task, priority, multichannel, webhook …) with the request's model choice;
    // checked before the job's state, so a bad request is a 400 whatever the job's state (then 409s).
    const inherited = Object.fromEntries(Object.entries(job.options ?? {}).filter(([k]) => !NOT_INHERITED.includes(k) && k !== 'modelNote'));
    const merged = validate(createJobFields, {
      ...Object.fromEntries(Object.entries(inherited).map(([k, v]) => [k, typeof v === 'boolean' ? String(v) : v])),
      ...(body.data.model !== undefined ? { model: body.data.model } : {}),
      ...(body.data.requireHighAccuracy !== undefined ? { requireHighAccuracy: String(body.data.requireHighAccuracy) } : {}),
      ...(body.data.language !== undefined ? { language: body.data.language } : {}),
      ...(body.data.prompt !== undefined ? { prompt: body.data.prompt } : {}),
      ...(body.data.wordTimestamps !== undefined ? { wordTimestamps: String(body.data.wordTimestamps) } : {}),
    });
    if (!merged.success) throw new ApiError(400, 'invalid_request', describeZodError(merged.error));
    // `whisper-1` (listed by GET /v1/models) is the tier default, as on POST /v1/jobs.
    const fields: CreateJobFields = withoutModelAlias(merged.data);
    // the model the version would get (installed, allowed for the tier, right for the language): refused here as at
    // admission (jobs/admission.ts routeModel), before the job's state is looked at
    routeModel(me, fields, deps.installedModels);
    const versions = (await loadVersions(pool, [job])).get(job.id)!;
    const latest = versions[versions.length - 1];
    if (!TERMINAL_STATUSES.includes(latest.status as JobStatus)) {
      throw new ApiError(409, 'not_completed', `version ${latest.version ?? 1} is ${latest.status}; re-transcribe once it has ended`);
    }
    if (!versions.some((v) => v.status === 'completed')) {
      throw new ApiError(409, 'not_completed', `the job is ${latest.status}; only a completed job can be re-transcribed`);
    }
    const retained = job.audio_retained_until ? new Date(job.audio_retained_until) : null;
    if (!retained || retained.getTime() <= Date.now()) {
      throw new ApiError(
        409,
        'audio_not_retained',
        'the audio of this job is not kept (submit with retainAudioSeconds to keep it for re-transcription), or its retention has ended',
      );
    }


    const version = (latest.version ?? 1) + 1;
    const runId = crypto.randomUUID();
    let admitted = false;
    try {
      // A copy of the retained audio, so the version's workflow owns (and deletes) its own blobs.
      let source: string;
      try {
        source = await blobs.fetch(blobKeys.upload(job.id));
      } catch (err) {
        if (err instanceof BlobNotFoundError) throw new ApiError(409, 'audio_not_retained', 'the retained audio of this job is gone (its retention has just ended)');
        throw err;
      }
      const dest = blobs.prepare(blobKeys.upload(runId));
      await fs.promises.copyFile(source, dest);
      const { size } = await fs.promises.stat(dest);
      const upload = {
        fields: {},
        file: { path: dest, bytes: size, filename: job.filename ?? 'audio', mimeType: 'application/octet-stream', sha256: job.content_sha256 ?? '' },
      };
      try {
        await admitUpload(deps, me, runId, upload, fields, { version: { parentJobId: job.id, version, workflowId: versionWorkflowId(job.id, version) } });
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
          throw new ApiError(409, 'not_completed', `version ${version} of this job was just started by another request`);
        }
        throw err;
      }
      admitted = true;
    } finally {
      if (!admitted) await blobs.deleteJob(runId).catch(() => undefined);
    }
    const now = (await loadVersions(pool, [job])).get(job.id)!;
    res.status(202).json(jobJson(job, { includeTranscript: false, versions: now }));
  });

  return r;
}
