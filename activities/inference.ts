/**
 * `transcribeChunk`, run by the inference workers (one per task queue). Idempotent by job id + chunk
 * index: a chunk already in `chunk_results` is returned as stored, so a retry, a worker crash after
 * the write, or a workflow replay never runs the model twice or double-counts progress.
 */
import * as path from 'node:path';
import { Context, ApplicationFailure, log } from '@temporalio/activity';
import type { Pool, PoolClient } from 'pg';
import { blobKeys, type BlobStore } from '../common/blobs';
import type { DetectLanguageInput, DetectLanguageResult, TranscribeChunkInput, TranscribeChunkResult } from '../common/jobs';
import { TERMINAL_STATUSES } from '../common/constants';
import { readChunkAudio } from '../audio/pcm-blob';
import { chunkRelativeTimes, spanSeconds } from '../audio/speech-spans';
import { mergeChunkSegmentsByChunk, type ChunkSegments, type StoredSegment } from '../audio/transcript';
import type { EngineClient } from '../engine/client';
import { seedFrom } from '../engine/prng';
import { observeAlignment, observeChunkDone, observeChunkStart, observeFirstResult } from '../common/metrics';
import { MODEL_REGISTRY } from '../common/routing';
import { scrubInternals } from '../audio/ffmpeg-safety';

export interface InferenceDeps {
  pool: Pool;
  blobs: BlobStore;
  engine: EngineClient;
  modelsDir: string;
  /** false: temperature 0 only (config WHISPER_TEMPERATURE_FALLBACK); default true */
  temperatureFallback?: boolean;
  /** how often a running chunk heartbeats (ms); well under the heartbeat timeout */
  heartbeatEveryMs?: number;
}

const DEFAULT_HEARTBEAT_MS = 5_000;

/**
 * The retryable `inference_failed` for an engine error. Its message reaches the job's `error` (the
 * user's view), so it is our sentence; onnxruntime's own words carry server paths and source locations
 * (`Load model from /srv/…/encoder_model_quantized.onnx failed: /onnxruntime_src/…`): they go to the
 * worker's log and the failure's details (Temporal UI), scrubbed of paths and addresses.
 * @param what the step, e.g. 'language detection'
 */
export function inferenceFailure(err: unknown, what?: string): ApplicationFailure {
  const detail = scrubInternals(String((err as Error)?.message ?? err));
  log.warn('inference failed', { step: what ?? 'transcription', detail });
  return ApplicationFailure.create({
    message: `inference failed${what ? ` (${what})` : ''}: the model could not run on this worker`,
    type: 'inference_failed',
    nonRetryable: false,
    details: [detail],
  });
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Word probabilities to 4 decimals: enough for a confidence, a third of the JSON of a full double. */
function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}

/** What a `segment` SSE event carries (API.md "Events"). */
interface SegmentEvent {
  chunk: number;
  start: number;
  end: number;
  text: string;
  words?: { word: string; start: number; end: number; probability: number }[];
}

/**
 * The `segment` events that become final now that chunk `index` is stored: for each of the chunk and its
 * neighbours, once it and every neighbour it overlaps are stored (the merge's hand-over between two
 * overlapping chunks depends on both, and on nothing else: audio/transcript.ts), its merged segments.
 * Called inside the transaction that stored the chunk, under the job row lock, so each chunk's events
 * are written exactly once, by whichever of its overlap group was stored last.
 */
async function resolvedSegmentEvents(client: PoolClient, jobId: string, index: number): Promise<SegmentEvent[]> {
  const { rows } = await client.query(
    `SELECT chunk_index, start_s, end_s, segments, overlap_prev, overlap_next FROM chunk_results
      WHERE job_id = $1 AND chunk_index BETWEEN $2 AND $3`,
    [jobId, index - 2, index + 2],
  );
  const byIndex = new Map<number, (typeof rows)[number]>(rows.map((r) => [r.chunk_index, r]));
  const group = (k: number): number[] | null => {
    const r = byIndex.get(k);
    if (!r) return null;
    return [...(r.overlap_prev ? [k - 1] : []), k, ...(r.overlap_next ? [k + 1] : [])];
  };
  const events: SegmentEvent[] = [];
  for (const k of [index - 1, index, index + 1]) {
    const g = group(k);
    if (!g || !g.includes(index) || !g.every((j) => byIndex.has(j))) continue;
    const chunks: ChunkSegments[] = g.map((j) => {
      const r = byIndex.get(j)!;
      return { index: j, start: r.start_s, end: r.end_s, segments: r.segments };
    });
    for (const s of mergeChunkSegmentsByChunk(chunks, Infinity)) {
      if (s.chunk !== k) continue;
      const { start, end, text, words } = s.segment;
      events.push({ chunk: k, start: round2(start), end: round2(end), text, ...(words ? { words: words.map((w) => ({ word: w.word, start: w.start, end: w.end, probability: w.probability })) } : {}) });
    }
  }
  return events;
}

export function createInferenceActivities(deps: InferenceDeps) {
  const { pool, blobs, engine, modelsDir } = deps;
  /** The PCM blob of the job (one channel's, for multichannel jobs). */
  const pcmKeyOf = (jobId: string, channel?: number) => (channel === undefined ? blobKeys.pcm(jobId) : blobKeys.channelPcm(jobId, channel));
  return {
    /**
     * The spoken language of a chunk's first 30 s window, by a multilingual model: the routing step
     * for jobs that gave neither language nor model. Read-only, so a retry is harmless.
     */
    async detectLanguage(input: DetectLanguageInput): Promise<DetectLanguageResult> {
      const ctx = Context.current();
      ctx.heartbeat();
      try {
        const r = await engine.detectLanguage(path.join(modelsDir, input.model), await readChunkAudio(blobs, pcmKeyOf(input.jobId, input.channel), input.chunk));
        return { language: r.language, probability: r.probability };
      } catch (err) {
        throw inferenceFailure(err, 'language detection');
      }
    },

    /**
     * Transcribes one chunk of a job's normalised audio and stores its segments (times relative to
     * the chunk start). Heartbeats while the engine thread works.
     */
    async transcribeChunk(input: TranscribeChunkInput): Promise<TranscribeChunkResult> {
      const { jobId, chunk } = input;
      const ctx = Context.current();
      observeChunkStart(input.tier, ctx.info.taskQueue, ctx.info.currentAttemptScheduledTimestampMs);
      const stored = await pool.query(
        'SELECT jsonb_array_length(segments) AS n, language, language_probability FROM chunk_results WHERE job_id = $1 AND chunk_index = $2',
        [jobId, chunk.index],
      );
      if (stored.rowCount) {
        const r = stored.rows[0];
        return { chunkIndex: chunk.index, segments: r.n, language: r.language, languageProbability: r.language_probability, reused: true };
      }
      // The job is running from its first chunk's start (API.md "Definitions").
      await pool.query(
        `UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, now()) WHERE id = $1 AND status = 'queued'`,
        [jobId],
      );
      const samples = await readChunkAudio(blobs, pcmKeyOf(jobId, input.channel), chunk);
      const modelDir = path.join(modelsDir, input.model);
      const deferred = (d: { language: string; probability: number | null }): TranscribeChunkResult =>
        ({ chunkIndex: chunk.index, segments: 0, language: d.language, languageProbability: d.probability, reused: false, deferred: true });
      let language = input.language;
      let detected: { language: string; probability: number } | null = null;
      if (language === null && input.detectModel) {
        // An English-only model routed by language: the multilingual model detects (on the chunk's speech:
        // chunks hold VAD speech only); only sure English stays here (common/window-languages.ts).
        try {
          detected = await engine.detectLanguage(path.join(modelsDir, input.detectModel), samples.slice(0, 30 * 16_000));
        } catch (err) {
          throw inferenceFailure(err, 'language detection');
        }
        if (detected.language !== 'en' || detected.probability < (input.minLanguageProbability ?? 0)) return deferred(detected);
        language = 'en';
      }
      // The job's prompt is read here, not carried in the workflow's payloads (user text stays in Postgres).
      // So is its wordTimestamps flag (POST /v1/jobs `wordTimestamps`): a job's option, not the workflow's.
      const opts = await pool.query(
        `SELECT options->>'prompt' AS prompt, COALESCE((options->>'wordTimestamps')::boolean, false) AS word_timestamps,
                options->>'temperature' AS temperature FROM jobs WHERE id = $1`,
        [jobId],
      );
      const prompt: string | null = opts.rows[0]?.prompt ?? null;
      const wordTimestamps: boolean = opts.rows[0]?.word_timestamps === true;
      const temperature = opts.rows[0]?.temperature == null ? null : Number(opts.rows[0].temperature);
      const beat = setInterval(() => ctx.heartbeat(), deps.heartbeatEveryMs ?? DEFAULT_HEARTBEAT_MS);
      let result;
      try {
        ctx.heartbeat();
        result = await Promise.race([
          engine.transcribe(
            modelDir,
            samples,
            // Seeded by job and chunk: a retry samples the temperature fallback's tokens the same way.
            { language, task: input.task, prompt, temperature, seed: seedFrom(jobId, chunk.index), wordTimestamps, fallback: deps.temperatureFallback },
            ctx.cancellationSignal,
          ),
          ctx.cancelled,
        ]);
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw err;
        throw inferenceFailure(err);
      } finally {
        clearInterval(beat);
      }
      if (language === null && (result.languageProbability ?? 1) < (input.minLanguageProbability ?? 0)) {
        return deferred({ language: result.language, probability: result.languageProbability });
      }
      const languageProbability = detected?.probability ?? result.languageProbability;
      observeChunkDone({
        queue: ctx.info.taskQueue,
        model: input.model,
        audioSeconds: spanSeconds(chunk.pieces ?? [chunk]),
        inferenceMs: result.inferenceMs,
        batchSizes: result.batchSizes ?? [],
        maxBatch: MODEL_REGISTRY.models[input.model]?.maxBatch ?? 1,
        segments: result.segments,
      });
      for (const s of result.alignmentSeconds ?? []) observeAlignment(input.model, s);
      // Times on the chunk's own audio; with silence removed inside it, mapped back to the original
      // time line (a segment after a removed pause keeps its true start), then made chunk-relative.
      // Whisper's per-segment figures are kept (verbose_json and the job JSON show them); words are
      // mapped by the same function as their segment, so they stay inside it.
      const segments: StoredSegment[] = result.segments.map((s) => ({
        ...chunkRelativeTimes(chunk, s),
        text: s.text,
        avgLogprob: s.avgLogprob,
        noSpeechProb: s.noSpeechProb,
        compressionRatio: s.compressionRatio,
        temperature: s.temperature,
        tokens: s.tokens,
        language: s.language ?? result.language,
        ...(s.words ? { words: s.words.map((w) => ({ word: w.word, ...chunkRelativeTimes(chunk, w), probability: round4(w.probability) })) } : {}),
      }));
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // A job that ended meanwhile (cancelled before the heartbeat carried the cancellation here)
        // gets nothing written after its end; the lock orders this against the end-state write.
        const job = await client.query(
          `SELECT status, tier, first_result_at IS NULL AS awaiting_first, extract(epoch FROM clock_timestamp() - created_at) AS age_s
             FROM jobs WHERE id = $1 FOR UPDATE`,
          [jobId],
        );
        if (!job.rows[0] || TERMINAL_STATUSES.includes(job.rows[0].status)) {
          await client.query('ROLLBACK');
          throw ApplicationFailure.nonRetryable(`job ${jobId} has ended; chunk ${chunk.index} discarded`, 'job_ended');
        }
        const ins = await client.query(
          `INSERT INTO chunk_results (job_id, chunk_index, start_s, end_s, segments, language, language_probability, inference_ms, overlap_prev, overlap_next)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
          [jobId, chunk.index, chunk.start, chunk.end, JSON.stringify(segments), result.language, languageProbability, result.inferenceMs,
            chunk.overlapsPrev === true, chunk.overlapsNext === true],
        );
        if (ins.rowCount) {
          const job = await client.query(
            // An increment, not a count: concurrent chunks' transactions cannot see each other's rows,
            // but the row lock orders the increments (the insert above makes this once per chunk).
            `UPDATE jobs SET chunks_done = chunks_done + 1,
               first_result_at = CASE WHEN first_result_at IS NULL AND $2 THEN now() ELSE first_result_at END
             WHERE id = $1 RETURNING chunks_done, chunks_total`,
            [jobId, segments.length > 0],
          );
          // Events for SSE, in the same transaction as the result that completes them (so exactly once):
          // this chunk's, and an overlapping neighbour's that waited for this one.
          for (const ev of await resolvedSegmentEvents(client, jobId, chunk.index)) {
            await client.query(`INSERT INTO job_events (job_id, type, data) VALUES ($1, 'segment', $2)`, [jobId, ev]);
          }
          await client.query(`INSERT INTO job_events (job_id, type, data) VALUES ($1, 'progress', $2)`, [
            jobId,
            { chunksDone: job.rows[0].chunks_done, chunksTotal: job.rows[0].chunks_total },
          ]);
        }
        await client.query('COMMIT');
        // TTFR: this chunk stored the job's first segment (the row lock makes "first" exact).
        if (ins.rowCount && segments.length > 0 && job.rows[0].awaiting_first) {
          observeFirstResult(job.rows[0].tier, input.model, Number(job.rows[0].age_s));
        }
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
      return {
        chunkIndex: chunk.index,
        segments: segments.length,
        language: result.language,
        languageProbability,
        reused: false,
      };
    },
  };
}
