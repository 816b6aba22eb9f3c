/**
 * The segment mapper: an engine result's segments (times on the chunk's own audio, which may have had
 * silence removed inside it) as the segments `chunk_results` stores (times relative to the chunk's
 * start on the original time line, audio/transcript.ts StoredSegment). Pure; unit-tested.
 *
 * Whisper's per-segment figures are kept (verbose_json and the job JSON show them). Words are mapped one by one
 * through the piece holding their middle (audio/transcript.ts wordChunkRelativeTimes, faster-whisper's
 * restore_speech_timestamps), so none spans removed silence; a segment with words then spans its first word's
 * start to its last word's end, as faster-whisper sets it after that mapping (and as the engine's segments with
 * words already are, engine/timing.ts addWordTimestamps + clampWords), so the words stay inside it.
 */
import type { ChunkSpan } from './chunk-plan';
import { chunkRelativeTimes } from './speech-spans';
import { wordChunkRelativeTimes, type StoredSegment } from './transcript';
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
 * @returns segments with chunk-relative start/end (and word times, and the decoding window's start) at centisecond precision, word
 *   probabilities to 4 decimals, Whisper's quality fields and text tokens as the engine gave them
 */
export function toStoredSegments(chunk: ChunkSpan, segments: readonly Segment[], language?: string): StoredSegment[] {
  return segments.map((s) => {
    const words = s.words?.map((w) => ({ word: w.word, ...wordChunkRelativeTimes(chunk, w), probability: round4(w.probability) }));
    const times = words && words.length > 0 ? { start: words[0].start, end: words[words.length - 1].end } : chunkRelativeTimes(chunk, s);
    // the window's start through the same map, never after the segment (a window may start in removed silence)
    const windowStart = Math.min(chunkRelativeTimes(chunk, { start: s.windowStart, end: s.windowStart }).start, times.start);
    return {
      ...times,
      windowStart,
      text: s.text,
      avgLogprob: s.avgLogprob,
      noSpeechProb: s.noSpeechProb,
      compressionRatio: s.compressionRatio,
      temperature: s.temperature,
      tokens: s.tokens,
      ...(s.language ?? language ? { language: s.language ?? language } : {}),
      ...(words ? { words } : {}),
    };
  });
}
