/**
 * The segment mapper: an engine result's segments (times on the chunk's own audio, which may have had
 * silence removed inside it) as the segments `chunk_results` stores (times relative to the chunk's
 * start on the original time line, audio/transcript.ts StoredSegment). Pure; unit-tested.
 *
 * Whisper's per-segment figures are kept (verbose_json and the job JSON show them); words are mapped by
 * the same function as their segment (audio/speech-spans.ts chunkRelativeTimes), so they stay inside it.
 */
import type { ChunkSpan } from './chunk-plan';
import { chunkRelativeTimes } from './speech-spans';
import type { StoredSegment } from './transcript';
import type { Segment } from '../engine/transcriber';

/** Word probabilities to 4 decimals: enough for a confidence, a third of the JSON of a full double. */
export function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}

/**
 * One chunk's engine segments as stored segments.
 * @param chunk the chunk (its start/end in seconds on the original time line; `pieces` when silence
 *   inside it was removed before inference)
 * @param segments the engine's segments, times in seconds on the audio it was given
 * @param language the window's language (ISO 639-1), for segments the engine gave none
 * @returns segments with chunk-relative start/end (and word times) at centisecond precision, word
 *   probabilities to 4 decimals, Whisper's quality fields and text tokens as the engine gave them
 */
export function toStoredSegments(chunk: ChunkSpan, segments: readonly Segment[], language?: string): StoredSegment[] {
  return segments.map((s) => ({
    ...chunkRelativeTimes(chunk, s),
    text: s.text,
    avgLogprob: s.avgLogprob,
    noSpeechProb: s.noSpeechProb,
    compressionRatio: s.compressionRatio,
    temperature: s.temperature,
    tokens: s.tokens,
    ...(s.language ?? language ? { language: s.language ?? language } : {}),
    ...(s.words ? { words: s.words.map((w) => ({ word: w.word, ...chunkRelativeTimes(chunk, w), probability: round4(w.probability) })) } : {}),
  }));
}
