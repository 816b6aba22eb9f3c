/** Transcript renderings: plain text, SRT and WebVTT (through the `subtitle` library; times in ms). */
import { stringifySync, type NodeList } from 'subtitle';

export interface FormattableSegment {
  start: number;
  end: number;
  text: string;
}

export const TRANSCRIPT_FORMATS = ['text', 'srt', 'vtt', 'json'] as const;
export type TranscriptFormat = (typeof TRANSCRIPT_FORMATS)[number];

function cues(segments: readonly FormattableSegment[]): NodeList {
  return segments.map((s) => ({
    type: 'cue' as const,
    data: { start: Math.round(s.start * 1000), end: Math.round(s.end * 1000), text: s.text },
  }));
}

/** SubRip subtitles, one cue per segment. */
export function toSrt(segments: readonly FormattableSegment[]): string {
  return stringifySync(cues(segments), { format: 'SRT' });
}

/** WebVTT subtitles, one cue per segment. */
export function toVtt(segments: readonly FormattableSegment[]): string {
  return stringifySync(cues(segments), { format: 'WebVTT' });
}
