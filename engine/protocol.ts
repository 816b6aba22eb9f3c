/** Messages between the activity worker's main thread and the engine thread. */
import type { LoadOptions } from './node-loader';
import type { TranscribeResult } from './transcriber';

export type EngineRequest =
  | { type: 'close'; id: number }
  | { type: 'load'; id: number; modelDir: string; load: Omit<LoadOptions, 'warn'> }
  | {
      type: 'transcribe';
      id: number;
      modelDir: string;
      load: Omit<LoadOptions, 'warn'>;
      /** float32 PCM, 16 kHz mono; its buffer is transferred, not copied */
      samples: Float32Array;
      language: string | null;
      task: 'transcribe' | 'translate';
    };

export type EngineResult = TranscribeResult & { inferenceMs: number };

export type EngineResponse =
  | { id: number; ok: true; result: EngineResult | null }
  | { id: number; ok: false; error: string }
  | { type: 'warning'; message: string };
