/** Merging per-chunk segments into one transcript, and its text forms. Pure; unit-tested. */

export interface TranscriptSegment {
  /** seconds from the start of the original audio */
  start: number;
  end: number;
  text: string;
}

export interface ChunkSegments {
  index: number;
  /** chunk start/end in seconds on the original time line */
  start: number;
  end: number;
  /** segments with times relative to the chunk start */
  segments: { start: number; end: number; text: string }[];
}

/**
 * Puts chunks in order, shifts each chunk's segments by the chunk's start, clips them to the chunk and
 * to the audio's length, and keeps the result monotonic (no segment starts before the previous ends).
 * @param audioSeconds length of the original audio; no segment ends past it
 */
export function mergeChunkSegments(chunks: ChunkSegments[], audioSeconds: number): TranscriptSegment[] {
  const out: TranscriptSegment[] = [];
  let prevEnd = 0;
  for (const c of [...chunks].sort((a, b) => a.index - b.index)) {
    const limit = Math.min(c.end, audioSeconds);
    for (const s of c.segments) {
      const text = s.text.trim();
      if (!text) continue;
      // Round to centiseconds, then clip: rounding a clipped time up (10.006 → 10.01) would end a
      // segment past the audio or the chunk.
      const start = Math.max(Math.min(round2(c.start + s.start), limit), prevEnd);
      const end = Math.max(Math.min(round2(c.start + s.end), limit), start);
      out.push({ start, end, text });
      prevEnd = end;
    }
  }
  return out;
}

/** The transcript as plain text: segment texts joined by single spaces. */
export function transcriptText(segments: readonly TranscriptSegment[]): string {
  return segments
    .map((s) => s.text.trim())
    .filter(Boolean)
    .join(' ');
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
