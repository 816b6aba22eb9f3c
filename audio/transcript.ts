/** Merging per-chunk segments into one transcript, and its text forms. Pure; unit-tested. */

/** A word with times (engine/transcriber.ts `Word`); seconds on the same time line as its segment. */
export interface TranscriptWord {
  word: string;
  start: number;
  end: number;
  probability: number;
}

export interface TranscriptSegment {
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
  segments: { start: number; end: number; text: string; words?: TranscriptWord[] }[];
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

/**
 * Puts chunks in order, shifts each chunk's segments by the chunk's start, clips them to the chunk and
 * to the audio's length, and keeps the result monotonic (no segment starts before the previous ends).
 * Where a chunk starts exactly where the previous one ended (a cut, not a removed silence) and the
 * segments on both sides touch the cut, words the later chunk repeats are dropped from it and its start
 * moves past them (in proportion to their characters).
 * @param audioSeconds length of the original audio; no segment ends past it
 */
export function mergeChunkSegments(chunks: ChunkSegments[], audioSeconds: number): TranscriptSegment[] {
  const out: TranscriptSegment[] = [];
  let prevEnd = 0;
  let prevChunkEnd: number | null = null;
  for (const c of [...chunks].sort((a, b) => a.index - b.index)) {
    const limit = Math.min(c.end, audioSeconds);
    const cut = prevChunkEnd !== null && Math.abs(c.start - prevChunkEnd) < 1e-6 ? c.start : null;
    prevChunkEnd = c.end;
    let first = true;
    for (const seg of c.segments) {
      let s = seg;
      let text = s.text.trim();
      if (!text) continue;
      const last = out[out.length - 1];
      if (first && cut !== null && last && last.end >= cut - DOUBLED_WORD_WINDOW_S && c.start + s.start <= cut + DOUBLED_WORD_WINDOW_S) {
        const k = doubledWordCount(last.text, text);
        if (k > 0) {
          const words = text.split(/\s+/);
          const rest = words.slice(k).join(' ');
          const share = (text.length - rest.length) / text.length;
          s = { ...s, start: s.start + share * (s.end - s.start) };
          // With word times, the doubled words go word by word and the segment starts at the first kept one.
          const timed = s.words ? dropLeadingWords(s.words, k) : undefined;
          if (timed) s = { ...s, words: timed, ...(timed.length > 0 ? { start: timed[0].start } : {}) };
          text = rest;
        }
      }
      first = false;
      if (!text) continue;
      // Round to centiseconds, then clip: rounding a clipped time up (10.006 → 10.01) would end a
      // segment past the audio or the chunk.
      const start = Math.max(Math.min(round2(c.start + s.start), limit), prevEnd);
      const end = Math.max(Math.min(round2(c.start + s.end), limit), start);
      out.push(s.words ? { start, end, text, words: placeWords(s.words, c.start, start, end) } : { start, end, text });
      prevEnd = end;
    }
  }
  return out;
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
