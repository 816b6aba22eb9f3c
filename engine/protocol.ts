/** Messages between the activity worker's main thread and the engine thread. */
import type { LoadOptions } from './node-loader';
import type { TranscribeResult } from './transcriber';

type LoadRequest = Omit<LoadOptions, 'warn' | 'batching'> & { batching?: { maxBatch: number; maxWaitMs: number } };

export type EngineRequest =
  | { type: 'close'; id: number }
  /** aborts request `target`: its queued window leaves the batch */
  | { type: 'cancel'; id: number; target: number }
  | { type: 'load'; id: number; modelDir: string; load: LoadRequest }
  /** language of the first 30 s window (multilingual models) */
  | { type: 'detect'; id: number; modelDir: string; load: LoadRequest; samples: Float32Array }
  | {
      type: 'transcribe';
      id: number;
      modelDir: string;
      load: LoadRequest;
      /** float32 PCM, 16 kHz mono; its buffer is transferred, not copied */
      samples: Float32Array;
      language: string | null;
      task: 'transcribe' | 'translate';
      /** vocabulary / context hint (TranscribeOptions.prompt) */
      prompt?: string | null;
      /** sampling seed for the temperature fallback (TranscribeOptions.seed) */
      seed?: number;
      /** segments carry `words` (TranscribeOptions.wordTimestamps) */
      wordTimestamps?: boolean;
      /** the request's first temperature (TranscribeOptions.temperature) */
      temperature?: number | null;
      /** false: temperature 0 only, no fallback (TranscribeOptions.fallback) */
      fallback?: boolean;
    };

export type { LoadRequest };
export type EngineResult = TranscribeResult & { inferenceMs: number };
export type DetectResult = { language: string; probability: number; inferenceMs: number };

export type EngineResponse =
  | { id: number; ok: true; result: EngineResult | DetectResult | null }
  | { id: number; ok: false; error: string }
  | { type: 'warning'; message: string };
