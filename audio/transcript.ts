/** Merging per-chunk segments into one transcript, and its text forms. Pure; unit-tested. */

/** A word with times (engine/transcriber.ts `Word`); seconds on the same time line as its segment. */
export interface TranscriptWord {
  word: string;
  start: number;
  end: number;
  probability: number;
}

/**
 * A segment as a chunk stores it (times relative to the chunk start). Quality fields and `words` are
 * carried through the merge (words shifted to the original time line like the segment).
 */
export interface StoredSegment {
  start: number;
  end: number;
  text: string;
  words?: TranscriptWord[];
  avgLogprob?: number;
  noSpeechProb?: number;
  compressionRatio?: number;
  temperature?: number;
  tokens?: number[];
  language?: string;
  /**
   * Start of the 30 s window the segment was decoded in (engine/transcriber.ts Segment.windowStart), on the
   * segment's time line (chunk-relative in `chunk_results`, the job's in a transcript); ≤ start. Absent on
   * segments stored before it was kept, and on live and edge segments.
   */
  windowStart?: number;
}

export interface TranscriptSegment extends StoredSegment {
  /** seconds from the start of the original audio */
  start: number;
  end: number;
  text: string;
  /** jobs with word timestamps: the segment's words, inside [start, end], in order, not overlapping */
  words?: TranscriptWord[];
}

export interface ChunkSegments {
  index: number;
  /** chunk start/end in seconds on the original time line */
  start: number;
  end: number;
  /** segments with times relative to the chunk start (words too, when the job asked for them) */
  segments: StoredSegment[];
}

/**
 * A word's times on audio whose silence was removed (the pieces laid end to end, audio/speech-spans.ts
 * compactAudio) mapped back onto the original time line, as faster-whisper 1.1.0 transcribe.py
 * `restore_speech_timestamps` maps words after its VAD: the piece is the one holding the word's middle
 * (vad.py SpeechTimestampsMap.get_chunk_index: the first piece whose end on the compacted audio lies after it),
 * and start and end both move by that piece's offset, so a word never spans removed silence (mapping start and
 * end separately, as segments are, stretches a word that the alignment put across a junction over the whole
 * removed pause). Then clamped into that piece: the removed audio was never heard, so no word lies in it
 * (faster-whisper leaves a word that overhangs its piece there).
 * @param w      seconds on the compacted audio (0 = the first piece's start)
 * @param pieces the kept stretches in original seconds, in order, not overlapping; none: `w` unchanged
 * @returns seconds on the original time line, start ≤ end
 */
export function mapWordToOriginal(w: { start: number; end: number }, pieces: readonly { start: number; end: number }[]): { start: number; end: number } {
  if (pieces.length === 0) return { start: w.start, end: w.end };
  const middle = (w.start + w.end) / 2;
  let k = 0;
  let offset = 0; // the piece's start on the compacted audio
  while (k < pieces.length - 1 && offset + (pieces[k].end - pieces[k].start) <= middle) {
    offset += pieces[k].end - pieces[k].start;
    k++;
  }
  const p = pieces[k];
  const shift = p.start - offset;
  const start = Math.min(p.end, Math.max(p.start, w.start + shift));
  const end = Math.min(p.end, Math.max(start, w.end + shift));
  return { start, end };
}

/**
 * A chunk's word (times on the chunk's own audio, as the engine gave them) as seconds from the chunk's start on the
 * original time line, centisecond precision: through removed silence by {@link mapWordToOriginal}, else shifted.
 */
export function wordChunkRelativeTimes(
  chunk: { start: number; pieces?: readonly { start: number; end: number }[] },
  w: { start: number; end: number },
): { start: number; end: number } {
  const t = chunk.pieces ? mapWordToOriginal(w, chunk.pieces) : { start: chunk.start + w.start, end: chunk.start + w.end };
  return { start: Math.round((t.start - chunk.start) * 100) / 100, end: Math.round((t.end - chunk.start) * 100) / 100 };
}

/**
 * A word cut in two by a chunk boundary inside speech is heard by both chunks. Words repeated across a
 * boundary count as doubled only when both segments touch the cut this closely (seconds): Whisper's
 * segment times are good to a few tenths of a second.
 */
export const DOUBLED_WORD_WINDOW_S = 1.0;
/** At most this many words repeated across a cut are taken as doubled (a cut splits one word, maybe two). */
export const MAX_DOUBLED_WORDS = 3;

/** Lowercase letters and digits of a word: "Country." and "country" are the same word. */
function wordKey(w: string): string {
  return w.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
}

/**
 * How many leading words of `next` repeat the trailing words of `prev` (0…MAX_DOUBLED_WORDS), the
 * longest such run; words that are punctuation only never match.
 */
export function doubledWordCount(prev: string, next: string): number {
  const a = prev.trim().split(/\s+/).map(wordKey);
  const b = next.trim().split(/\s+/).map(wordKey);
  for (let k = Math.min(MAX_DOUBLED_WORDS, a.length, b.length); k > 0; k--) {
    const tail = a.slice(a.length - k);
    const head = b.slice(0, k);
    if (tail.every((w, i) => w !== '' && w === head[i])) return k;
  }
  return 0;
}

/** A word of a chunk's output on the original time line, and where it sits in the chunk's segments. */
interface ChunkWord {
  key: string;
  start: number;
  end: number;
  segment: number;
  /** the engine's word timestamp (true) or an estimate spread over the segment by characters (false) */
  timed: boolean;
}

/**
 * A chunk's words in order, on the original time line: the segment's `words` where the engine gave them
 * (word timestamps), else its text split at spaces with times spread over the segment by characters
 * (the estimate the overlap needs when there are no word timestamps).
 */
function chunkWords(c: ChunkSegments): ChunkWord[] {
  const out: ChunkWord[] = [];
  c.segments.forEach((s, segment) => {
    if (s.words && s.words.length > 0) {
      for (const w of s.words) out.push({ key: wordKey(w.word), start: c.start + w.start, end: c.start + w.end, segment, timed: true });
      return;
    }
    const parts = s.text.trim().split(/\s+/).filter(Boolean);
    const chars = parts.reduce((n, p) => n + p.length, 0) || 1;
    let at = 0;
    for (const p of parts) {
      const a = c.start + s.start + ((s.end - s.start) * at) / chars;
      at += p.length;
      out.push({ key: wordKey(p), start: a, end: c.start + s.start + ((s.end - s.start) * at) / chars, segment, timed: false });
    }
  });
  return out;
}

/**
 * Where two overlapping chunks hand over: A keeps its words [0, keepA), B its words [fromB, …).
 * Both chunks heard the overlap [overlapStart, overlapEnd] on the same (original) time line, so a word
 * of A and a word of B are the same spoken word only if they are equal AND lie at the same time: the
 * words are aligned by time first and text second. The alignment is the longest common subsequence of
 * A's words reaching into the overlap and B's words starting before its end (OVERLAP_SLACK_S either
 * side for timing error) in which a pair may match only when the words are equal (wordKey) and their
 * centres lie within the matching tolerance (MATCH_TIME_S with word timestamps, MATCH_TIME_ESTIMATED_S
 * with times spread over a segment by characters), each pair weighted by how well its times agree. So a phrase said again one repetition away (speech that repeats itself, a looped
 * clip) is never matched, and one misheard word does not break the alignment as it breaks a common run
 * (transformers' `_find_longest_common_sequence`, whose stride merge this replaces, aligns by text only:
 * transformers/pipelines/automatic_speech_recognition.py). The hand-over is the matched pair nearest the
 * overlap's middle, where both chunks heard the word whole (a chunk's edge can cut a word): A keeps the
 * words before it, B the word and those after. With no match (one side heard nothing there, or other
 * words), the hand-over is the overlap's middle by time, moved to where the other chunk's words stop or
 * start when one side heard nothing on its half. Each word of the overlap is kept once, from exactly one
 * chunk; no word outside it is touched.
 */
export function resolveOverlap(a: ChunkWord[], b: ChunkWord[], overlapStart: number, overlapEnd: number): { keepA: number; fromB: number } {
  // Candidates: A's words that reach into the overlap, B's words that start before it ends.
  let aFrom = a.length;
  while (aFrom > 0 && a[aFrom - 1].end > overlapStart - OVERLAP_SLACK_S) aFrom--;
  let bTo = 0;
  while (bTo < b.length && b[bTo].start < overlapEnd + OVERLAP_SLACK_S) bTo++;
  const centre = (w: ChunkWord) => (w.start + w.end) / 2;
  const n = a.length - aFrom;
  const m = bTo;
  // Time-weighted LCS over suffixes a[aFrom+i..], b[j..): a matched pair is worth 1 − dt/tolerance, so
  // the alignment at the true place (dt ≈ 0) beats one shifted by a word of a repeated "no no no …",
  // whose every pair is a word's length off (and a shift can match one word more than the true place).
  const score = Array.from({ length: n + 1 }, () => new Float64Array(m + 1));
  const step = Array.from({ length: n + 1 }, () => new Uint8Array(m + 1)); // 0 skip a, 1 skip b, 2 match
  const worth = (i: number, j: number): number => {
    const x = a[aFrom + i];
    const y = b[j];
    if (x.key === '' || x.key !== y.key) return 0;
    const tolerance = x.timed && y.timed ? MATCH_TIME_S : MATCH_TIME_ESTIMATED_S;
    return Math.max(0, 1 - Math.abs(centre(x) - centre(y)) / tolerance);
  };
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      let best = score[i + 1][j];
      let how = 0;
      if (score[i][j + 1] > best) {
        best = score[i][j + 1];
        how = 1;
      }
      const w = worth(i, j);
      if (w > 0 && score[i + 1][j + 1] + w > best) {
        best = score[i + 1][j + 1] + w;
        how = 2;
      }
      score[i][j] = best;
      step[i][j] = how;
    }
  }
  const pairs: [number, number][] = [];
  for (let i = 0, j = 0; i < n && j < m; ) {
    const how = step[i][j];
    if (how === 2) pairs.push([aFrom + i, j]);
    if (how !== 1) i++;
    if (how !== 0) j++;
  }
  const mid = (overlapStart + overlapEnd) / 2;
  if (pairs.length > 0) {
    let best = pairs[0];
    const distance = ([i, j]: [number, number]) => Math.abs((centre(a[i]) + centre(b[j])) / 2 - mid);
    for (const p of pairs) if (distance(p) < distance(best)) best = p;
    return { keepA: best[0], fromB: best[1] };
  }
  let keepA = a.length;
  while (keepA > 0 && centre(a[keepA - 1]) >= mid) keepA--;
  // B takes over where A's kept words end, when that is before the middle (A heard nothing after it);
  // A keeps its words up to where B's kept words begin, when B heard nothing before it.
  const handOver = Math.min(mid, keepA > 0 ? a[keepA - 1].end : -Infinity);
  let fromB = 0;
  while (fromB < b.length && centre(b[fromB]) < handOver) fromB++;
  const bBegins = fromB < b.length ? b[fromB].start : Infinity;
  while (keepA < a.length && centre(a[keepA]) < bBegins && centre(a[keepA]) >= mid) keepA++;
  return { keepA, fromB };
}

/** Seconds of timing error tolerated around an overlap when picking the words that may repeat. */
export const OVERLAP_SLACK_S = 1.0;
/**
 * Two chunks' word timestamps (DTW on cross-attention, engine/timing.ts) of the same spoken word agree to
 * a few tenths of a second; a word said again is at least a word's length (≳ 0.3 s) away, and a phrase
 * said again a phrase's length. Seconds.
 */
export const MATCH_TIME_S = 0.6;
/**
 * The same for times spread over a segment by characters (no word timestamps): Whisper's segment times
 * are good to a few tenths of a second (its timestamp tokens are 0.02 s apart) but characters are not
 * time, so the tolerance is wider; the LCS's weighting by time agreement keeps the alignment at the true
 * place where words repeat within it. Seconds.
 */
export const MATCH_TIME_ESTIMATED_S = 1.2;

/** A segment cut down to its words [from, to) of the chunk's word list (words of other segments ignored). */
function trimSegment(s: StoredSegment, words: ChunkWord[], segIndex: number, from: number, to: number, chunkStart: number): StoredSegment | null {
  const mine: number[] = [];
  words.forEach((w, k) => {
    if (w.segment === segIndex) mine.push(k);
  });
  const kept = mine.filter((k) => k >= from && k < to);
  if (kept.length === mine.length) return s;
  if (kept.length === 0) return null;
  const first = kept[0];
  const last = kept[kept.length - 1];
  const start = first > mine[0] ? words[first].start - chunkStart : s.start;
  const end = last < mine[mine.length - 1] ? words[last].end - chunkStart : s.end;
  if (s.words && s.words.length === mine.length) {
    const ws = s.words.slice(first - mine[0], last - mine[0] + 1);
    return { ...s, start, end, words: ws, text: ws.map((w) => w.word).join('').trim() };
  }
  const parts = s.text.trim().split(/\s+/).filter(Boolean);
  return { ...s, start, end, text: parts.slice(first - mine[0], last - mine[0] + 1).join(' ') };
}

/**
 * Puts chunks in order, shifts each chunk's segments (and their words) by the chunk's start, clips them
 * to the chunk and to the audio's length, and keeps the result monotonic (no segment starts before the
 * previous ends).
 * Where two chunks overlap (speech ran past 30 s without a pause; audio/speech-spans.ts), each word of
 * the overlap is kept once (resolveOverlap): by word timestamps where segments carry `words`, else by
 * the segments' text aligned with times spread over each segment. Each hand-over depends only on the
 * two chunks of the pair, so a chunk's kept segments are known as soon as its overlapping neighbours are
 * stored (the SSE `segment` events wait for that: activities/chunk-results.ts).
 * Where a chunk starts exactly where the previous one ended (a cut, not a removed silence) and the
 * segments on both sides touch the cut, words the later chunk repeats are dropped from it and its start
 * moves past them (in proportion to their characters).
 * @param audioSeconds length of the original audio; no segment ends past it
 * @returns segments in original seconds
 */
export function mergeChunkSegments(chunks: ChunkSegments[], audioSeconds: number): TranscriptSegment[] {
  return mergeChunkSegmentsByChunk(chunks, audioSeconds).map((s) => s.segment);
}

/** mergeChunkSegments, each segment with the index of the chunk it came from (whose SSE events carry it). */
export function mergeChunkSegmentsByChunk(chunks: ChunkSegments[], audioSeconds: number): { chunk: number; segment: TranscriptSegment }[] {
  const sorted = [...chunks].sort((a, b) => a.index - b.index);
  const words = sorted.map(chunkWords);
  // Word range each chunk keeps: [from, to) of its words; overlaps with neighbours narrow it.
  const keep = words.map((w) => ({ from: 0, to: w.length }));
  for (let k = 1; k < sorted.length; k++) {
    const a = sorted[k - 1];
    const b = sorted[k];
    if (b.start >= a.end - 1e-6) continue;
    const r = resolveOverlap(words[k - 1], words[k], b.start, a.end);
    keep[k - 1].to = Math.min(keep[k - 1].to, r.keepA);
    keep[k].from = Math.max(keep[k].from, r.fromB);
  }
  const out: TranscriptSegment[] = [];
  const from: number[] = [];
  let prevEnd = 0;
  let prevChunkEnd: number | null = null;
  sorted.forEach((c, k) => {
    const limit = Math.min(c.end, audioSeconds);
    const cut = prevChunkEnd !== null && Math.abs(c.start - prevChunkEnd) < 1e-6 ? c.start : null;
    prevChunkEnd = c.end;
    let first = true;
    c.segments.forEach((seg0, segIndex) => {
      const trimmed = trimSegment(seg0, words[k], segIndex, keep[k].from, keep[k].to, c.start);
      if (!trimmed) return;
      let s = trimmed;
      let text = s.text.trim();
      if (!text) return;
      const last = out[out.length - 1];
      if (first && cut !== null && last && last.end >= cut - DOUBLED_WORD_WINDOW_S && c.start + s.start <= cut + DOUBLED_WORD_WINDOW_S) {
        const n = doubledWordCount(last.text, text);
        if (n > 0) {
          const ws = text.split(/\s+/);
          const rest = ws.slice(n).join(' ');
          const share = (text.length - rest.length) / text.length;
          s = { ...s, start: s.start + share * (s.end - s.start) };
          // With word times, the doubled words go word by word and the segment starts at the first kept one.
          const timed = s.words ? dropLeadingWords(s.words, n) : undefined;
          if (timed) s = { ...s, words: timed, ...(timed.length > 0 ? { start: timed[0].start } : {}) };
          text = rest;
        }
      }
      first = false;
      if (!text) return;
      // Round to centiseconds, then clip: rounding a clipped time up (10.006 → 10.01) would end a
      // segment past the audio or the chunk.
      const start = Math.max(Math.min(round2(c.start + s.start), limit), prevEnd);
      const end = Math.max(Math.min(round2(c.start + s.end), limit), start);
      const seg: TranscriptSegment = { ...s, start, end, text };
      if (s.windowStart !== undefined) seg.windowStart = Math.min(round2(c.start + s.windowStart), start);
      if (s.words) seg.words = placeWords(s.words, c.start, start, end);
      out.push(seg);
      from.push(c.index);
      prevEnd = end;
    });
  });
  return out.map((segment, i) => ({ chunk: from[i], segment }));
}

/** `words` without the first `k` spoken words (a word is one whitespace-separated piece of the text). */
function dropLeadingWords(words: TranscriptWord[], k: number): TranscriptWord[] {
  let seen = 0;
  let i = 0;
  // Words keep Whisper's leading space; a piece without one (punctuation merged differently) joins its word.
  while (i < words.length && seen < k) {
    seen++;
    i++;
    while (i < words.length && !/^\s/.test(words[i].word)) i++;
  }
  return words.slice(i);
}

/**
 * A merged segment's words on the original time line: shifted by the chunk start, rounded like the
 * segment, clipped to the segment's [start, end] and kept in order without overlap.
 */
function placeWords(words: readonly TranscriptWord[], offset: number, start: number, end: number): TranscriptWord[] {
  let floor = start;
  return words.map((w) => {
    const ws = Math.min(Math.max(round2(offset + w.start), floor), end);
    const we = Math.min(Math.max(round2(offset + w.end), ws), end);
    floor = we;
    return { word: w.word, start: ws, end: we, probability: w.probability };
  });
}

/** The transcript as plain text: segment texts joined by single spaces. */
export function transcriptText(segments: readonly TranscriptSegment[]): string {
  return segments
    .map((s) => s.text.trim())
    .filter(Boolean)
    .join(' ');
}

/**
 * The final segments of a stored prefix of a job's chunks (indices 0…k-1, in order), for a stream that
 * sends each segment once: merging changes a chunk's segments only through its neighbours, the chunk
 * before it (doubled words at a cut) and, where speech ran past 30 s without a pause, the chunk after it
 * it overlaps (resolveOverlap hands the overlap's words to one side). So every segment of the prefix is
 * final except those of a last chunk that overlaps the next, not yet stored, one.
 * @param chunks the stored prefix; `overlapsNext` as the chunk plan set it (chunk_results.overlap_next)
 * @returns segments that are the leading segments of the job's final merged transcript
 */
export function finalPrefixSegments(chunks: (ChunkSegments & { overlapsNext?: boolean })[]): TranscriptSegment[] {
  if (chunks.length === 0) return [];
  const final = chunks[chunks.length - 1].overlapsNext ? chunks.length - 1 : chunks.length;
  // Times do not matter here: clipping to the audio's length never changes a segment's text.
  return mergeChunkSegmentsByChunk(chunks, Infinity)
    .filter((s) => s.chunk < final)
    .map((s) => s.segment);
}

/**
 * The text deltas of a transcript's segments: the first segment's text, then each later one with the
 * one space transcriptText (above) joins segments with, so the deltas concatenate to the
 * job's `text` exactly.
 */
export function segmentDeltas(segments: readonly { text: string }[], already: number): string[] {
  const out: string[] = [];
  let n = already;
  for (const s of segments.slice(already)) {
    const t = s.text.trim();
    if (!t) continue;
    out.push(n === 0 ? t : ` ${t}`);
    n++;
  }
  return out;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The word type the overlap merge and the chunk store use (same as TranscriptWord). */
export type TimedWord = TranscriptWord;
