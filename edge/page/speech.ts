/**
 * Privacy mode's speech path: the server's, run in the browser. Silero VAD probabilities (the frame loop
 * of audio/silero-vad.ts on onnxruntime-web) plan the chunks exactly as the service plans them
 * (audio/speech-spans.ts planSpeechChunks: speech spans with faster-whisper's VadOptions padding, silence
 * removed, cuts in the longest pause near 30 s, overlap where speech runs on), each chunk's speech is
 * transcribed on its own (so its language is detected on its own speech, as workflows/languages.ts does
 * per window), and the chunks' segments are merged by the service's merge (audio/transcript.ts
 * mergeChunkSegments: each word once across an overlap). Audio without VAD speech is never given to the
 * model, so noise gives no words. Pure apart from the `transcribe` callback; unit-tested
 * (test/unit/edge-speech.test.ts).
 */
import type { ChunkSpan } from '../../audio/chunk-plan';
import { toStoredSegments } from '../../audio/segment-map';
import { chunkAudio, planSpeechChunks } from '../../audio/speech-spans';
import { mergeChunkSegments, type TranscriptSegment } from '../../audio/transcript';
import { VAD_SAMPLE_RATE } from '../../audio/vad';
import { chunkSpeechSeconds, jobLanguages } from '../../common/window-languages';
import type { Segment } from '../../engine/transcriber';

/** What the engine gives for one chunk's audio (engine/transcriber.ts TranscribeResult, the parts used). */
export interface ChunkTranscript {
  segments: Segment[];
  language: string;
  languageProbability: number | null;
}

/** The page's transcript of a whole file. */
export interface SpeechTranscript {
  /** merged segments, seconds on the file's time line */
  segments: TranscriptSegment[];
  /** the language with the most speech; `fallbackLanguage` when there is no speech */
  language: string;
  /** seconds of VAD speech (padded spans, each second once): what the service would bill */
  speechSeconds: number;
  /** chunks given to the model (0: no speech, the model never ran) */
  chunks: number;
}

/**
 * Plans the speech chunks, transcribes each and merges them.
 * @param samples the file, float32 16 kHz mono
 * @param probs Silero VAD speech probability per 512-sample frame of `samples`
 * @param transcribe runs the engine on one chunk's audio (its speech pieces laid end to end);
 *   `progress` is the seconds of speech before this chunk and in all chunks
 * @param fallbackLanguage the job's language when there is no speech (the request's, or English)
 */
export async function transcribeSpeech(
  samples: Float32Array,
  probs: ArrayLike<number>,
  transcribe: (audio: Float32Array, chunk: ChunkSpan, progress: { doneSeconds: number; totalSeconds: number }) => Promise<ChunkTranscript>,
  fallbackLanguage: string,
): Promise<SpeechTranscript> {
  const { chunks, speechSeconds } = planSpeechChunks(probs, samples.length);
  const read = (a: number, b: number) => samples.subarray(Math.round(a * VAD_SAMPLE_RATE), Math.min(samples.length, Math.round(b * VAD_SAMPLE_RATE)));
  const seconds = chunkSpeechSeconds(chunks);
  const totalSeconds = seconds.reduce((a, b) => a + b, 0);
  const results: ChunkTranscript[] = [];
  let doneSeconds = 0;
  for (const [i, chunk] of chunks.entries()) {
    results.push(await transcribe(chunkAudio(chunk, read), chunk, { doneSeconds, totalSeconds }));
    doneSeconds += seconds[i];
  }
  const merged = mergeChunkSegments(
    chunks.map((c, i) => ({ index: c.index, start: c.start, end: c.end, segments: toStoredSegments(c, results[i].segments, results[i].language) })),
    samples.length / VAD_SAMPLE_RATE,
  );
  const summary = jobLanguages(
    results.map((r, i) => ({ language: r.language, probability: r.languageProbability, seconds: seconds[i] })),
    results.map((r) => r.language),
  );
  return { segments: merged, language: summary.language ?? fallbackLanguage, speechSeconds, chunks: chunks.length };
}
