/**
 * Captions laid out by word times (api/transcript-formats.ts captionCues) against openai/whisper's own
 * utils.py SubtitlesWriter.iterate_result on the same words (test/fixtures/words/timing-fixture.json,
 * made by make_timing_fixture.py), and the SRT/WebVTT files the `subtitle` library writes from them.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseSync } from 'subtitle';
import { captionCues, hasWords, toSrt, toVtt } from '../../api/transcript-formats';

const fixture = JSON.parse(readFileSync(path.join(__dirname, '../fixtures/words/timing-fixture.json'), 'utf8'));
const { segments, cases } = fixture.captions;

/** openai utils.py format_timestamp(always_include_hours=True, decimal_marker=',') */
function srtTime(seconds: number): string {
  let ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  ms -= h * 3_600_000;
  const m = Math.floor(ms / 60_000);
  ms -= m * 60_000;
  const s = Math.floor(ms / 1000);
  ms -= s * 1000;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(h)}:${p(m)}:${p(s)},${p(ms, 3)}`;
}

describe('captionCues = openai iterate_result', () => {
  for (const c of cases) {
    it(`maxLineWidth=${c.maxLineWidth} maxLineCount=${c.maxLineCount}`, () => {
      const got = captionCues(segments, { maxLineWidth: c.maxLineWidth ?? undefined, maxLineCount: c.maxLineCount ?? undefined });
      expect(got.map((q) => ({ start: srtTime(q.start), end: srtTime(q.end), text: q.text }))).toEqual(c.cues);
    });
  }
});

describe('SRT / WebVTT from word-laid-out cues', () => {
  it('every cue at most 2 lines of at most 42 characters, words in order, times from the words', () => {
    for (const body of [toSrt(segments, { maxLineWidth: 42, maxLineCount: 2 }), toVtt(segments, { maxLineWidth: 42, maxLineCount: 2 })]) {
      const cues = parseSync(body).filter((n) => n.type === 'cue').map((n) => n.data as { start: number; end: number; text: string });
      expect(cues.length).toBeGreaterThan(2);
      for (const q of cues) {
        const lines = q.text.split('\n');
        expect(lines.length).toBeLessThanOrEqual(2);
        // openai lets a single over-long word overflow; none is here
        for (const l of lines) expect(l.length).toBeLessThanOrEqual(42);
        expect(q.end).toBeGreaterThan(q.start);
      }
      const words = segments.flatMap((s: { words: { word: string }[] }) => s.words.map((w) => w.word.trim()));
      expect(cues.map((q) => q.text.replace(/\n/g, ' ')).join(' ').split(' ')).toEqual(words);
    }
  });
  it('a multichannel cue never mixes channels', () => {
    const two = [
      { start: 0, end: 1, text: ' a b', channel: 0, words: [{ word: ' a', start: 0, end: 0.5 }, { word: ' b', start: 0.5, end: 1 }] },
      { start: 0.6, end: 1.5, text: ' c', channel: 1, words: [{ word: ' c', start: 0.6, end: 1.5 }] },
    ];
    const got = captionCues(two, { maxLineWidth: 42, maxLineCount: 2 });
    expect(got).toEqual([
      { start: 0, end: 1, text: 'a b', channel: 0 },
      { start: 0.6, end: 1.5, text: 'c', channel: 1 },
    ]);
    expect(toVtt(two, { maxLineWidth: 42, maxLineCount: 2 })).toContain('<v Channel 1>c');
  });
  it("SRT's shown [Channel N] label counts in its line's width; WebVTT's <v> tag does not", () => {
    const words = (channel: number, start: number, text: string) => ({
      start,
      end: start + 3,
      text,
      channel,
      words: text.split(' ').filter(Boolean).map((w, i) => ({ word: ` ${w}`, start: start + i * 0.2, end: start + i * 0.2 + 0.2 })),
    });
    const two = [words(0, 0, ' He began a confused complaint against the wizard'), words(1, 0.5, ' The horizon seems very far')];
    const layout = { maxLineWidth: 20, maxLineCount: 2 };
    const srt = parseSync(toSrt(two, layout)).filter((n) => n.type === 'cue').map((n) => (n.data as { text: string }).text);
    for (const line of srt.flatMap((t) => t.split('\n'))) expect(line.length).toBeLessThanOrEqual(20);
    expect(srt[0]).toBe('[Channel 0] He began\na confused complaint');
    // The words are all there, in order, once.
    expect(srt.join(' ').replace(/\[Channel \d\] /g, '').split(/\s+/)).toEqual(
      [...two[0].text.trim().split(' '), ...two[1].text.trim().split(' ')],
    );
    // WebVTT's voice tag is not shown: its lines fill the whole width, as without channels.
    const vtt = parseSync(toVtt(two, layout)).filter((n) => n.type === 'cue').map((n) => (n.data as { text: string }).text);
    expect(vtt[0]).toBe('<v Channel 0>He began a confused\ncomplaint against');
  });
  it('hasWords: only when every segment has words', () => {
    expect(hasWords(segments)).toBe(true);
    expect(hasWords([{ start: 0, end: 1, text: 'x' }])).toBe(false);
    expect(hasWords([])).toBe(true);
  });
});

describe('a transcript without segments (silence, a 0.3 s clip)', () => {
  it('WebVTT is still a WebVTT file: the WEBVTT header, no cues (as openai/whisper WriteVTT writes it)', () => {
    const vtt = toVtt([]);
    // The WebVTT spec: a file starts with "WEBVTT"; an empty body is not a WebVTT file, and players refuse it.
    expect(vtt.startsWith('WEBVTT')).toBe(true);
    expect(parseSync(vtt).filter((n) => n.type === 'cue')).toEqual([]);
    expect(toVtt([], { maxLineWidth: 42, maxLineCount: 2 }).startsWith('WEBVTT')).toBe(true);
  });
  it('SRT has no header: an empty file is a valid SubRip file with no cues', () => {
    expect(toSrt([])).toBe('');
  });
});

describe('WebVTT cue text is escaped as the WebVTT spec asks (Whisper writes "Q&A", "AT&T", "<3", "->")', () => {
  // WebVTT §4.2.2 (cue text): "&" starts a character reference and "<" a tag, so a literal one must be
  // written &amp; / &lt;, and a cue payload must not contain "-->" (write ">" as &gt;). SRT has no escapes.
  const said = [{ start: 0, end: 2, text: 'Q&A with AT&T: I <3 it, a -> b --> c', words: [
    { word: ' Q&A', start: 0, end: 0.4 }, { word: ' with', start: 0.4, end: 0.6 }, { word: ' AT&T:', start: 0.6, end: 1 },
    { word: ' I', start: 1, end: 1.1 }, { word: ' <3', start: 1.1, end: 1.3 }, { word: ' it,', start: 1.3, end: 1.4 },
    { word: ' a', start: 1.4, end: 1.5 }, { word: ' ->', start: 1.5, end: 1.6 }, { word: ' b', start: 1.6, end: 1.7 },
    { word: ' -->', start: 1.7, end: 1.8 }, { word: ' c', start: 1.8, end: 2 },
  ] }];
  const escaped = 'Q&amp;A with AT&amp;T: I &lt;3 it, a -&gt; b --&gt; c';

  it('one cue per segment: &, < and > escaped, the text otherwise unchanged', () => {
    expect(toVtt(said)).toBe(`WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\n${escaped}\n`);
  });
  it('cues laid out by words: each line escaped, line breaks kept', () => {
    const vtt = toVtt(said, { maxLineWidth: 20, maxLineCount: 4 });
    const body = vtt.split('\n').slice(4).join('\n').trim();
    expect(body.replace(/\n/g, ' ')).toBe(escaped);
    expect(vtt.split('\n').filter((l) => l.includes('-->'))).toEqual(['00:00:00.000 --> 00:00:02.000']);
  });
  it("a multichannel cue's voice tag stays a tag; its text is escaped", () => {
    expect(toVtt([{ ...said[0], channel: 1 }])).toContain(`<v Channel 1>${escaped}\n`);
  });
  it('SRT keeps the text as said (SubRip has no escapes)', () => {
    expect(toSrt(said)).toContain('\nQ&A with AT&T: I <3 it, a -> b --> c\n');
  });
});
