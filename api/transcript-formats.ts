/** Transcript renderings: plain text, SRT and WebVTT (through the `subtitle` library; times in ms). */
import { stringifySync, type NodeList } from 'subtitle';

export interface FormattableSegment {
  start: number;
  end: number;
  text: string;
  /** multichannel jobs: the channel the segment was spoken on (0-based) */
  channel?: number;
}

export const TRANSCRIPT_FORMATS = ['text', 'srt', 'vtt', 'json'] as const;
export type TranscriptFormat = (typeof TRANSCRIPT_FORMATS)[number];

/**
 * A multichannel segment names its channel: WebVTT as a voice span (`<v Channel 0>`, the format's own
 * speaker label), SRT, which has none, as a `[Channel 0]` prefix. The number is the job JSON's
 * `channel` (0-based, ffmpeg's numbering), so a subtitle line and the JSON name a channel alike.
 */
function cueText(s: FormattableSegment, format: 'SRT' | 'WebVTT'): string {
  if (s.channel === undefined) return s.text;
  const label = `Channel ${s.channel}`;
  return format === 'WebVTT' ? `<v ${label}>${s.text}` : `[${label}] ${s.text}`;
}

function cues(segments: readonly FormattableSegment[], format: 'SRT' | 'WebVTT'): NodeList {
  return segments.map((s) => ({
    type: 'cue' as const,
    data: { start: Math.round(s.start * 1000), end: Math.round(s.end * 1000), text: cueText(s, format) },
  }));
}

/** SubRip subtitles, one cue per segment. */
export function toSrt(segments: readonly FormattableSegment[]): string {
  return stringifySync(cues(segments, 'SRT'), { format: 'SRT' });
}

/** WebVTT subtitles, one cue per segment. */
export function toVtt(segments: readonly FormattableSegment[]): string {
  return stringifySync(cues(segments, 'WebVTT'), { format: 'WebVTT' });
}
