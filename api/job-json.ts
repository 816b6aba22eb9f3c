/**
 * The job JSON (api/schemas.ts `jobSchema`, docs/api.md `GET /v1/jobs/{id}`), from a job's `jobs` rows: the job's own row (version 1)
 * and, once re-transcribed, one row per later version (infra/migrations/1764820000000_job-versions.sql).
 * The job's fields describe its latest version; `versions` lists them all.
 */
import type { Pool } from 'pg';
import { edgeJobJson } from './edge/job-json';
import { JobRepository } from '../jobs/repository';
import { publicChunk } from './chunk-numbers';

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
  /** seconds of speech per language (infra/migrations/1764990000000_job-languages.sql) */
  languages?: { language: string; seconds: number }[] | null;
  audio_seconds: number | null;
  billed_seconds: number | null;
  chunks_total: number | null;
  chunks_done: number;
  text: string | null;
  segments: { start: number; end: number; text: string; channel?: number; words?: JobWord[]; language?: string }[] | null;
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
  /** version rows: the job they belong to (null on the job's own row, version 1) */
  parent_job_id?: string | null;
  version?: number;
  audio_retained_until?: Date | null;
  filename?: string | null;
  content_sha256?: string | null;
}

/**
 * The job's fields as its latest version has them: state, model, transcript and cost from that version's
 * row; identity, creation, mode, URL and retained audio from the job's own row.
 */
function latestView(job: JobRow, latest: JobRow): JobRow {
  if (latest === job || (latest.version ?? 1) === 1) return job;
  return {
    ...latest,
    id: job.id,
    created_at: job.created_at,
    mode: job.mode,
    priority_class: job.priority_class,
    tier: job.tier,
    options: { ...job.options, modelNote: latest.options?.modelNote ?? null },
    audio_retained_until: job.audio_retained_until,
  };
}

/** One version in the job JSON's `versions`. */
function versionJson(v: JobRow) {
  return {
    version: v.version ?? 1,
    status: v.status,
    model: v.model,
    createdAt: iso(v.created_at),
    completedAt: iso(v.completed_at),
    billedSeconds: v.billed_seconds,
  };
}

/**
 * Every version row of the given jobs (their own rows included), oldest first per job.
 * @param jobs the jobs' own rows (version 1)
 */
export function loadVersions(pool: Pick<Pool, 'query' | 'connect'>, jobs: JobRow[]): Promise<Map<string, JobRow[]>> {
  return new JobRepository(pool).versions(jobs);
}

/**
 * The job JSON of the job a row belongs to, as of that row's version: `row` may be the job's own row or
 * one of its version rows (a webhook or an SSE end event of version n shows the job with versions 1…n,
 * even when delivered after a later version started).
 */
export async function jobJsonOf(pool: Pick<Pool, 'query' | 'connect'>, row: JobRow, opts: { includeTranscript?: boolean } = {}) {
  const jobs = new JobRepository(pool);
  const job = (row.parent_job_id ? await jobs.get(row.parent_job_id) : null) ?? row;
  const all = (await jobs.versions([job])).get(job.id)!;
  const upTo = row.version ?? 1;
  return jobJson(job, { ...opts, versions: all.filter((v) => (v.version ?? 1) <= upTo) });
}

/**
 * The job JSON.
 * @param job the job's own row (version 1)
 * @param opts.versions all its version rows, oldest first (loadVersions); default: only `job`
 */
export function jobJson(job: JobRow, opts: { includeTranscript?: boolean; versions?: JobRow[] } = {}) {
  const include = opts.includeTranscript ?? true;
  const versions = opts.versions?.length ? opts.versions : [job];
  const row = latestView(job, versions[versions.length - 1]);
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
    // Audio by URL: where it came from, without userinfo, query or fragment (signed URLs carry secrets).
    url: (row.options?.url as string | undefined) ?? null,
    language: row.language,
    languageProbability: row.language_probability,
    languages: row.languages ?? null,
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
    // A multichannel job's chunks as users see them: {chunk within its channel, channel} (api/chunk-numbers.ts).
    fallbacks: (row.fallbacks ?? []).map((f) => publicChunk(f, row.options?.multichannel === true || job.options?.multichannel === true)),
    ...(row.error_code ? { error: { code: row.error_code, message: row.error_message ?? '' } } : {}),
    ...(include && row.status === 'completed' ? { text: row.text ?? '', segments: row.segments ?? [] } : {}),
    ...(include && row.status === 'completed' && row.channels ? { channels: row.channels } : {}),
    progress: { chunksDone: row.chunks_done, chunksTotal: row.chunks_total },
    producedBy: row.produced_by,
    ...(row.webhook_failure ? { webhook: { delivered: false, ...row.webhook_failure } } : {}),
    ...(row.mode === 'edge' ? { edge: edgeJobJson(row) } : {}),
    version: row.version ?? 1,
    versions: versions.map(versionJson),
    audioRetainedUntil: iso(job.audio_retained_until),
  };
}
