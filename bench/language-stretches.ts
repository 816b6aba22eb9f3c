/**
 * "The right language per stretch" (issue #17): how much of a file's speech in each reference language the
 * transcript labels with that language. bench/eval-wer.ts scores its no-language rows with it, for ours (each
 * segment carries the language its chunk was transcribed in) and for faster-whisper (each segment the language
 * its window or batch item was decoded in).
 */

/** A stretch of the reference: one spoken part, its time span on the file (s), its language and word count. */
export interface LanguageStretch {
  start: number;
  end: number;
  /** ISO 639-1 */
  language: string;
  /** reference words in it (test/helpers/wer.ts normalise) */
  words: number;
}

/** A transcript segment on the file's time line (s) with the language it was decoded in. */
export interface LabelledSegment {
  start: number;
  end: number;
  language?: string;
}

/** Per reference language: its reference words, and how many of them the transcript labels right. */
export interface LanguageLabelScore {
  language: string;
  words: number;
  /** words × (seconds of the stretch under segments of its language ÷ seconds under any segment), summed */
  right: number;
}

/**
 * Scores the labels per reference language. Each stretch is labelled by the segments that overlap it, each by its
 * seconds of overlap: the fraction of that overlap carrying the stretch's language, times the stretch's words,
 * counts as right. Seconds of a stretch under no segment do not count either way (segment times are Whisper's
 * timestamps, which leave gaps between sentences); a stretch no segment overlaps at all counts 0 right (its words
 * got no label). A segment spanning a switch labels each side by its own overlap.
 * @returns one score per reference language, in order of first appearance
 */
export function languageLabelScores(stretches: readonly LanguageStretch[], segments: readonly LabelledSegment[]): LanguageLabelScore[] {
  const scores = new Map<string, LanguageLabelScore>();
  for (const s of stretches) {
    const score = scores.get(s.language) ?? { language: s.language, words: 0, right: 0 };
    scores.set(s.language, score);
    score.words += s.words;
    let any = 0;
    let same = 0;
    for (const g of segments) {
      const overlap = Math.min(s.end, g.end) - Math.max(s.start, g.start);
      if (!(overlap > 0)) continue;
      any += overlap;
      if (g.language === s.language) same += overlap;
    }
    if (any > 0) score.right += (s.words * same) / any;
  }
  return [...scores.values()];
}

/** `en 52/52 de 61.3/70`: right of words per language (one decimal where fractional). */
export function formatLabelScores(scores: readonly LanguageLabelScore[]): string {
  const n = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
  return scores.map((s) => `${s.language} ${n(Math.round(s.right * 10) / 10)}/${s.words}`).join(' ');
}
