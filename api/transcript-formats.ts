/** Transcript renderings: plain text, SRT and WebVTT (through the `subtitle` library; times in ms). */
import { stringifySync, type NodeList } from 'subtitle';

export interface FormattableSegment {
  start: number;
  end: number;
  text: string;
  /** multichannel jobs: the channel the segment was spoken on (0-based) */
  channel?: number;
  /** jobs made with word timestamps: the segment's words (Whisper's leading space kept) */
  words?: { word: string; start: number; end: number }[];
}

/** Caption layout from word times: openai/whisper's CLI `--max_line_width` / `--max_line_count`. */
export interface CaptionLayout {
  /** characters per line (openai's max_line_width) */
  maxLineWidth?: number;
  /** lines per cue (openai's max_line_count) */
  maxLineCount?: number;
}

/** Whether every segment has word times (what captions laid out by words need). */
export function hasWords(segments: readonly FormattableSegment[]): boolean {
  return segments.every((s) => Array.isArray(s.words));
}

/** Python's len(): code points, not UTF-16 units. */
function pyLen(s: string): number {
  return Array.from(s).length;
}

/** openai/whisper utils.py: a long pause (seconds) between words starts a new cue when not preserving segments. */
const LONG_PAUSE_S = 3.0;

/**
 * Cues from word times, as openai/whisper utils.py `SubtitlesWriter.iterate_result` lays them out
 * (without highlight_words / max_words_per_line): words fill a line up to `maxLineWidth` characters, a
 * full line opens the next (joined by "\n"), and after `maxLineCount` lines or a pause over 3 s a new
 * cue starts. With both limits given, cues may span segments (openai: preserve_segments = False);
 * otherwise every segment starts a new cue. A cue runs from its first word's start to its last word's
 * end. Multichannel: a change of channel always starts a new cue (our addition: a cue is one speaker).
 * @param segments segments that all have `words` (see hasWords)
 * @param labelWidth characters a cue's first line carries before its first word (SRT's `[Channel 0] `
 *   prefix, which is shown; our addition), counted in that line's width so no shown line is over
 *   `maxLineWidth`; 0 without channels and for WebVTT, whose `<v …>` voice tag is not shown
 */
export function captionCues(
  segments: readonly FormattableSegment[],
  layout: CaptionLayout,
  labelWidth: (channel: number | undefined) => number = () => 0,
): { start: number; end: number; text: string; channel?: number }[] {
  const { maxLineCount } = layout;
  const preserveSegments = maxLineCount === undefined || layout.maxLineWidth === undefined;
  const maxLineWidth = layout.maxLineWidth ?? 1000;
  type Timing = { word: string; start: number; end: number; channel?: number };
  const subtitles: Timing[][] = [];
  let lineLen = 0;
  let lineCount = 1;
  let subtitle: Timing[] = [];
  // openai get_start: the first word's start, else the first segment's start
  let last = segments.flatMap((s) => s.words ?? [])[0]?.start ?? segments[0]?.start ?? 0;
  for (const segment of segments) {
    (segment.words ?? []).forEach((w, i) => {
      const timing: Timing = { word: w.word, start: w.start, end: w.end, channel: segment.channel };
      const longPause = !preserveSegments && timing.start - last > LONG_PAUSE_S;
      const hasRoom = lineLen + pyLen(timing.word) <= maxLineWidth;
      const channelBreak = subtitle.length > 0 && subtitle[subtitle.length - 1].channel !== timing.channel;
      const segBreak = (i === 0 && subtitle.length > 0 && preserveSegments) || channelBreak;
      if (lineLen > 0 && hasRoom && !longPause && !segBreak) {
        lineLen += pyLen(timing.word); // line continuation
      } else {
        timing.word = timing.word.trim();
        let label = 0;
        if ((subtitle.length > 0 && maxLineCount !== undefined && (longPause || lineCount >= maxLineCount)) || segBreak) {
          subtitles.push(subtitle); // subtitle break
          subtitle = [];
          lineCount = 1;
          label = labelWidth(timing.channel);
        } else if (lineLen > 0) {
          lineCount += 1; // line break
          timing.word = '\n' + timing.word;
        } else {
          label = labelWidth(timing.channel); // the first cue's first word
        }
        lineLen = label + pyLen(timing.word.trim());
      }
      subtitle.push(timing);
      last = timing.start;
    });
  }
  if (subtitle.length > 0) subtitles.push(subtitle);
  return subtitles.map((sub) => ({
    start: sub[0].start,
    end: sub[sub.length - 1].end,
    text: sub.map((t) => t.word).join(''),
    ...(sub[0].channel !== undefined ? { channel: sub[0].channel } : {}),
  }));
}

export const TRANSCRIPT_FORMATS = ['text', 'srt', 'vtt', 'json'] as const;
export type TranscriptFormat = (typeof TRANSCRIPT_FORMATS)[number];

/**
 * A multichannel segment names its channel: WebVTT as a voice span (`<v Channel 0>`, the format's own
 * speaker label), SRT, which has none, as a `[Channel 0]` prefix. The number is the job JSON's
 * `channel` (0-based, ffmpeg's numbering), so a subtitle line and the JSON name a channel alike.
 */
function cueText(s: FormattableSegment, format: 'SRT' | 'WebVTT'): string {
  if (format === 'WebVTT') return s.channel === undefined ? vttEscape(s.text) : `<v Channel ${s.channel}>${vttEscape(s.text)}`;
  return s.channel === undefined ? s.text : `${srtLabel(s.channel)}${s.text}`;
}

/**
 * Text as WebVTT cue text (W3C WebVTT §4.2.2): "&" opens a character reference and "<" a tag, so literal ones are
 * written `&amp;` and `&lt;`; ">" as `&gt;`, since a cue payload must not contain "-->". Whisper writes all three
 * ("Q&A", "AT&T", "<3", "->"); `subtitle` writes text as given and players would drop or mangle them. SRT has no
 * escapes and keeps the text as said.
 */
function vttEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** SRT's shown channel label, `[Channel 0] ` ('' without a channel). */
function srtLabel(channel: number | undefined): string {
  return channel === undefined ? '' : `[Channel ${channel}] `;
}

function cues(segments: readonly FormattableSegment[], format: 'SRT' | 'WebVTT'): NodeList {
  return segments.map((s) => ({
    type: 'cue' as const,
    data: { start: Math.round(s.start * 1000), end: Math.round(s.end * 1000), text: cueText(s, format) },
  }));
}

/** SubRip subtitles: one cue per segment, or laid out by word times when `layout` is given. */
export function toSrt(segments: readonly FormattableSegment[], layout?: CaptionLayout): string {
  const laidOut = layout ? captionCues(segments, layout, (channel) => pyLen(srtLabel(channel))) : segments;
  return stringifySync(cues(laidOut, 'SRT'), { format: 'SRT' });
}

/**
 * WebVTT subtitles: one cue per segment, or laid out by word times when `layout` is given. Always starts with
 * the `WEBVTT` line, also without cues (silence, a clip too short to say anything): `subtitle` writes the header
 * before the first cue only, and an empty body is no WebVTT file (the spec's file signature; players refuse it;
 * openai/whisper's WriteVTT writes the header always). One newline after it: `subtitle`'s own parser reads a
 * header followed by a blank line as a cue missing its timestamp.
 */
export function toVtt(segments: readonly FormattableSegment[], layout?: CaptionLayout): string {
  const body = stringifySync(cues(layout ? captionCues(segments, layout) : segments, 'WebVTT'), { format: 'WebVTT' });
  return body === '' ? 'WEBVTT\n' : body;
}
