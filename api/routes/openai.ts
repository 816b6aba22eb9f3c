/**
 * OpenAI-compatible speech-to-text: `POST /v1/audio/transcriptions` and `/v1/audio/translations`,
 * accepting what the official `openai` client sends and answering in OpenAI's shapes. Each call runs
 * the same durable workflow as `/v1/jobs` (same quota, priority and routing) and waits for it.
 * The client retries timeouts and 5xx: a retry finds the first call's job by Idempotency-Key, or by
 * user + content hash + parameters within a few minutes, and is never admitted or charged twice; a
 * same-content job that failed on our side (5xx) is not reused (contentLinkAnswers).
 */
import * as crypto from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Router, type Request, type Response } from 'express';
import type { z } from 'zod';
import { blobKeys } from '../../common/blobs';
import { workflowIdFor } from '../../common/constants';
import { FRAMES_PER_SECOND } from '../../engine/constants';
import { NO_SPACE_LANGUAGES } from '../../engine/timing';
import { verboseLanguageFields } from '../openai-language';
import { admitUpload } from '../admission';
import { JobRepository } from '../../jobs/repository';
import type { ApiDeps } from '../app';
import { principalOf } from '../auth';
import { ApiError, openAiErrorBody, openAiParamOfCode, statusOfJobError } from '../errors';
import { finalPrefixSegments, segmentDeltas } from '../../audio/transcript';
import { IdempotencyStore } from '../idempotency';
import type { JobRow } from '../job-json';
import { describeZodError, openAiFields, RESPONSE_FORMATS, validate } from '../schemas';
import { toSrt, toVtt } from '../transcript-formats';
import type { StoredSegment } from '../../audio/transcript';
import { OPENAI_MODEL_ALIAS } from './models';
import { receiveLimitedUpload } from '../upload';

/** The multipart keys of OpenAI's `chunking_strategy` object (its VAD settings: type, threshold, prefix_padding_ms, silence_duration_ms). */
const CHUNKING_STRATEGY_KEY = /^chunking_strategy\[[a-z_]{1,40}\]$/;

/** Without an Idempotency-Key, identical calls within this window are one call (client retries). */
const CONTENT_DEDUP_SECONDS = 5 * 60;
const IDEMPOTENCY_KEY_SECONDS = 24 * 3600;


export function openAiRouter(deps: ApiDeps): Router {
  const { pool, blobs, temporal, config } = deps;
  const idempotency = new IdempotencyStore(pool);
  const r = Router();

  const handler = (task: 'transcribe' | 'translate') => async (req: Request, res: Response) => {
    const me = principalOf(req);
    const limits = config.tiers[me.tier];
    const uploadJobId = crypto.randomUUID();
    let jobId: string = uploadJobId;
    const uploadPath = blobs.prepare(blobKeys.upload(uploadJobId));
    let keep = false;
    let claimedKey: string | null = null;
    let format: (typeof RESPONSE_FORMATS)[number] = 'json';
    let stream = false;
    let granularities = granularitiesOf(undefined);
    let requestedLanguage: string | undefined;
    let keyed = false;
    let linkKey: string | null = null;
    try {
      const upload = await receiveLimitedUpload(deps, req, res, me, limits, {
        maxFileBytes: limits.maxFileBytes,
        destPath: uploadPath,
        repeatable: ['timestamp_granularities[]', 'timestamp_granularities', 'include[]'],
      });
      // OpenAI's `chunking_strategy` object reaches us as the official client sends objects in multipart:
      // `chunking_strategy[type]=server_vad`, `chunking_strategy[threshold]=0.5`, … We always cut at the
      // silences our own VAD finds (README "How a job runs"), so, like `chunking_strategy=auto`, these are
      // accepted and have no effect, rather than refused as unknown fields.
      const parsed = validate(
        openAiFields,
        Object.fromEntries(Object.entries(upload.fields).filter(([k]) => !CHUNKING_STRATEGY_KEY.test(k))),
      );
      if (!parsed.success) throw new ApiError(400, 'invalid_request', describeZodError(parsed.error), { param: zodParam(parsed.error) });
      const f = parsed.data;
      requestedLanguage = f.language;
      format = f.response_format ?? 'json';
      // `timestamp_granularities[]` (as the official clients send it) and the bare name are one field.
      const granularityField = [f['timestamp_granularities[]'], f.timestamp_granularities].filter((v) => v !== undefined).join(',') || undefined;
      granularities = granularitiesOf(granularityField);
      if (granularityField !== undefined && format !== 'verbose_json') {
        // OpenAI: "response_format must be set verbose_json to use timestamp granularities"
        throw new ApiError(400, 'invalid_request', 'timestamp_granularities[] needs response_format=verbose_json', {
          param: 'timestamp_granularities[]',
        });
      }
      stream = f.stream === true;
      if (stream && format !== 'json' && format !== 'text') {
        // OpenAI streams only its json/text shapes; srt, vtt and verbose_json have no delta form.
        throw new ApiError(400, 'invalid_request', `stream=true works with response_format json or text, not ${format}`, { param: 'stream' });
      }
      if (!upload.file) throw new ApiError(400, 'missing_file', "no audio: send it as the multipart part named 'file'", { param: 'file' });

      const headerKey = req.header('idempotency-key');
      if (headerKey !== undefined && (headerKey.length === 0 || headerKey.length > 255)) {
        throw new ApiError(400, 'invalid_request', 'Idempotency-Key must be 1 to 255 characters');
      }
      // response_format is left out: the same audio asked again in another format is still one job.
      const requestHash = crypto
        .createHash('sha256')
        .update(JSON.stringify([req.path, upload.file.sha256, f.model, f.language, f.prompt, f.temperature, task, granularities.word]))
        .digest('hex');
      const key = headerKey ? `key:${headerKey}` : `content:${requestHash}`;
      const ttl = headerKey ? IDEMPOTENCY_KEY_SECONDS : CONTENT_DEDUP_SECONDS;
      let claim = await idempotency.claim(me.userId, key, requestHash, jobId, ttl);
      if (claim.kind === 'existing' && !headerKey) {
        // A same-content link whose job ended in a failure of ours (5xx: inference_failed, internal) is not
        // this call's answer: the failure may be gone, so a deliberate retry runs a new job.
        const linked = await new JobRepository(pool).get(claim.jobId);
        if (!contentLinkAnswers(linked)) {
          await idempotency.release(me.userId, key, claim.jobId);
          claim = await idempotency.claim(me.userId, key, requestHash, jobId, ttl);
        }
      }
      linkKey = key;
      keyed = headerKey !== undefined;
      if (claim.kind === 'existing') {
        jobId = claim.jobId; // a retry: answer with the first call's job; our upload is dropped below
      } else {
        claimedKey = key;
        await admitUpload(
          deps,
          me,
          jobId,
          upload,
          {
            model: f.model === OPENAI_MODEL_ALIAS ? undefined : f.model,
            language: f.language,
            prompt: f.prompt,
            temperature: f.temperature,
            task,
            ...(granularities.word ? { wordTimestamps: true } : {}),
          },
          { syncMaxAudioSeconds: config.syncMaxAudioSeconds, requireCapacity: true },
        );
        keep = true;
      }
    } catch (err) {
      if (claimedKey) await idempotency.release(me.userId, claimedKey, uploadJobId).catch(() => undefined);
      throw err;
    } finally {
      if (!keep) await blobs.deleteJob(uploadJobId).catch(() => undefined);
    }

    if (stream) {
      await streamTranscript(deps, req, res, jobId, async () => {
        // The stream's client went away: the route is synchronous, so the job goes with it (its
        // reservation is released by the workflow's cancellation), and a retry may run afresh.
        if (claimedKey) await idempotency.release(me.userId, claimedKey, jobId).catch(() => undefined);
      });
      return;
    }
    // Wait for the workflow; the job row holds the outcome.
    await waitForWorkflow(temporal, jobId);
    const job = await new JobRepository(pool).get(jobId);
    if (!job || job.status !== 'completed') {
      // Without an Idempotency-Key, a failure of ours gives the same-content link back (contentLinkAnswers): a
      // retry, the client's own included, runs a new job. Whichever call linked it, the link holds this job.
      const retryRunsAgain = !keyed && !contentLinkAnswers(job);
      if (retryRunsAgain && linkKey) await idempotency.release(me.userId, linkKey, jobId).catch(() => undefined);
      throw jobOutcomeError(job, { retryRunsAgain });
    }
    sendTranscript(res, job, format, task, granularities, requestedLanguage);
  };

  r.post('/v1/audio/transcriptions', handler('transcribe'));
  r.post('/v1/audio/translations', handler('translate'));
  return r;
}

/**
 * Whether a call without an Idempotency-Key that finds the same-content link to `job` answers with that job.
 * Yes while it runs, once it completed, and when it ended for a reason a retry cannot change (a 4xx: the audio
 * cannot be decoded, it was cancelled). No when it ended in a failure of ours (statusOfJobError 5xx:
 * `inference_failed` after its retries, `internal`): that may be gone a moment later, so a retry runs a new job
 * rather than repeat the 500 for CONTENT_DEDUP_SECONDS. With an Idempotency-Key the same answer is the contract,
 * so this is not asked. A job not found yet (the first call still admitting it) answers.
 * @param job the linked job's row (status, error_code), or null
 */
export function contentLinkAnswers(job: Pick<JobRow, 'status' | 'error_code'> | null | undefined): boolean {
  if (!job || job.status !== 'failed') return true;
  return statusOfJobError(job.error_code, job.status) < 500;
}

/**
 * The error of a job that did not complete (failed, cancelled, lost), as the synchronous route answers it.
 * `x-should-retry: false` stops the official client's automatic retries (it retries 409 and 5xx, uploading the
 * file again each time) where a retry would get this same job: a 4xx outcome, or any outcome with an
 * Idempotency-Key. A 5xx without one (`retryRunsAgain`: its link was given back, contentLinkAnswers) leaves the
 * client its retries, which run a new job.
 * @param opts.retryRunsAgain a retry of this call would run a new job
 */
export function jobOutcomeError(job: JobRow | null | undefined, opts: { retryRunsAgain?: boolean } = {}): ApiError {
  const code = job?.error_code ?? (job?.status === 'cancelled' ? 'cancelled' : 'failed');
  return new ApiError(
    statusOfJobError(job?.error_code, job?.status),
    code,
    job?.error_message ?? `the transcription ${job?.status ?? 'was lost'}`,
    {},
    opts.retryRunsAgain ? {} : { 'x-should-retry': 'false' },
  );
}

/**
 * OpenAI's `param`: the field an error names (the first issue's field, or every unknown field's name).
 * Null when the error is about the request as a whole.
 */
function zodParam(err: z.ZodError): string | null {
  const issue = err.issues[0];
  if (!issue) return null;
  // OpenAI names one field in `param`: the first unknown one (cut like the message's names).
  if (issue.code === 'unrecognized_keys') return issue.keys[0]?.slice(0, 40) || null;
  return issue.path.length ? issue.path.map(String).join('.') : null;
}

/** How long a retry waits for the first call's workflow to appear (it may still be admitting). */
const ADMISSION_WAIT_MS = 60_000;
const ADMISSION_POLL_MS = 200;

/** Waits for the job's workflow to end; a retry may arrive before the first call has started it. */
async function waitForWorkflow(temporal: Client, jobId: string): Promise<void> {
  const deadline = Date.now() + ADMISSION_WAIT_MS;
  for (;;) {
    try {
      await temporal.workflow.getHandle(workflowIdFor(jobId)).result();
      return;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, ADMISSION_POLL_MS));
    }
  }
}

/** How often a stream looks for newly stored chunks. */
const STREAM_POLL_MS = 250;
const STREAM_KEEPALIVE_MS = 15_000;

/**
 * `stream=true`: OpenAI's server-sent events (`transcript.text.delta` {type, delta} per segment, then
 * `transcript.text.done` {type, text}). A segment is sent once it is final: its chunk, every chunk
 * before it and, where they overlap, the chunk after it are stored (audio/transcript.ts
 * finalPrefixSegments). So what was sent is always the prefix of the job's final transcript. A failed or cancelled job ends the stream with an
 * `error` event in OpenAI's error shape (the official client throws it as an APIError). A client
 * that disconnects before the end cancels the job (the route is synchronous).
 */
async function streamTranscript(deps: ApiDeps, req: Request, res: Response, jobId: string, onAbandon: () => Promise<void>) {
  const { pool, temporal } = deps;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no', // nginx: pass events through unbuffered
  });
  res.flushHeaders();
  let finished = false;
  let closed = false;
  const send = (event: object) => res.write(`data: ${JSON.stringify(event)}\n\n`);
  res.on('close', () => {
    closed = true;
    if (finished) return;
    deps.log.info('stream abandoned; cancelling its job', { jobId });
    void (async () => {
      try {
        const handle = temporal.workflow.getHandle(workflowIdFor(jobId));
        await handle.cancel();
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) deps.log.warn('cancel after disconnect failed', { jobId, err: String(err) });
      }
      await onAbandon();
    })();
  });
  let sent = 0;
  let lastWrite = Date.now();
  let ended = false;
  void waitForWorkflow(temporal, jobId).finally(() => (ended = true));
  // Stored chunks by index; only those at or after the first missing one are read again.
  const stored = new Map<number, { index: number; start: number; end: number; segments: { start: number; end: number; text: string }[]; overlapsNext: boolean }>();
  let prefix = 0;
  while (!closed) {
    const over = ended;
    const { rows: chunks } = await pool.query(
      'SELECT chunk_index, start_s, end_s, segments, overlap_next FROM chunk_results WHERE job_id = $1 AND chunk_index >= $2',
      [jobId, prefix],
    );
    for (const r of chunks) {
      stored.set(r.chunk_index, { index: r.chunk_index, start: r.start_s, end: r.end_s, segments: r.segments, overlapsNext: r.overlap_next });
    }
    // The stored prefix 0..k-1: a gap means a later chunk finished first and waits for it.
    let k = prefix;
    while (stored.has(k)) k++;
    if (k > prefix) {
      prefix = k;
      const merged = finalPrefixSegments(Array.from({ length: k }, (_, i) => stored.get(i)!));
      for (const delta of segmentDeltas(merged, sent)) {
        send({ type: 'transcript.text.delta', delta });
        lastWrite = Date.now();
      }
      sent = Math.max(sent, merged.length); // merged segments all have text
    }
    if (over) break;
    if (Date.now() - lastWrite > STREAM_KEEPALIVE_MS) {
      res.write(': keep-alive\n\n');
      lastWrite = Date.now();
    }
    await new Promise((r) => setTimeout(r, STREAM_POLL_MS));
  }
  if (closed) return;
  const job = await new JobRepository(pool).get(jobId);
  finished = true;
  if (!job || job.status !== 'completed') {
    const code = job?.error_code ?? (job?.status === 'cancelled' ? 'cancelled' : 'failed');
    const status = statusOfJobError(job?.error_code, job?.status);
    const message = job?.error_message ?? `the transcription ${job?.status ?? 'was lost'}`;
    // The same body as the synchronous answer, `param` included (`file` for the audio's errors).
    res.write(`event: error\ndata: ${JSON.stringify(openAiErrorBody(status, code, message, openAiParamOfCode(code)))}\n\n`);
    res.end();
    return;
  }
  // Segments not yet sent (the last poll may have raced the final chunk): from the final transcript.
  for (const delta of segmentDeltas(job.segments ?? [], sent)) send({ type: 'transcript.text.delta', delta });
  send({ type: 'transcript.text.done', text: job.text ?? '' });
  res.end();
}

/** Which of OpenAI's timestamp granularities a request asked for; none given = segment (OpenAI's default). */
function granularitiesOf(field: string | undefined): { segment: boolean; word: boolean } {
  if (field === undefined) return { segment: true, word: false };
  const g = field.split(',');
  return { segment: g.includes('segment'), word: g.includes('word') };
}

/**
 * Answers in OpenAI's shapes and content types: text/plain for text and srt, text/vtt, else JSON.
 * verbose_json has `segments` for the segment granularity and a top-level `words: [{word, start, end}]`
 * for the word granularity (OpenAI's TranscriptionVerbose; its words carry no leading space).
 */
function sendTranscript(
  res: Response,
  job: JobRow,
  format: string,
  task: 'transcribe' | 'translate',
  granularities: { segment: boolean; word: boolean },
  requestedLanguage?: string,
) {
  const segments = job.segments ?? [];
  const text = job.text ?? '';
  // OpenAI's duration usage (its Transcription.Duration / TranscriptionVerbose.Usage: whisper-1 is billed by
  // the second): ours is what this job was charged, the speech seconds sent to inference, rounded up.
  const usage = { type: 'duration' as const, seconds: job.billed_seconds ?? 0 };
  switch (format) {
    case 'text':
      res.type('text/plain').send(text + '\n');
      return;
    case 'srt':
      res.type('text/plain').send(toSrt(segments));
      return;
    case 'vtt':
      res.type('text/vtt').send(toVtt(segments));
      return;
    case 'verbose_json':
      res.json({
        task,
        // always a string (openai-node types it so), also for an all-silent file: api/openai-language.ts
        ...verboseLanguageFields({ task, requested: requestedLanguage, jobLanguage: job.language, languages: job.languages }),
        duration: job.audio_seconds,
        text,
        ...(granularities.word
          ? { words: segments.flatMap((s) => (s.words ?? []).map((w) => ({ word: w.word.trim(), start: w.start, end: w.end }))) }
          : {}),
        ...(granularities.segment ? { segments: verboseSegments(segments) } : {}),
        usage,
      });
      return;
    default:
      res.json({ text, usage });
  }
}

/**
 * OpenAI's verbose_json segments. `text` keeps the leading space Whisper's first token carries (openai/whisper
 * transcribe.py decodes each segment's tokens; OpenAI documents `"text": " The beach was…"`): we store segments
 * trimmed, so it is put back, except in languages written without spaces (engine/timing.ts NO_SPACE_LANGUAGES).
 */
export function verboseSegments(segments: NonNullable<JobRow['segments']>) {
  // Whisper's per-segment figures as the engine produced them (audio/transcript.ts StoredSegment);
  // null only for jobs stored before they were kept.
  return segments.map((s: StoredSegment, id) => ({
    id,
    // openai/whisper transcribe.py: the window's offset in mel frames (HOP_LENGTH 160 at 16 kHz: 100 per second)
    seek: s.windowStart !== undefined ? Math.round(s.windowStart * FRAMES_PER_SECOND) : 0,
    start: s.start,
    end: s.end,
    text: s.text.startsWith(' ') || (s.language !== undefined && NO_SPACE_LANGUAGES.has(s.language)) ? s.text : ` ${s.text}`,
    tokens: s.tokens ?? [],
    temperature: s.temperature ?? null,
    avg_logprob: s.avgLogprob ?? null,
    compression_ratio: s.compressionRatio ?? null,
    no_speech_prob: s.noSpeechProb ?? null,
  }));
}
