/** The job JSON of ../shared/API.md ("Job JSON"), from a `jobs` row. */
import { edgeJobJson } from './edge/job-json';

/** A word of a segment (jobs made with `wordTimestamps`), seconds on the job's time line. */
export interface JobWord {
  word: string;
  start: number;
  end: number;
  probability: number;
}

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export interface JobRow {
  id: string;
  status: string;
  mode: string;
  priority_class: string;
  tier: string;
  model: string | null;
  model_tier: string | null;
  backend: string | null;
  language: string | null;
  language_probability: number | null;
  audio_seconds: number | null;
  billed_seconds: number | null;
  chunks_total: number | null;
  chunks_done: number;
  text: string | null;
  segments: { start: number; end: number; text: string; channel?: number; words?: JobWord[] }[] | null;
  /** multichannel jobs: one transcript per channel */
  channels?: { channel: number; text: string; segments: { start: number; end: number; text: string; words?: JobWord[] }[] }[] | null;
  error_code: string | null;
  error_message: string | null;
  produced_by: string;
  options: Record<string, unknown>;
  expected_cost_per_minute: number | null;
  actual_cost_per_minute: number | null;
  waiting_for_capacity: boolean;
  fallbacks: { chunk: number; from: string; to: string; reason: string }[];
  created_at: Date;
  started_at: Date | null;
  first_result_at: Date | null;
  completed_at: Date | null;
  /** a webhook given up on: {event, error, attempts} */
  webhook_failure?: { event: string; error: string; attempts: number } | null;
}

export function jobJson(row: JobRow, opts: { includeTranscript?: boolean } = {}) {
  const include = opts.includeTranscript ?? true;
  return {
    id: row.id,
    status: row.status,
    mode: row.mode,
    priorityClass: row.priority_class,
    tier: row.tier,
    model: row.model,
    modelTier: row.model_tier,
    // Why the model differs from the tier's first choice (e.g. quality's larger model is not installed).
    modelNote: (row.options?.modelNote as string | null | undefined) ?? null,
    backend: row.backend,
    language: row.language,
    languageProbability: row.language_probability,
    audioSeconds: row.audio_seconds,
    billedSeconds: row.billed_seconds,
    createdAt: iso(row.created_at),
    startedAt: iso(row.started_at),
    firstResultAt: iso(row.first_result_at),
    completedAt: iso(row.completed_at),
    waitingFor: row.status === 'queued' && row.waiting_for_capacity ? 'capacity' : null,
    cost: {
      expectedPerMinute: row.expected_cost_per_minute,
      actualPerMinute: row.status === 'completed' ? row.actual_cost_per_minute : null,
    },
    fallbacks: row.fallbacks ?? [],
    ...(row.error_code ? { error: { code: row.error_code, message: row.error_message ?? '' } } : {}),
    ...(include && row.status === 'completed' ? { text: row.text ?? '', segments: row.segments ?? [] } : {}),
    ...(include && row.status === 'completed' && row.channels ? { channels: row.channels } : {}),
    progress: { chunksDone: row.chunks_done, chunksTotal: row.chunks_total },
    producedBy: row.produced_by,
    ...(row.webhook_failure ? { webhook: { delivered: false, ...row.webhook_failure } } : {}),
    ...(row.mode === 'edge' ? { edge: edgeJobJson(row) } : {}),
  };
}
