/**
 * Names that every part of fairscribe agrees on: task queues, search-attribute keys, statuses, tiers.
 * Workflow code imports this module, so it must stay free of Node APIs and side effects.
 * The values are part of the public API (docs/api.md, generated from api/openapi.ts): never rename them.
 */

/** Task queues. Workflows and non-inference activities run on the orchestration queue. */
export const TASK_QUEUES = {
  orchestration: 'fairscribe-orchestration',
  gpuReserved: 'transcribe-gpu-reserved',
  gpuOndemand: 'transcribe-gpu-ondemand',
  gpuSpot: 'transcribe-gpu-spot',
  cpu: 'transcribe-cpu',
} as const;

export const BACKENDS = ['gpu-reserved', 'gpu-ondemand', 'gpu-spot', 'cpu'] as const;
export type Backend = (typeof BACKENDS)[number];

/** The inference task queue that serves each backend. */
export const BACKEND_TASK_QUEUE: Record<Backend, string> = {
  'gpu-reserved': TASK_QUEUES.gpuReserved,
  'gpu-ondemand': TASK_QUEUES.gpuOndemand,
  'gpu-spot': TASK_QUEUES.gpuSpot,
  cpu: TASK_QUEUES.cpu,
};

export const TIERS = ['free', 'standard', 'premium'] as const;
export type Tier = (typeof TIERS)[number];

export const MODEL_TIERS = ['economy', 'balanced', 'quality'] as const;
export type ModelTier = (typeof MODEL_TIERS)[number];

export const JOB_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled', 'expired'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled', 'expired'];

export const PRIORITY_CLASSES = ['live', 'interactive', 'backfill'] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/**
 * Temporal priority keys (1..5, lower runs first, strict between levels; server default 3). Tiers are
 * NOT priority levels (a level can starve): they share one level through fairness weights.
 */
export const PRIORITY_KEYS: Record<PriorityClass, number> = { live: 1, interactive: 3, backfill: 5 };

/**
 * Temporal search attributes (all Keyword), registered by the dev server at start-up and by the
 * cluster's registration Job. Ops filter jobs by these in the Temporal UI.
 */
export const SEARCH_ATTRIBUTE_NAMES = ['UserId', 'Tier', 'JobStatus', 'Backend', 'ModelTier'] as const;
export type SearchAttributeName = (typeof SEARCH_ATTRIBUTE_NAMES)[number];

/** Workflow id of a job: the Temporal UI shows the job under this name. */
export function workflowIdFor(jobId: string): string {
  return `transcription-${jobId}`;
}

export const TRANSCRIPTION_WORKFLOW = 'transcriptionWorkflow';

/**
 * The signal prepareAudio sends its transcription workflow with chunks planned before the whole file is
 * (activities/audio.ts; payload `{ chunks: ChunkSpan[] }`, spans and hashes only).
 */
export const CHUNKS_PLANNED_SIGNAL = 'chunksPlanned';
