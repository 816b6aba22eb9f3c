/**
 * The chunk-result store of `transcribeChunk` (activities/inference.ts): everything that activity reads
 * from and writes to Postgres. Idempotent by job id + chunk index: `chunk_results`' primary key is
 * (job_id, chunk_index), a stored chunk is found before the model runs (`find`), and `store` inserts
 * with ON CONFLICT DO NOTHING, so a retry, a worker crash after the write or a workflow replay never
 * runs the model twice, never writes a chunk's events twice and never double-counts progress.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool, PoolClient } from 'pg';
import type { ChunkSpan } from '../audio/chunk-plan';
import { mergeChunkSegmentsByChunk, type ChunkSegments, type StoredSegment } from '../audio/transcript';
import { TERMINAL_STATUSES } from '../common/constants';
import { CHANNEL_CHUNK_STRIDE } from './channels';
import { settleWithin } from '../common/deadline';

/** A chunk stored by an earlier attempt: what transcribeChunk returns for it. */
export interface StoredChunk {
  segments: number;
  language: string;
  languageProbability: number | null;
}

/** The job's options a chunk needs, read where they are kept (user text stays out of workflow payloads). */
export interface ChunkJobOptions {
  /** POST /v1/jobs `prompt`, or null */
  prompt: string | null;
  /** POST /v1/jobs `wordTimestamps` (default false) */
  wordTimestamps: boolean;
  /** POST /v1/jobs `temperature`, or null (the engine's default, 0 with fallback) */
  temperature: number | null;
}

/** What the engine says about the chunk as a whole, stored beside its segments. */
export interface ChunkEngineFacts {
  language: string;
  languageProbability: number | null;
  /** time in the engine thread, incl. batch waits (ms) */
  inferenceMs: number;
}

/** The outcome of `store`. */
export interface StoreOutcome {
  /** false: an earlier attempt had stored the chunk (nothing was written now) */
  inserted: boolean;
  /**
   * Set when this chunk stored the job's first segment (the row lock makes "first" exact): the job's
   * tier and its age in seconds, for the time-to-first-result metric.
   */
  firstResult?: { tier: string; ageSeconds: number };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** What a `segment` SSE event carries (docs/api.md `GET /v1/jobs/{id}/events`). */
export interface SegmentEvent {
  chunk: number;
  start: number;
  end: number;
  text: string;
  /** the segment's language (ISO 639-1), as the job JSON's `segments[].language`: its window's */
  language?: string;
  words?: { word: string; start: number; end: number; probability: number }[];
}

/** A `chunk_results` row as segmentEventsOnStore reads it. */
export interface StoredChunkRow {
  chunk_index: number;
  start_s: number;
  end_s: number;
  segments: StoredSegment[];
  overlap_prev: boolean;
  overlap_next: boolean;
}

/**
 * The `segment` events that become final now that chunk `index` is stored (pure: resolvedSegmentEvents
 * reads the rows). A chunk's merged segments (audio/transcript.ts mergeChunkSegmentsByChunk) depend on
 * the chunk itself, on the chunk after it where the two overlap (the overlap's words go to one side),
 * and on the chunk before it: where they overlap, the same hand-over, and where it starts exactly where
 * the previous one ended (a cut inside speech), the words it repeats from the previous chunk's last
 * segment are dropped (a segment of only such words disappears). So a chunk's events wait for its
 * previous chunk (always, since whether it is a cut is known only once that chunk is stored; a channel's
 * first chunk has none: activities/channels.ts numbers channel c's chunks from c × CHANNEL_CHUNK_STRIDE) and for
 * the next one if they overlap; whichever of that group is stored last writes them, so each chunk's
 * events are written exactly once and are the final transcript's segments.
 * Not covered: a previous chunk that kept no segment at all hands the doubled-word check on to the one
 * before it, which is not waited for (a cut needs speech on both sides, so this needs a chunk of only
 * doubled words).
 * @param rows the stored rows of chunks index-2 … index+2 (any subset; the rest are not stored yet)
 * @param index the chunk stored now
 * @returns the events of the chunks (index-1, index, index+1) whose group is complete with `index`, in that order
 */
export function segmentEventsOnStore(rows: readonly StoredChunkRow[], index: number): SegmentEvent[] {
  const byIndex = new Map<number, StoredChunkRow>(rows.map((r) => [r.chunk_index, r]));
  const group = (k: number): number[] | null => {
    const r = byIndex.get(k);
    if (!r) return null;
    return [...(k % CHANNEL_CHUNK_STRIDE > 0 ? [k - 1] : []), k, ...(r.overlap_next ? [k + 1] : [])];
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
      const { start, end, text, words, language } = s.segment;
      events.push({ chunk: k, start: round2(start), end: round2(end), text, ...(language ? { language } : {}), ...(words ? { words: words.map((w) => ({ word: w.word, start: w.start, end: w.end, probability: w.probability })) } : {}) });
    }
  }
  return events;
}

/**
 * The `segment` events that become final now that chunk `index` is stored (segmentEventsOnStore).
 * Called inside the transaction that stored the chunk, under the job row lock, so each chunk's events
 * are written exactly once, by whichever of its group was stored last.
 */
async function resolvedSegmentEvents(client: PoolClient, jobId: string, index: number): Promise<SegmentEvent[]> {
  const { rows } = await client.query<StoredChunkRow>(
    `SELECT chunk_index, start_s, end_s, segments, overlap_prev, overlap_next FROM chunk_results
      WHERE job_id = $1 AND chunk_index BETWEEN $2 AND $3`,
    [jobId, index - 2, index + 2],
  );
  return segmentEventsOnStore(rows, index);
}

export class ChunkResultStore {
  constructor(private readonly pool: Pool) {}

  /** The chunk as an earlier attempt stored it, or null when it is not stored yet. */
  async find(jobId: string, chunkIndex: number): Promise<StoredChunk | null> {
    const stored = await this.pool.query(
      'SELECT jsonb_array_length(segments) AS n, language, language_probability FROM chunk_results WHERE job_id = $1 AND chunk_index = $2',
      [jobId, chunkIndex],
    );
    if (!stored.rowCount) return null;
    const r = stored.rows[0];
    return { segments: r.n, language: r.language, languageProbability: r.language_probability };
  }

  /** The job is running from its first chunk's start (`startedAt` in the job JSON); a no-op after that. */
  async markRunning(jobId: string): Promise<void> {
    await this.pool.query(`UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, now()) WHERE id = $1 AND status = 'queued'`, [jobId]);
  }

  /**
   * Whether the job has ended (cancelled, failed, expired, deleted), asked as one of its chunks is admitted to the
   * engine: a chunk that waited there while the job was cancelled is then not decoded. The activity would hear of
   * the cancel only from a heartbeat's answer, and the SDK sends those at most every 0.8 × heartbeatTimeout (24 s
   * for chunks), so the waiting chunks were decoded one after another meanwhile and discarded at {@link store}
   * (test/integration/cancel-stops-work.test.ts: 5 of a cancelled job's 6 waiting chunks).
   * @param waitMs the longest the engine waits for the answer; a slower database (down, restarting: the patient
   *   pool waits for it) counts as "not ended", so this check never holds the engine up: {@link store} still
   *   refuses a result written after the job's end
   */
  async hasEnded(jobId: string, waitMs = 250): Promise<boolean> {
    const answer = this.pool
      .query(`SELECT status FROM jobs WHERE id = $1`, [jobId])
      .then((r) => !r.rows[0] || TERMINAL_STATUSES.includes(r.rows[0].status), () => false);
    return settleWithin(answer, waitMs, () => false);
  }

  /** The failure of a chunk whose job ended before its result could count (non-retryable `job_ended`). */
  static jobEnded(jobId: string, chunkIndex: number): ApplicationFailure {
    return ApplicationFailure.nonRetryable(`job ${jobId} has ended; chunk ${chunkIndex} discarded`, 'job_ended');
  }

  /**
   * The job's prompt, wordTimestamps flag and temperature: read here, not carried in the workflow's
   * payloads (user text stays in Postgres; they are the job's options, not the workflow's).
   */
  async options(jobId: string): Promise<ChunkJobOptions> {
    const opts = await this.pool.query(
      `SELECT options->>'prompt' AS prompt, COALESCE((options->>'wordTimestamps')::boolean, false) AS word_timestamps,
              options->>'temperature' AS temperature FROM jobs WHERE id = $1`,
      [jobId],
    );
    const row = opts.rows[0];
    return {
      prompt: row?.prompt ?? null,
      wordTimestamps: row?.word_timestamps === true,
      temperature: row?.temperature == null ? null : Number(row.temperature),
    };
  }

  /**
   * Stores one chunk's segments in one transaction under the job's row lock: the `chunk_results` row
   * (once: ON CONFLICT DO NOTHING), the job's progress, the `segment` events this chunk makes final and
   * a `progress` event.
   * @param segments chunk-relative segments (audio/segment-map.ts toStoredSegments)
   * @throws non-retryable ApplicationFailure `job_ended` when the job has ended meanwhile (cancelled
   *   before the heartbeat carried the cancellation to the activity): nothing is written after its end
   */
  async store(jobId: string, chunk: ChunkSpan, segments: StoredSegment[], facts: ChunkEngineFacts): Promise<StoreOutcome> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // The lock orders this against the job's end-state write.
      const job = await client.query(
        `SELECT status, tier, first_result_at IS NULL AS awaiting_first, extract(epoch FROM clock_timestamp() - created_at) AS age_s
           FROM jobs WHERE id = $1 FOR UPDATE`,
        [jobId],
      );
      if (!job.rows[0] || TERMINAL_STATUSES.includes(job.rows[0].status)) {
        await client.query('ROLLBACK');
        throw ChunkResultStore.jobEnded(jobId, chunk.index);
      }
      const ins = await client.query(
        `INSERT INTO chunk_results (job_id, chunk_index, start_s, end_s, segments, language, language_probability, inference_ms, overlap_prev, overlap_next)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
        [jobId, chunk.index, chunk.start, chunk.end, JSON.stringify(segments), facts.language, facts.languageProbability, facts.inferenceMs,
          chunk.overlapsPrev === true, chunk.overlapsNext === true],
      );
      if (ins.rowCount) {
        const progress = await client.query(
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
          { chunksDone: progress.rows[0].chunks_done, chunksTotal: progress.rows[0].chunks_total },
        ]);
      }
      await client.query('COMMIT');
      const inserted = (ins.rowCount ?? 0) > 0;
      return {
        inserted,
        ...(inserted && segments.length > 0 && job.rows[0].awaiting_first
          ? { firstResult: { tier: job.rows[0].tier, ageSeconds: Number(job.rows[0].age_s) } }
          : {}),
      };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}
