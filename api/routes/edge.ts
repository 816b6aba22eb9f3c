/**
 * Privacy mode's HTTP surface. Public (before key authentication): the page `/edge`, its scripts,
 * onnxruntime-web's wasm files and the model files (all from our origin, so the page can be
 * cross-origin isolated), the plan read by edge token, and `POST /v1/jobs/:id/edge-result`
 * (Bearer = the edge token, its own body limit). Authenticated: `PUT /v1/jobs/:id/audio`, the
 * cloud fallback's upload.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { sileroModelPath, sileroSeqModel } from '../../audio/silero-vad';
import { blobKeys } from '../../common/blobs';
import { REPO_ROOT } from '../../common/config';
import { workflowIdFor, type Tier } from '../../common/constants';
import { routeFallbackAudio } from '../../jobs/admission';
import { JobRepository } from '../../jobs/repository';
import { edgeAudioUpdate, edgeResultUpdate } from '../../workflows/edge';
import type { ApiDeps } from '../app';
import { principalOf } from '../auth';
import { buildEdgeBundle, type EdgeBundle } from '../edge/bundle';
import { manifestFor, modelFileUrl } from '../edge/plan';
import { checkEdgeToken, useEdgeToken } from '../edge/token';
import { originOf } from '../edge/admission';
import { admittedOrThrow, ApiError, refusalError } from '../errors';
import { ownJob } from '../own-job';
import { describeZodError, validate } from '../schemas';
import { edgeAcceptedSchema, edgeResultSchema } from '../edge/schemas';
import { receiveLimitedUpload } from '../upload';

const PAGE_FILE = path.join(REPO_ROOT, 'edge', 'page', 'index.html');
const ORT_DIST = path.join(REPO_ROOT, 'node_modules', 'onnxruntime-web', 'dist');
/** The only onnxruntime-web files the page loads: the threaded SIMD build's glue and binary. */
const ORT_FILES: Record<string, string> = {
  'ort-wasm-simd-threaded.mjs': 'text/javascript',
  'ort-wasm-simd-threaded.wasm': 'application/wasm',
};
/** Versioned URLs (hash in the query) may be cached for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Cross-origin isolation (COOP + COEP) gives the page SharedArrayBuffer, which onnxruntime-web's
 * threads need; CORP lets the isolated page load our own files. The CSP keeps every request on our
 * origin: nothing the page runs can send anything elsewhere.
 */
function isolate(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  next();
}
const PAGE_CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

function bearer(req: Request): string | null {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  return m ? m[1] : null;
}

const REJECTION: Record<string, string> = {
  other_job: 'this edge token belongs to another job',
  used: 'this edge token was already used: a result is accepted once',
  expired: "the job's edge deadline has passed",
};

/** True when the job was deleted (DELETE /v1/jobs/:id): it answers 404 like any unknown job. */
function isDeleted(pool: ApiDeps['pool'], jobId: string): Promise<boolean> {
  return new JobRepository(pool).isDeleted(jobId);
}

const deletedJob = () => new ApiError(404, 'not_found', 'no such job');

/** A workflow Update that was refused, or whose workflow has ended or is gone. */
function isUpdateRefusal(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateFailedError ||
    err instanceof WorkflowNotFoundError ||
    (err instanceof Error && /workflow execution already completed/i.test(err.message))
  );
}

/**
 * The client's sentence for a refused Update: our workflow validator's own message (an
 * ApplicationFailure it threw), else `fallback` — never Temporal's wording ("workflow execution
 * already completed") or an id.
 */
function updateRefusalMessage(err: unknown, fallback: string): string {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.message) return err.cause.message;
  return fallback;
}

export function edgePublicRouter(deps: ApiDeps): Router {
  const { pool, temporal, config, log } = deps;
  const manifest = manifestFor(config.modelsDir);
  const r = Router();
  let bundle: Promise<EdgeBundle> | null = null;
  const getBundle = () => {
    bundle ??= buildEdgeBundle();
    bundle.catch(() => (bundle = null));
    return bundle;
  };

  r.use('/edge', isolate);

  r.get('/edge', async (_req: Request, res: Response) => {
    const { version } = await getBundle();
    const html = (await fs.promises.readFile(PAGE_FILE, 'utf8')).replaceAll('__VERSION__', version);
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(html);
  });

  r.get('/edge/assets/:file', async (req: Request, res: Response) => {
    const { files } = await getBundle();
    const js = files.get(String(req.params.file));
    if (!js) throw new ApiError(404, 'not_found', 'no such asset');
    res.setHeader('Cache-Control', IMMUTABLE);
    res.type('text/javascript').send(js);
  });

  r.get('/edge/ort/:file', (req: Request, res: Response) => {
    const file = String(req.params.file);
    const type = ORT_FILES[file];
    if (!type) throw new ApiError(404, 'not_found', 'no such file');
    res.sendFile(path.join(ORT_DIST, file), { headers: { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' } });
  });

  // Silero VAD v5 for the page's speech detection: the graph the service's VAD loads (audio/silero-vad.ts
  // loadSileroVad): the sequence graph when setup built it (one call per block), else the shipped file.
  // Chosen once, at the first request: the choice hashes both model files (synchronous reads on the event loop),
  // and the service's VAD sessions likewise choose once, when they load.
  let vadFile: string | undefined;
  r.get('/edge/vad/silero-vad.onnx', (_req: Request, res: Response) => {
    if (vadFile === undefined) {
      const seq = sileroSeqModel();
      vadFile = 'file' in seq ? seq.file : sileroModelPath();
    }
    res.sendFile(vadFile, {
      // the built graph lives under ~/.cache/fairscribe: send's default refuses paths through a dot folder
      dotfiles: 'allow',
      headers: { 'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-cache' },
    });
  });

  r.get('/edge/models/:model/*file', (req: Request, res: Response) => {
    const file = (req.params.file as unknown as string[]).join('/');
    const abs = manifest.resolve(String(req.params.model), file);
    if (!abs) throw new ApiError(404, 'not_found', 'no such model file');
    res.sendFile(abs, { headers: { 'Cache-Control': IMMUTABLE, 'Content-Type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream' } });
  });

  /** The plan of a job by its edge token (the page opened from `pageUrl`); does not use the token. */
  r.get('/edge/jobs/:id/plan', async (req: Request, res: Response) => {
    const jobId = String(req.params.id);
    const token = bearer(req);
    if (!token) throw new ApiError(401, 'unauthorized', 'send the edge token: "Authorization: Bearer <token>"');
    const check = await checkEdgeToken(pool, jobId, token);
    if (!check.ok) {
      if (check.status === 401) throw new ApiError(401, 'unauthorized', 'bad edge token');
      throw new ApiError(409, 'edge_result_rejected', REJECTION[check.reason]);
    }
    if (await isDeleted(pool, jobId)) throw deletedJob();
    const plan = check.plan!;
    const origin = originOf(req);
    const files = plan.model ? await manifest.files(plan.model) : [];
    const facts = await new JobRepository(pool).edgePageFacts(jobId);
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      jobId,
      model: plan.model,
      modelFiles: files.map((f) => ({ url: modelFileUrl(origin, plan.model!, f), sha256: f.sha256, bytes: f.bytes })),
      expiresAt: plan.expires_at.toISOString(),
      allowFallback: plan.allow_fallback,
      ...(facts.reason ? { reason: facts.reason } : {}),
      // the job asked for words: the page's engine aligns them and sends them with the segments
      ...(facts.wordTimestamps ? { wordTimestamps: true } : {}),
    });
  });

  const maxBytes = config.edge.resultMaxBytes;
  const tooLarge = (bytes: number | string) =>
    new ApiError(413, 'edge_result_rejected', `the result is ${bytes} bytes, over the bound of ${maxBytes} bytes`, { limit: maxBytes });
  const parseResult = express.json({ limit: maxBytes, type: () => true });

  r.post('/v1/jobs/:id/edge-result', async (req: Request, res: Response) => {
    const jobId = String(req.params.id);
    const reject = (err: ApiError, reason: string) => {
      // Logged without the token or any of the text.
      log.warn('edge result rejected', { jobId, status: err.status, reason });
      return err;
    };
    const token = bearer(req);
    if (!token) throw reject(new ApiError(401, 'unauthorized', 'send the edge token: "Authorization: Bearer <token>"'), 'no token');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBytes) {
      req.resume();
      res.setHeader('Connection', 'close');
      throw reject(tooLarge(declared), 'too large');
    }
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      throw reject(new ApiError(415, 'unsupported_media_type', 'send the result as application/json'), 'media type');
    }
    await new Promise<void>((resolve, reject2) =>
      parseResult(req, res, (err?: { type?: string; length?: number; message?: string }) => {
        if (!err) return resolve();
        if (err.type === 'entity.too.large') return reject2(reject(tooLarge(err.length ?? 'more than the bound'), 'too large'));
        reject2(reject(new ApiError(400, 'invalid_request', `malformed JSON: ${err.message}`), 'malformed'));
      }),
    );
    const check = await checkEdgeToken(pool, jobId, token);
    if (!check.ok) {
      if (check.status === 401) throw reject(new ApiError(401, 'unauthorized', 'bad edge token'), 'unknown token');
      throw reject(new ApiError(409, 'edge_result_rejected', REJECTION[check.reason]), check.reason);
    }
    if (await isDeleted(pool, jobId)) throw reject(deletedJob(), 'deleted');
    const parsed = validate(edgeResultSchema, req.body);
    if (!parsed.success) throw reject(new ApiError(400, 'invalid_request', describeZodError(parsed.error)), 'invalid body');
    const result = parsed.data;
    if (check.plan!.model?.endsWith('.en') && result.language !== 'en') {
      throw reject(new ApiError(400, 'invalid_request', `language: model ${check.plan!.model} transcribes English only`), 'language');
    }
    // The server never sees an edge job's audio, so its length bounds the times instead: no audio the job's tier
    // admits runs past maxAudioSeconds. A later time is no transcript (1e308 s made captions "NaN:NaN:NaN,NaN").
    // Words lie inside their segments (the schema), so the segments' ends bound them too.
    const { rows: tierRows } = await pool.query<{ tier: Tier }>('SELECT tier FROM jobs WHERE id = $1', [jobId]);
    const tier = tierRows[0]?.tier;
    const longest = tier ? config.tiers[tier].maxAudioSeconds : Infinity;
    const late = result.segments.findIndex((s) => s.end > longest);
    if (late >= 0) {
      throw reject(
        new ApiError(400, 'invalid_request', `segments.${late}.end: ${result.segments[late].end} s is past the longest audio the ${tier} tier admits (${longest} s)`),
        'times',
      );
    }
    if (!(await useEdgeToken(pool, jobId, token))) {
      throw reject(new ApiError(409, 'edge_result_rejected', 'this edge token was already used or its deadline passed'), 'race');
    }
    const bytes = Buffer.byteLength(JSON.stringify(result));
    await pool.query(
      `INSERT INTO edge_results (job_id, text, segments, language, bytes) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id) DO NOTHING`,
      [jobId, result.text, JSON.stringify(result.segments), result.language, bytes],
    );
    try {
      await temporal.workflow.getHandle(workflowIdFor(jobId)).executeUpdate(edgeResultUpdate);
    } catch (err) {
      await pool.query('DELETE FROM edge_results WHERE job_id = $1', [jobId]);
      // A job deleted meanwhile is gone like any deleted job; otherwise our workflow's own sentence, never Temporal's.
      if (await isDeleted(pool, jobId)) throw reject(deletedJob(), 'deleted');
      if (isUpdateRefusal(err)) {
        throw reject(new ApiError(409, 'edge_result_rejected', `the job did not take the result: ${updateRefusalMessage(err, 'the job no longer waits for a browser result')}`), 'workflow refused');
      }
      throw err;
    }
    log.info('edge result accepted', { jobId, bytes, segments: result.segments.length });
    res.status(202).json(edgeAcceptedSchema.parse({ id: jobId, status: 'accepted' }));
  });

  return r;
}

/** `PUT /v1/jobs/:id/audio`: the cloud fallback of an edge job (normal admission; may answer 429). */
export function edgeAudioRouter(deps: ApiDeps): Router {
  const { pool, blobs, temporal, config } = deps;
  const r = Router();

  r.put('/v1/jobs/:id/audio', async (req: Request, res: Response) => {
    const me = principalOf(req);
    const job = await ownJob(pool, me.userId, String(req.params.id));
    const jobId = job.id;
    const limits = config.tiers[me.tier];
    const notAwaiting = (why: string) => new ApiError(409, 'not_awaiting_audio', why);
    if (job.mode !== 'edge') throw notAwaiting('only an edge job (mode=edge) takes its audio this way');
    if (job.status !== 'queued') throw notAwaiting(`the job is ${job.status}`);
    // One upload at a time per job; a claim older than an hour is from a crashed request.
    const claim = await pool.query(
      `UPDATE edge_plans SET pending_audio = jsonb_build_object('receiving', now())
        WHERE job_id = $1 AND allow_fallback
          AND (pending_audio IS NULL OR (pending_audio->>'receiving')::timestamptz < now() - interval '1 hour')
        RETURNING job_id`,
      [jobId],
    );
    if (claim.rowCount !== 1) {
      const { rows } = await pool.query('SELECT allow_fallback FROM edge_plans WHERE job_id = $1', [jobId]);
      throw notAwaiting(rows[0]?.allow_fallback ? 'an upload for this job is already in progress or done' : 'this edge job does not allow fallback to the cloud');
    }
    let admitted = false;
    try {
      const upload = await receiveLimitedUpload(deps, req, res, me, limits, { maxFileBytes: limits.maxFileBytes, destPath: blobs.prepare(blobKeys.upload(jobId)) });
      if (!upload.file) throw new ApiError(400, 'missing_file', "no audio: send it as the multipart part named 'file'");
      if (Object.keys(upload.fields).length > 0) {
        throw new ApiError(400, 'invalid_request', `unknown field(s): ${Object.keys(upload.fields).join(', ')}; the job keeps the fields it was created with`);
      }
      const pending = admittedOrThrow(await routeFallbackAudio(deps, me, job, upload.file));
      await pool.query('UPDATE edge_plans SET pending_audio = $2 WHERE job_id = $1', [jobId, JSON.stringify(pending)]);
      // Visible to workers on other machines (S3) before the workflow can prepare it.
      await blobs.commit(blobKeys.upload(jobId));
      let outcome;
      try {
        outcome = await temporal.workflow.getHandle(workflowIdFor(jobId)).executeUpdate(edgeAudioUpdate);
      } catch (err) {
        if (isUpdateRefusal(err)) throw notAwaiting(updateRefusalMessage(err, 'the job no longer waits for audio'));
        throw err;
      }
      if (!outcome.ok) throw refusalError(outcome.refusal);
      admitted = true;
      res.status(202).json({ id: jobId, status: 'queued', links: { self: `/v1/jobs/${jobId}`, events: `/v1/jobs/${jobId}/events` } });
    } finally {
      if (!admitted) {
        await pool.query('UPDATE edge_plans SET pending_audio = NULL WHERE job_id = $1', [jobId]);
        await blobs.deleteJob(jobId);
      }
    }
  });

  return r;
}

