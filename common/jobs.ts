/** Types that cross the workflow boundary: ids and references only, never audio or transcript text. */
import type { Backend, JobStatus, ModelTier, PriorityClass, Tier } from './constants';
import type { ChunkSpan as PlannedChunk } from '../audio/chunk-plan';
import type { EdgeInput } from './edge';
import type { LanguageRouting } from './language-routing';

/** A planned chunk, with the SHA-256 of its PCM bytes (checked when a worker reads them from the blob store). */
export type ChunkSpan = PlannedChunk & { sha256?: string };

export interface TranscriptionInput {
  jobId: string;
  userId: string;
  tier: Tier;
  /** model id (a folder name in WHISPER_MODELS_DIR) */
  model: string;
  modelTier: ModelTier;
  backend: Backend;
  /** ISO 639-1, or null to detect */
  language: string | null;
  task: 'transcribe' | 'translate';
  priorityClass: PriorityClass;
  /** attempts on gpu-spot before a chunk falls back (config SPOT_ATTEMPTS; default 2) */
  spotAttempts?: number;
  /** multichannel=true: the upload's channel count, each channel transcribed on its own */
  channels?: number;
  /** chunks one workflow runs itself; more run in child workflows of this many (config CHUNKS_PER_CHILD_WORKFLOW) */
  chunksPerChild?: number;
  /** the job has a `webhookUrl`: its end starts a webhook delivery (the URL itself stays in Postgres) */
  webhook?: boolean;
  /** privacy mode: the browser transcribes; the workflow waits for its result (workflows/edge.ts) */
  edge?: EdgeInput;
  /** set when no language and no model were given: detect the language first, then pick the model */
  languageRouting?: LanguageRouting | null;
  /**
   * Keep the cloud audio this many seconds after the job completes (for re-transcription), deleted then
   * by a durable timer (workflows/retention.ts); absent or 0: deleted when the job ends, as always.
   */
  retainAudioSeconds?: number;
}

/** Job end events a webhook announces (`job.<event>`). */
export type WebhookEvent = 'completed' | 'failed' | 'cancelled';

/** A chunk moved off a backend after repeated failures (the job's `fallbacks`). */
export interface Fallback {
  chunk: number;
  from: Backend;
  to: Backend;
  reason: string;
}

export interface PreparedAudio {
  audioSeconds: number;
  /** seconds of audio sent to inference: the billed seconds before rounding */
  speechSeconds: number;
  /** chunks with speech, in order; silent chunks are left out */
  chunks: (ChunkSpan & { channel?: number })[];
}

export interface TranscribeChunkInput {
  jobId: string;
  /** multichannel jobs: the channel whose audio the chunk is cut from */
  channel?: number;
  model: string;
  chunk: ChunkSpan;
  language: string | null;
  task: 'transcribe' | 'translate';
  /** the job's tier, for the queue-wait metric's label (absent in workflows started before it was added) */
  tier?: Tier;
  /**
   * With `language` null: a detection below this probability is not transcribed; the result comes back
   * `deferred`, nothing stored, and the workflow gives the chunk its neighbours' language
   * (common/window-languages.ts). Absent: any detection is used.
   */
  minLanguageProbability?: number;
  /**
   * With `language` null and an English-only `model` (routing by language): the multilingual model that
   * detects the chunk's language when `model`'s greedy text is doubted (common/language-routing.ts
   * englishTextDoubted); only English (undoubted, or a sure detection) is transcribed by `model`, any
   * other chunk comes back `deferred` (the workflow re-routes it).
   */
  detectModel?: string;
}

export interface TranscribeChunkResult {
  chunkIndex: number;
  segments: number;
  language: string;
  languageProbability: number | null;
  /** true when an earlier attempt had already stored this chunk (a retry or a replay) */
  reused: boolean;
  /**
   * true: the chunk was not transcribed (its detection was unsure, or not English for an English-only
   * model: see TranscribeChunkInput); `language` and `languageProbability` are the detection's
   */
  deferred?: boolean;
}

export interface DetectLanguageInput {
  jobId: string;
  /** a multilingual model id */
  model: string;
  /** the job's first chunk with speech */
  chunk: ChunkSpan;
  /** multichannel jobs: the channel the chunk belongs to */
  channel?: number;
}

export interface DetectLanguageResult {
  language: string;
  probability: number;
}

/** What the `status` query answers. */
export interface WorkflowStatus {
  status: JobStatus;
  chunksDone: number;
  chunksTotal: number | null;
  error: { code: string; message: string } | null;
}
