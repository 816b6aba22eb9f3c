/** `/v1/jobs`: admission (stream → probe → job row → workflow start) and job reads. */
import * as crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { WorkflowNotFoundError } from '@temporalio/client';
import { blobKeys } from '../../common/blobs';
import { TERMINAL_STATUSES, type JobStatus } from '../../common/constants';
import { hasWords, TRANSCRIPT_FORMATS, toSrt, toVtt, type TranscriptFormat } from '../transcript-formats';
import { principalOf } from '../auth';
import { ApiError } from '../errors';
import { jobJson, type JobRow } from '../job-json';
import { BadCursorError, JobRepository } from '../../jobs/repository';
import { retentionWorkflowId } from '../../workflows/retention';
import { runWorkflowId } from '../versions';
import {
  captionQuery,
  createJobFields,
  describeZodError,
  emptyQueryParams,
  listJobsQuery as listQuery,
  parseQuery,
  repeatedQueryParam,
  unknownQueryParams,
  validate,
} from '../schemas';
import { receiveLimitedUpload, type ReceivedUpload } from '../upload';
import { fetchAudioUrl, redactUrl } from '../audio-url';
import { admitUpload } from '../admission';
import { withoutModelAlias } from './models';
import { admitEdge } from '../edge/admission';
import { ownJob } from '../own-job';
import { checkWebhookRequest } from '../webhook-check';
import { IdempotencyStore } from '../idempotency';
import type { ApiDeps } from '../app';


/**
 * A JSON body's fields as multipart would carry them (strings), so one schema validates both:
 * booleans and numbers become their text; anything else (objects, arrays, null) is refused.
 * @throws ApiError 400 invalid_request
 */
function jsonFields(body: unknown): Record<string, string> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'invalid_request', 'the JSON body must be an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[k] = String(v);
    else throw new ApiError(400, 'invalid_request', `${k}: must be a string, number or boolean`);
  }
  return out;
}

/** The 202 body of an admitted job (docs/api.md `POST /v1/jobs`). */
function createdBody(jobId: string) {
  return { id: jobId, status: 'queued', links: { self: `/v1/jobs/${jobId}`, events: `/v1/jobs/${jobId}/events` } };
}

/** The same Idempotency-Key from the same user within 24 h returns the first job's 202 body (README). */
const IDEMPOTENCY_KEY_SECONDS = 24 * 3600;
/** The query parameters of GET /v1/jobs/:id/transcript (the OpenAPI document's). */
const TRANSCRIPT_QUERY_PARAMS = ['format', 'maxLineWidth', 'maxLineCount', 'version'] as const;

/**
 * The sentence of 409 not_completed on a transcript: a job under way will have one ("once it is completed"); a
 * failed, cancelled or expired one never will, and saying so would mislead its owner into waiting.
 * @param version the version asked for (`?version=`), null for the job's default
 */
export function notCompletedMessage(status: JobStatus, version: number | null): string {
  const subject = `the job${version !== null ? `'s version ${version}` : ''}`;
  switch (status) {
    case 'failed':
      return `${subject} failed, so it has no transcript (the job's error says why)`;
    case 'cancelled':
      return `${subject} was cancelled, so it has no transcript`;
    case 'expired':
      return `${subject} expired, so it has no transcript`;
    default:
      return `${subject} is ${status}; its transcript exists once it is completed`;
  }
}

export function jobsRouter(deps: ApiDeps): Router {
  const { pool, blobs, temporal, config } = deps;
  const idempotency = new IdempotencyStore(pool);
  const jobsRepo = new JobRepository(pool);
  const r = Router();

  r.post('/v1/jobs', async (req: Request, res: Response) => {
    const me = principalOf(req);
    const limits = config.tiers[me.tier];
    const jobId = crypto.randomUUID();
    const uploadPath = blobs.prepare(blobKeys.upload(jobId));
    let admitted = false;
    let claimedKey: string | null = null;
    try {
      let upload: ReceivedUpload;
      if (req.is('application/json')) {
        // Audio by URL as JSON: the same fields, no file part. JSON without a url carries no audio: the
        // audio itself is uploaded as multipart (415 as before this route took JSON).
        if (!req.body || typeof req.body !== 'object' || !('url' in req.body)) {
          throw new ApiError(415, 'unsupported_media_type', "a JSON body names its audio in 'url'; upload a file as multipart/form-data");
        }
        upload = { fields: jsonFields(req.body), file: null };
      } else {
        upload = await receiveLimitedUpload(deps, req, res, me, limits, {
          maxFileBytes: limits.maxFileBytes,
          destPath: uploadPath,
          // A retry with an Idempotency-Key may answer with its first job even at the limits.
          refuseAtLimits: req.header('idempotency-key') === undefined,
        });
      }
      const parsed = validate(createJobFields, upload.fields);
      if (!parsed.success) throw new ApiError(400, 'invalid_request', describeZodError(parsed.error));
      // `whisper-1` (listed by GET /v1/models) routes as on the OpenAI routes: the tier default.
      const fields = withoutModelAlias(parsed.data);
      if (fields.url !== undefined) {
        if (upload.file) throw new ApiError(400, 'invalid_request', "send the audio either as the 'file' part or as 'url', not both");
        if (fields.mode === 'edge') {
          throw new ApiError(400, 'invalid_request', 'mode=edge transcribes on your device: it takes no url (the browser reads the file itself)');
        }
      }
      if (fields.webhookUrl) await checkWebhookRequest(pool, config.webhookAllow, me.userId, fields.webhookUrl);
      if (fields.url !== undefined) {
        const sourceUrl = redactUrl(fields.url);
        deps.log.info('fetching audio by url', { jobId, url: sourceUrl });
        // A fetch is an upload in flight like any other: it holds one of the user's upload slots.
        const slot = await deps.uploadSlots.acquire(me.userId, me.tier, limits);
        try {
          upload.file = await fetchAudioUrl(fields.url, {
            allow: config.audioUrl.allow,
            maxBytes: limits.maxFileBytes,
            destPath: uploadPath,
            totalTimeoutMs: config.audioUrl.timeoutSeconds * 1000,
          });
        } finally {
          await slot.release();
        }
      }
      if (fields.mode === 'edge') {
        // Privacy mode: no audio, a plan for the browser instead (api/edge/admission.ts).
        res.status(202).json(await admitEdge(deps, req, me, jobId, upload, fields));
        return;
      }
      const key = req.header('idempotency-key');
      if (key !== undefined) {
        if (key.length === 0 || key.length > 255) throw new ApiError(400, 'invalid_request', 'Idempotency-Key must be 1 to 255 characters');
        // The same key with the same file and fields returns the first job; with anything else, 409.
        const requestHash = crypto
          .createHash('sha256')
          .update(JSON.stringify([upload.file?.sha256 ?? null, Object.entries(upload.fields).sort()]))
          .digest('hex');
        const claim = await idempotency.claim(me.userId, `jobs:${key}`, requestHash, jobId, IDEMPOTENCY_KEY_SECONDS);
        if (claim.kind === 'existing') return void res.status(202).json(createdBody(claim.jobId));
        claimedKey = `jobs:${key}`;
      }
      // The stored options (and so the job JSON) keep the URL without userinfo, query or fragment.
      const stored = fields.url !== undefined ? { ...fields, url: redactUrl(fields.url) ?? undefined } : fields;
      await admitUpload(deps, me, jobId, upload, stored);
      admitted = true;
      res.status(202).json(createdBody(jobId));
    } catch (err) {
      if (claimedKey) await idempotency.release(me.userId, claimedKey, jobId).catch(() => undefined);
      throw err;
    } finally {
      if (!admitted) await blobs.deleteJob(jobId);
    }
  });

  const ownJobOf = (req: Request) => ownJob(pool, principalOf(req).userId, String(req.params.id));

  r.get('/v1/jobs', async (req: Request, res: Response) => {
    const me = principalOf(req);
    const query = parseQuery(listQuery, req.query);
    let page;
    try {
      page = await jobsRepo.list(me.userId, query);
    } catch (err) {
      if (err instanceof BadCursorError) throw new ApiError(400, 'invalid_request', err.message);
      throw err;
    }
    const versions = await jobsRepo.versions(page.rows);
    res.json({
      data: page.rows.map((row) => jobJson(row, { includeTranscript: false, versions: versions.get(row.id) })),
      nextCursor: page.nextCursor,
    });
  });

  /** The job's own row and every version row, oldest first. */
  const versionsOf = async (job: JobRow) => (await jobsRepo.versions([job])).get(job.id)!;

  r.get('/v1/jobs/:id', async (req: Request, res: Response) => {
    const job = await ownJobOf(req);
    res.json(jobJson(job, { versions: await versionsOf(job) }));
  });

  r.get('/v1/jobs/:id/transcript', async (req: Request, res: Response) => {
    const empty = emptyQueryParams(req.query);
    if (empty) throw new ApiError(400, 'invalid_request', empty);
    // A parameter it does not know is refused by name like GET /v1/jobs's and /v1/usage's: a misspelt
    // `maxLinewidth` would otherwise give captions that are silently not laid out.
    const unknown = unknownQueryParams(req.query, TRANSCRIPT_QUERY_PARAMS);
    if (unknown) throw new ApiError(400, 'invalid_request', unknown);
    const repeated = repeatedQueryParam(req.query);
    if (repeated) throw new ApiError(400, 'invalid_request', repeated);
    const format = String(req.query.format ?? 'text');
    if (!(TRANSCRIPT_FORMATS as readonly string[]).includes(format)) {
      throw new ApiError(400, 'invalid_request', `format must be one of ${TRANSCRIPT_FORMATS.join(', ')}`);
    }
    const q = validate(captionQuery, { maxLineWidth: req.query.maxLineWidth, maxLineCount: req.query.maxLineCount });
    if (!q.success) throw new ApiError(400, 'invalid_request', describeZodError(q.error, 'the query'));
    const layout = q.data.maxLineWidth !== undefined || q.data.maxLineCount !== undefined ? q.data : undefined;
    if (layout && format !== 'srt' && format !== 'vtt') {
      throw new ApiError(400, 'invalid_request', 'maxLineWidth and maxLineCount lay out captions: use them with format=srt or vtt');
    }
    const wanted = req.query.version === undefined ? null : Number(req.query.version);
    if (wanted !== null && (!Number.isSafeInteger(wanted) || wanted < 1)) {
      throw new ApiError(400, 'invalid_request', 'version must be a version number (1, 2, …)');
    }
    const parent = await ownJobOf(req);
    const versions = await versionsOf(parent);
    let job: JobRow | undefined;
    if (wanted !== null) {
      job = versions.find((v) => (v.version ?? 1) === wanted);
      if (!job) throw new ApiError(404, 'not_found', `the job has no version ${wanted} (it has ${versions.length})`);
    } else {
      // Without ?version: the newest completed version (an earlier one stays readable while a newer runs).
      job = [...versions].reverse().find((v) => v.status === 'completed') ?? versions[versions.length - 1];
    }
    if (job.status !== 'completed') {
      throw new ApiError(409, 'not_completed', notCompletedMessage(job.status as JobStatus, wanted));
    }
    const segments = job.segments ?? [];
    if (layout && !hasWords(segments)) {
      throw new ApiError(
        409,
        'words_not_available',
        'captions laid out by maxLineWidth/maxLineCount need word times: create the job with wordTimestamps=true',
      );
    }
    switch (format as TranscriptFormat) {
      case 'srt':
        res.type('application/x-subrip').send(toSrt(segments, layout));
        return;
      case 'vtt':
        res.type('text/vtt').send(toVtt(segments, layout));
        return;
      case 'json':
        res.json({ id: parent.id, version: job.version ?? 1, language: job.language, text: job.text ?? '', segments });
        return;
      default:
        res.type('text/plain').send((job.text ?? '') + '\n');
    }
  });

  r.post('/v1/jobs/:id/cancel', async (req: Request, res: Response) => {
    const parent = await ownJobOf(req);
    const versions = await versionsOf(parent);
    // Cancel acts on the latest version: the only one that can be running.
    const job = versions[versions.length - 1];
    if (TERMINAL_STATUSES.includes(job.status as JobStatus)) {
      throw new ApiError(409, 'not_cancellable', `the job has already ended (${job.status})`);
    }
    try {
      // Temporal's own workflow cancellation, so the workflow closes as Canceled (not Failed) in the UI.
      await temporal.workflow.getHandle(runWorkflowId(job)).cancel();
    } catch (err) {
      // The workflow ended between the read and the request.
      if (err instanceof WorkflowNotFoundError) throw new ApiError(409, 'not_cancellable', 'the job has already ended');
      throw err;
    }
    // The job as it is now (queued or running): it reads `cancelled` once its clean-up is done.
    res.status(202).json(jobJson(parent, { includeTranscript: false, versions }));
  });

  r.delete('/v1/jobs/:id', async (req: Request, res: Response) => {
    const parent = await ownJobOf(req);
    const versions = await versionsOf(parent);
    for (const job of versions) {
      if (!TERMINAL_STATUSES.includes(job.status as JobStatus)) {
        const handle = temporal.workflow.getHandle(runWorkflowId(job));
        await handle.cancel().catch(() => undefined);
        // Wait for the release of its reservation and audio, so nothing outlives the deletion.
        await handle.result().catch(() => undefined);
      }
    }
    // The retained audio goes now; its timer is stopped (it would find nothing left to delete).
    await temporal.workflow.getHandle(retentionWorkflowId(parent.id)).cancel().catch(() => undefined);
    const ids = versions.map((v) => v.id);
    // Transcripts and audio go; the rows stay (marked deleted) so the usage ledger keeps its jobs.
    await jobsRepo.softDelete(ids);
    for (const id of ids) await blobs.deleteJob(id);
    res.status(204).end();
  });

  return r;
}
