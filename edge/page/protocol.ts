/**
 * Messages between the privacy-mode page (main thread) and its engine worker. Audio goes from the page
 * to the worker only; nothing here is ever sent to the server.
 */
import type { Segment, Word } from '../../engine/transcriber';

/** One model file of the edge plan (the 202 body's `edge.modelFiles`, api/openapi.ts), with its path inside the model folder. */
export interface PlanFile {
  url: string;
  sha256: string;
  bytes: number;
}

export type ToWorker =
  | { type: 'load'; model: string; files: PlanFile[]; numThreads: number; wasmPaths: string; vadUrl: string }
  | { type: 'transcribe'; samples: Float32Array; language: string | null; wordTimestamps?: boolean };

export type FromWorker =
  | { type: 'download'; loadedBytes: number; totalBytes: number }
  | { type: 'loaded'; downloadMs: number; downloadBytes: number; sessionMs: number; numThreads: number }
  | { type: 'window'; doneSeconds: number; totalSeconds: number; segments: Segment[] }
  | {
      type: 'done';
      text: string;
      segments: { start: number; end: number; text: string; words?: Word[] }[];
      language: string;
      /** VAD and transcription, ms */
      inferenceMs: number;
      /** the VAD pass alone, ms */
      vadMs: number;
      /** seconds of VAD speech (padded spans, each once), as the service bills a cloud job */
      speechSeconds: number;
      /** chunks given to the model */
      chunks: number;
    }
  | { type: 'error'; message: string };
