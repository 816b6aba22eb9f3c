/**
 * `transcribeChunk`, run by the inference workers (one per task queue). Idempotent by job id + chunk
 * index: a chunk already in `chunk_results` is returned as stored, so a retry, a worker crash after
 * the write, or a workflow replay never runs the model twice or double-counts progress.
 * The activity only sequences its parts: the chunk-result store (activities/chunk-results.ts: the
 * idempotency read, the job's options, the locked transaction that stores a chunk with its events), the
 * heartbeat helper (activities/heartbeat.ts) and the segment mapper (audio/segment-map.ts: times on the
 * chunk's audio back to the original time line).
 */
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Context, ApplicationFailure, log } from '@temporalio/activity';
import type { Pool } from 'pg';
import { blobKeys, type BlobStore } from '../common/blobs';
import type { ChunkSpan, DetectLanguageInput, DetectLanguageResult, TranscribeChunkInput, TranscribeChunkResult } from '../common/jobs';
import { readChunkAudio } from '../audio/pcm-blob';
import { spanSeconds } from '../audio/speech-spans';
import { toStoredSegments } from '../audio/segment-map';
import type { EngineClient } from '../engine/client';
import { seedFrom } from '../engine/prng';
import { observeAlignment, observeChunkDone, observeChunkStart, observeFirstResult } from '../common/metrics';
import { englishTextDoubted, windowCompressionRatios } from '../common/language-routing';
import { MODEL_REGISTRY } from '../common/routing';
import { scrubInternals } from '../audio/ffmpeg-safety';
import { ChunkResultStore } from './chunk-results';
import { engineGates } from './engine-gate';
import { withHeartbeat } from './heartbeat';

export interface InferenceDeps {
  pool: Pool;
  blobs: BlobStore;
  engine: EngineClient;
  modelsDir: string;
  /** false: temperature 0 only (config WHISPER_TEMPERATURE_FALLBACK); default true */
  temperatureFallback?: boolean;
  /** how often a running chunk heartbeats (ms); well under the heartbeat timeout */
  heartbeatEveryMs?: number;
  /**
   * calls of a model inside the engine thread at once, the rest wait in arrival order (activities/engine-gate.ts):
   * 1 for a model whose windows run one per model run, Infinity (default) for a batched one
   */
  engineInFlight?: (model: string) => number;
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

export function createInferenceActivities(deps: InferenceDeps) {
  const { pool, blobs, engine, modelsDir } = deps;
  const results = new ChunkResultStore(pool);
  const gate = engineGates(deps.engineInFlight ?? (() => Infinity));
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
        const samples = await readChunkAudio(blobs, pcmKeyOf(input.jobId, input.channel), input.chunk);
        // It may wait behind this worker's chunks (the gate): heartbeating meanwhile.
        const r = await withHeartbeat(ctx, deps.heartbeatEveryMs ?? DEFAULT_HEARTBEAT_MS, () =>
          gate(input.model).run(() => engine.detectLanguage(path.join(modelsDir, input.model), samples), ctx.cancellationSignal),
        );
        return { language: r.language, probability: r.probability };
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw err;
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
      const stored = await results.find(jobId, chunk.index);
      if (stored) return { chunkIndex: chunk.index, ...stored, reused: true };
      // Independent of each other, so side by side: the chunk reaches the batcher one round trip after `find`
      // instead of three, and the chunks Temporal hands over together land in the same batch (BATCH_MAX_WAIT_MS).
      const [, samples, { prompt, wordTimestamps, temperature }] = await Promise.all([
        results.markRunning(jobId),
        // a chunk announced before a remote store's PCM blob was published has its own (activities/audio.ts)
        readChunkAudio(blobs, pcmKeyOf(jobId, input.channel), chunk, input.channel === undefined ? blobKeys.earlyChunk(jobId, chunk.index) : undefined),
        results.options(jobId),
      ]);
      const deferred = (d: { language: string; probability: number | null }): TranscribeChunkResult =>
        ({ chunkIndex: chunk.index, segments: 0, language: d.language, languageProbability: d.probability, reused: false, deferred: true });
      let language = input.language;
      let detected: { language: string; probability: number } | null = null;
      const transcribe = async (audio: Float32Array, lang: string | null, fallback: boolean | undefined) => {
        try {
          // Waiting for the engine (the gate) counts as the chunk's work: it heartbeats meanwhile, and a cancel takes
          // it out of the queue.
          return await withHeartbeat(ctx, deps.heartbeatEveryMs ?? DEFAULT_HEARTBEAT_MS, () =>
            gate(input.model).run(async () => {
              // Admitted: a job cancelled while this chunk waited is not decoded (the heartbeat that carries the
              // cancel can come 24 s later; ChunkResultStore.hasEnded).
              if (await results.hasEnded(jobId)) throw ChunkResultStore.jobEnded(jobId, chunk.index);
              return engine.transcribe(
                path.join(modelsDir, input.model),
                audio,
                // Seeded by the chunk's audio (its SHA-256, from preparation), else by job and chunk: a retry samples the
                // temperature fallback's tokens the same way, and so does another job on the same audio — the same file
                // gives the same text whichever job sends it (a random job id made a fallback chunk's text vary per job).
                { language: lang, task: input.task, prompt, temperature, seed: fallbackSeed(jobId, chunk), wordTimestamps, fallback },
                ctx.cancellationSignal,
              );
            }, ctx.cancellationSignal, { job: pcmKeyOf(jobId, input.channel), index: chunk.index }),
          );
        } catch (err) {
          if (ctx.cancellationSignal.aborted || (err instanceof ApplicationFailure && err.type === 'job_ended')) throw err;
          throw inferenceFailure(err);
        }
      };
      let result: Awaited<ReturnType<typeof transcribe>> | null = null;
      if (language === null && input.detectModel) {
        // An English-only model routed by language. The English-only model's greedy pass first (it is the
        // first attempt of the transcription anyway): text that passes Whisper's guards with a good mean
        // log-probability is English and kept as is — with fallback on, a window that passes at
        // temperature 0 is kept unchanged, so this is the transcript fallback would give. Only doubted
        // text pays the multilingual model's detection (on the chunk's speech: chunks hold VAD speech
        // only), and only sure English stays here (common/language-routing.ts englishTextDoubted,
        // common/window-languages.ts). A request temperature > 0 starts by sampling: detection first.
        if (!temperature) {
          // A copy: the engine thread takes the buffer it is given (engine/client.ts transfers it).
          const probe = await transcribe(samples.slice(), 'en', false);
          const windowRatios = await windowCompressionRatios(probe.segments, (b) => zlib.deflateSync(b).length);
          if (!englishTextDoubted(probe.segments, windowRatios)) result = probe;
        }
        if (!result) {
          try {
            const detectModel = input.detectModel;
            detected = await withHeartbeat(ctx, deps.heartbeatEveryMs ?? DEFAULT_HEARTBEAT_MS, () =>
              gate(detectModel).run(() => engine.detectLanguage(path.join(modelsDir, detectModel), samples.slice(0, 30 * 16_000)), ctx.cancellationSignal),
            );
          } catch (err) {
            if (ctx.cancellationSignal.aborted) throw err;
            throw inferenceFailure(err, 'language detection');
          }
          if (detected.language !== 'en' || detected.probability < (input.minLanguageProbability ?? 0)) return deferred(detected);
        }
        language = 'en';
      }
      result ??= await transcribe(samples, language, deps.temperatureFallback);
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
      const segments = toStoredSegments(chunk, result.segments, result.language);
      const { firstResult } = await results.store(jobId, chunk, segments, { ...result, languageProbability });
      if (firstResult) observeFirstResult(firstResult.tier, input.model, firstResult.ageSeconds);
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

/**
 * The temperature fallback's seed for a chunk (engine/prng.ts seedFrom): from the SHA-256 of its audio as stored
 * (the whole range's, else its pieces' in order), so equal audio samples equal
 * tokens in any job; from the job id and chunk index where no hash was recorded.
 */
export function fallbackSeed(jobId: string, chunk: ChunkSpan): number {
  const hashes = chunk.sha256 ? [chunk.sha256] : (chunk.pieces ?? []).map((p) => p.sha256);
  if (hashes.length > 0 && hashes.every((h): h is string => typeof h === 'string')) return seedFrom(...hashes);
  return seedFrom(jobId, chunk.index);
}
