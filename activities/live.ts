/**
 * `transcribeWindow`: one window of a live stream, on an inference task queue at priority `live`.
 * The API wrote the window's samples to the blob store; the text goes to `live_results` (and, for a
 * final window, its segments to `chunk_results` under the utterance's index), and only the window's
 * sequence number comes back through Temporal. Idempotent by job id + seq: a retry finds its row.
 */
import * as path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { JobRepository } from '../jobs/repository';
import type { BlobStore } from '../common/blobs';
import type { LiveWindow } from '../common/live';
import type { EngineClient } from '../engine/client';
import { inferenceFailure } from './inference';

export interface LiveDeps {
  pool: Pool;
  blobs: BlobStore;
  engine: EngineClient;
  modelsDir: string;
}

export function createLiveActivities({ pool, blobs, engine, modelsDir }: LiveDeps) {
  return {
    async transcribeWindow({ jobId, model, language, window }: { jobId: string; model: string; language: string | null; window: LiveWindow }): Promise<{ seq: number; reused: boolean }> {
      const stored = await pool.query('SELECT 1 FROM live_results WHERE job_id = $1 AND seq = $2', [jobId, window.seq]);
      if (stored.rowCount) return { seq: window.seq, reused: true };
      const ctx = Context.current();
      let samples: Float32Array;
      try {
        const bytes = await blobs.read(window.windowKey);
        samples = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`window ${window.seq} of job ${jobId} is missing: ${(err as Error).message}`, 'audio_missing');
      }
      // Words only for final windows of streams that asked for them (partials are redone within a second).
      const wordTimestamps =
        window.kind === 'final' &&
        (await new JobRepository(pool).wantsWords(jobId));
      let result;
      try {
        result = await engine.transcribe(path.join(modelsDir, model), samples, { language, task: 'transcribe', wordTimestamps }, ctx.cancellationSignal);
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw err;
        throw inferenceFailure(err);
      }
      const segments = result.segments
        .map((s) => ({ start: s.start, end: s.end, text: s.text.trim(), ...(s.words ? { words: s.words } : {}) }))
        .filter((s) => s.text.length > 0);
      const text = segments.map((s) => s.text).join(' ');
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const ins = await client.query(
          `INSERT INTO live_results (job_id, seq, kind, text, segments, language, inference_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT DO NOTHING`,
          [jobId, window.seq, window.kind, text, JSON.stringify(segments), result.language, result.inferenceMs],
        );
        if (ins.rowCount && window.kind === 'final') {
          await client.query(
            `INSERT INTO chunk_results (job_id, chunk_index, start_s, end_s, segments, language, language_probability, inference_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
            [jobId, window.utterance, window.start, window.end, JSON.stringify(segments), result.language, result.languageProbability, result.inferenceMs],
          );
          await new JobRepository(pool).countLiveResult(client, jobId, segments.length > 0);
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
      return { seq: window.seq, reused: false };
    },
  };
}
