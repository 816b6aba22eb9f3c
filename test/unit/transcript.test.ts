/** Merging per-chunk segments into one transcript (audio/transcript.ts). */
import { doubledWordCount, mergeChunkSegments, mergeChunkSegmentsByChunk, transcriptText, type ChunkSegments, type TranscriptSegment } from '../../audio/transcript';

const seg = (start: number, end: number, text: string) => ({ start, end, text });

/** Starts never before the previous end, every end ≥ its start, nothing past the audio. */
function expectMonotonic(segments: TranscriptSegment[], audioSeconds: number) {
  let prevEnd = 0;
  for (const s of segments) {
    expect(s.start).toBeGreaterThanOrEqual(prevEnd);
    expect(s.end).toBeGreaterThanOrEqual(s.start);
    expect(s.end).toBeLessThanOrEqual(audioSeconds);
    prevEnd = s.end;
  }
}

describe('mergeChunkSegments', () => {
  test('adds each chunk’s start to its segments', () => {
    const chunks: ChunkSegments[] = [
      { index: 0, start: 0, end: 27.5, segments: [seg(0, 4.2, ' Hello there.'), seg(4.2, 9, 'How are you?')] },
      { index: 1, start: 27.5, end: 55.1, segments: [seg(0.5, 6, 'Fine, thanks.')] },
      { index: 2, start: 55.1, end: 70, segments: [seg(1.2, 3.4, 'Bye.')] },
    ];
    expect(mergeChunkSegments(chunks, 70)).toEqual([
      { start: 0, end: 4.2, text: 'Hello there.' },
      { start: 4.2, end: 9, text: 'How are you?' },
      { start: 28, end: 33.5, text: 'Fine, thanks.' },
      { start: 56.3, end: 58.5, text: 'Bye.' },
    ]);
  });

  test('the decoding window’s start moves with its chunk and stays at or before the segment', () => {
    const chunks: ChunkSegments[] = [
      { index: 0, start: 0, end: 40, segments: [{ ...seg(31, 35, 'late.'), windowStart: 29.5 }] },
      // the previous chunk's segment ends at 35: this one is pushed to 35.5 → 35.5, its window (30.3 + 5 = 35.3) stays before it
      { index: 1, start: 30.3, end: 60, segments: [{ ...seg(5.2, 8, 'next.'), windowStart: 5 }, seg(9, 10, 'old row.')] },
    ];
    const out = mergeChunkSegments(chunks, 60);
    expect(out.map((s) => [s.start, s.windowStart])).toEqual([
      [31, 29.5],
      [35.5, 35.3],
      [39.3, undefined],
    ]);
  });

  test('sorts chunks that arrive out of order by index', () => {
    const a: ChunkSegments = { index: 0, start: 0, end: 20, segments: [seg(1, 2, 'one')] };
    const b: ChunkSegments = { index: 1, start: 20, end: 40, segments: [seg(1, 2, 'two')] };
    const c: ChunkSegments = { index: 2, start: 40, end: 50, segments: [seg(1, 2, 'three')] };
    const merged = mergeChunkSegments([c, a, b], 50);
    expect(merged.map((s) => s.text)).toEqual(['one', 'two', 'three']);
    expect(merged.map((s) => s.start)).toEqual([1, 21, 41]);
    // the input array is left as it was
    const input = [c, a, b];
    mergeChunkSegments(input, 50);
    expect(input.map((x) => x.index)).toEqual([2, 0, 1]);
  });

  test('clips segments to their chunk’s end', () => {
    // Whisper's last timestamp can run past the chunk (the window is padded to 30 s)
    const chunks: ChunkSegments[] = [
      { index: 0, start: 0, end: 10, segments: [seg(8, 12.5, 'runs over')] },
      { index: 1, start: 10, end: 20, segments: [seg(0.4, 3, 'next')] },
    ];
    const merged = mergeChunkSegments(chunks, 20);
    expect(merged[0]).toEqual({ start: 8, end: 10, text: 'runs over' });
    expect(merged[1]).toEqual({ start: 10.4, end: 13, text: 'next' });
  });

  test('clips segments to the audio’s length', () => {
    const chunks: ChunkSegments[] = [{ index: 0, start: 0, end: 12, segments: [seg(9, 11.8, 'last words')] }];
    expect(mergeChunkSegments(chunks, 11.5)).toEqual([{ start: 9, end: 11.5, text: 'last words' }]);
  });

  test('no segment ends past the audio, even where rounding to centiseconds would round up', () => {
    // 10.006 s of audio: an end clipped to 10.006 must not come out as 10.01
    const chunks: ChunkSegments[] = [{ index: 0, start: 0, end: 10.006, segments: [seg(7, 10.006, 'to the end')] }];
    const merged = mergeChunkSegments(chunks, 10.006);
    expectMonotonic(merged, 10.006);
    expect(merged[0].end).toBeCloseTo(10.006, 2);
    // the same at a chunk boundary that is not on a centisecond
    const two: ChunkSegments[] = [
      { index: 0, start: 0, end: 29.996, segments: [seg(25, 30, 'first')] },
      { index: 1, start: 29.996, end: 40.004, segments: [seg(0, 10.2, 'second')] },
    ];
    expectMonotonic(mergeChunkSegments(two, 40.004), 40.004);
  });

  test('keeps the output monotonic when segments overlap or go backwards', () => {
    const chunks: ChunkSegments[] = [
      { index: 0, start: 0, end: 30, segments: [seg(0, 5, 'a'), seg(4, 6, 'b'), seg(3, 3.5, 'c'), seg(7, 6.5, 'd')] },
      // a segment at the very start of the next chunk, before the previous chunk's last end
      { index: 1, start: 30, end: 60, segments: [seg(0, 1, 'e')] },
    ];
    const merged = mergeChunkSegments(chunks, 60);
    expect(merged.map((s) => s.text)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expectMonotonic(merged, 60);
    expect(merged[1]).toEqual({ start: 5, end: 6, text: 'b' });
    expect(merged[2]).toEqual({ start: 6, end: 6, text: 'c' });
    expect(merged[3]).toEqual({ start: 7, end: 7, text: 'd' });
  });

  test('drops empty and whitespace-only texts and trims the rest', () => {
    const chunks: ChunkSegments[] = [
      { index: 0, start: 0, end: 30, segments: [seg(0, 1, ''), seg(1, 2, '   '), seg(2, 3, '  kept  ')] },
      { index: 1, start: 30, end: 35, segments: [] },
    ];
    expect(mergeChunkSegments(chunks, 35)).toEqual([{ start: 2, end: 3, text: 'kept' }]);
  });

  test('no chunks, or chunks without segments, give no segments', () => {
    expect(mergeChunkSegments([], 0)).toEqual([]);
    expect(mergeChunkSegments([{ index: 0, start: 0, end: 5, segments: [] }], 5)).toEqual([]);
  });

  test('rounds times to centiseconds', () => {
    const chunks: ChunkSegments[] = [{ index: 0, start: 1.2345, end: 30, segments: [seg(0.1111, 2.2222, 'x')] }];
    expect(mergeChunkSegments(chunks, 30)).toEqual([{ start: 1.35, end: 3.46, text: 'x' }]);
  });
});

describe('transcriptText', () => {
  test('joins trimmed segment texts with single spaces', () => {
    expect(transcriptText([seg(0, 1, ' Hello.'), seg(1, 2, 'World. '), seg(2, 3, 'Again.')])).toBe('Hello. World. Again.');
  });

  test('skips empty texts and gives "" for no segments', () => {
    expect(transcriptText([seg(0, 1, ' '), seg(1, 2, 'only'), seg(2, 3, '')])).toBe('only');
    expect(transcriptText([])).toBe('');
  });

  test('is the merged segments’ text', () => {
    const merged = mergeChunkSegments(
      [
        { index: 1, start: 20, end: 40, segments: [seg(0, 3, ' second')] },
        { index: 0, start: 0, end: 20, segments: [seg(0, 3, 'first ')] },
      ],
      40,
    );
    expect(transcriptText(merged)).toBe('first second');
  });
});

describe('words doubled across a cut inside speech', () => {
  test('a word both chunks heard at the cut is kept once; the later segment starts after it', () => {
    const chunks: ChunkSegments[] = [
      { index: 0, start: 0, end: 28, segments: [seg(20, 27.9, 'ask what you can do for your country')] },
      { index: 1, start: 28, end: 40, segments: [seg(0, 2, 'country. And so on.'), seg(2, 4, 'More.')] },
    ];
    const merged = mergeChunkSegments(chunks, 40);
    expect(transcriptText(merged)).toBe('ask what you can do for your country And so on. More.');
    expect(merged[1].start).toBeGreaterThan(28);
    expect(merged[1].start).toBeLessThan(29);
    expectMonotonic(merged, 40);
  });

  test('two words, case and punctuation aside', () => {
    expect(doubledWordCount('for your Country,', 'your country and')).toBe(2);
    expect(doubledWordCount('the end.', 'Then again')).toBe(0);
    expect(doubledWordCount('wait...', '... then')).toBe(0);
  });

  test('not across a removed silence, and not far from the cut', () => {
    // chunk 1 starts later than chunk 0 ended: silence was removed between them, nothing was cut
    const apart: ChunkSegments[] = [
      { index: 0, start: 0, end: 10, segments: [seg(8, 9.8, 'no')] },
      { index: 1, start: 25, end: 30, segments: [seg(0.2, 1, 'no')] },
    ];
    expect(transcriptText(mergeChunkSegments(apart, 30))).toBe('no no');
    // contiguous, but the repeat is seconds away from the cut: a real repetition
    const far: ChunkSegments[] = [
      { index: 0, start: 0, end: 20, segments: [seg(10, 15, 'again')] },
      { index: 1, start: 20, end: 30, segments: [seg(3, 5, 'again')] },
    ];
    expect(transcriptText(mergeChunkSegments(far, 30))).toBe('again again');
  });
});

describe('overlapping chunks (speech past 30 s without a pause)', () => {
  // 60 numbered words, one every 0.5 s from 0 s: "w0 w1 … w59"; chunk A = 0–30 s, chunk B = 27–57 s.
  const word = (i: number) => `w${i}`;
  const timed = (i: number, offset: number) => ({ word: ` ${word(i)}`, start: i * 0.5 - offset, end: i * 0.5 + 0.4 - offset, probability: 0.9 });
  /** A chunk's segments of ~5 s each over words [from, to), times relative to `offset`. */
  function segs(from: number, to: number, offset: number, withWords: boolean) {
    const out: { start: number; end: number; text: string; words?: ReturnType<typeof timed>[] }[] = [];
    for (let s = from; s < to; s += 10) {
      const ids = Array.from({ length: Math.min(10, to - s) }, (_, k) => s + k);
      out.push({
        start: ids[0] * 0.5 - offset,
        end: ids[ids.length - 1] * 0.5 + 0.4 - offset,
        text: ids.map(word).join(' '),
        ...(withWords ? { words: ids.map((i) => timed(i, offset)) } : {}),
      });
    }
    return out;
  }
  const all = (n: number) => Array.from({ length: n }, (_, i) => word(i)).join(' ');

  for (const withWords of [true, false]) {
    test(`each word of the overlap is kept once (${withWords ? 'word timestamps' : 'segment times + text alignment'})`, () => {
      // A heard words 0–59 up to 30 s (w0…w59 end at 29.9 s); B heard from 27 s (w54) on.
      const a: ChunkSegments = { index: 0, start: 0, end: 30, segments: segs(0, 60, 0, withWords) };
      const b: ChunkSegments = { index: 1, start: 27, end: 57, segments: segs(54, 114, 27, withWords) };
      const merged = mergeChunkSegments([a, b], 57);
      expect(transcriptText(merged)).toBe(all(114));
      expectMonotonic(merged, 57);
    });
  }

  test('a word cut at a chunk edge (heard as a fragment) is taken from the chunk that heard it whole', () => {
    // A ends inside w60 and hears "w6"; B starts inside w54 and hears "4"
    const aSegs = segs(0, 60, 0, false);
    aSegs.push({ start: 29.9, end: 30, text: 'w6' });
    const bSegs = segs(55, 114, 27, false);
    bSegs[0] = { ...bSegs[0], start: 0, text: `4 ${bSegs[0].text}` };
    const merged = mergeChunkSegments([{ index: 0, start: 0, end: 30, segments: aSegs }, { index: 1, start: 27, end: 57, segments: bSegs }], 57);
    expect(transcriptText(merged)).toBe(all(114));
  });

  test('nothing in common in the overlap: the overlap is split at its middle by time, no word lost', () => {
    // A heard nothing after 25 s (say the speaker's words there were lost in its last window); B heard w54…
    const a: ChunkSegments = { index: 0, start: 0, end: 30, segments: segs(0, 50, 0, true) };
    const b: ChunkSegments = { index: 1, start: 27, end: 57, segments: segs(54, 114, 27, true) };
    const text = transcriptText(mergeChunkSegments([a, b], 57));
    expect(text).toBe(`${all(50)} ${Array.from({ length: 60 }, (_, i) => word(54 + i)).join(' ')}`);
  });

  test('a chunk’s kept segments depend only on its neighbours (SSE can emit them before the job ends)', () => {
    const chunks: ChunkSegments[] = [0, 1, 2, 3].map((k) => ({
      index: k,
      start: 27 * k,
      end: 27 * k + 30,
      segments: segs(54 * k, 54 * k + 60, 27 * k, true),
    }));
    const whole = mergeChunkSegmentsByChunk(chunks, 111);
    expect(transcriptText(whole.map((s) => s.segment))).toBe(all(222));
    for (const k of [1, 2]) {
      const local = mergeChunkSegmentsByChunk(chunks.slice(k - 1, k + 2), 111).filter((s) => s.chunk === k);
      expect(local.map((s) => s.segment.text)).toEqual(whole.filter((s) => s.chunk === k).map((s) => s.segment.text));
    }
  });

  test('quality fields ride along and words move to the original time line', () => {
    const a: ChunkSegments = { index: 0, start: 10, end: 15, segments: [{ start: 1, end: 2, text: 'hi', avgLogprob: -0.2, noSpeechProb: 0.01, compressionRatio: 1.1, temperature: 0.4, tokens: [1, 2], words: [{ word: ' hi', start: 1, end: 2, probability: 0.8 }] }] };
    expect(mergeChunkSegments([a], 15)).toEqual([{ start: 11, end: 12, text: 'hi', avgLogprob: -0.2, noSpeechProb: 0.01, compressionRatio: 1.1, temperature: 0.4, tokens: [1, 2], words: [{ word: ' hi', start: 11, end: 12, probability: 0.8 }] }]);
  });
});

describe('overlapping chunks on repeated speech (a phrase said again and again)', () => {
  // Spoken words one every 0.5 s, the phrase "can do for you" over and over (a 2 s period, shorter than the
  // 3 s overlap); chunk A = 0–30 s, chunk B = 27–57 s. Each chunk may mishear a word, as Whisper does at
  // chunk edges: a text-only alignment then finds a longer common run one repetition away (2 s off) than at
  // the true place, and hands over there, losing (or doubling) a whole phrase.
  const PHRASE = ['can', 'do', 'for', 'you'];
  const spoken = (i: number) => PHRASE[i % 4];
  function chunk(index: number, start: number, from: number, to: number, withWords: boolean, heard: (i: number) => string): ChunkSegments {
    const segments = [];
    for (let s = from; s < to; s += 10) {
      const ids = Array.from({ length: Math.min(10, to - s) }, (_, k) => s + k);
      segments.push({
        start: ids[0] * 0.5 - start,
        end: ids[ids.length - 1] * 0.5 + 0.4 - start,
        text: ids.map(heard).join(' '),
        ...(withWords ? { words: ids.map((i) => ({ word: ` ${heard(i)}`, start: i * 0.5 - start, end: i * 0.5 + 0.4 - start, probability: 0.9 })) } : {}),
      });
    }
    return { index, start, end: start + 30, segments };
  }
  const truth = (n: number, heardA: (i: number) => string, heardB: (i: number) => string, cutAt: number) =>
    Array.from({ length: n }, (_, i) => (i < cutAt ? heardA(i) : heardB(i))).join(' ');

  for (const withWords of [true, false]) {
    const how = withWords ? 'word timestamps' : 'segment times + text alignment';
    test(`B mishears a word of the overlap: the hand-over stays at the true place, nothing lost or doubled (${how})`, () => {
      const heardB = (i: number) => (i === 56 ? 'four' : spoken(i));
      const a = chunk(0, 0, 0, 60, withWords, spoken);
      const b = chunk(1, 27, 54, 114, withWords, heardB);
      const merged = mergeChunkSegments([a, b], 57);
      const words = transcriptText(merged).split(' ');
      expect(words).toHaveLength(114);
      // every word is the spoken one, except at most B's mishearing where B's side was kept
      const wrong = words.map((w, i) => (w === spoken(i) ? -1 : i)).filter((i) => i >= 0);
      expect(wrong.every((i) => i === 56)).toBe(true);
      expectMonotonic(merged, 57);
    });

    test(`A mishears a word of the overlap: nothing lost or doubled (${how})`, () => {
      const heardA = (i: number) => (i === 57 ? 'four' : spoken(i));
      const merged = mergeChunkSegments([chunk(0, 0, 0, 60, withWords, heardA), chunk(1, 27, 54, 114, withWords, spoken)], 57);
      const words = transcriptText(merged).split(' ');
      expect(words).toHaveLength(114);
      expect(words.map((w, i) => (w === spoken(i) ? -1 : i)).filter((i) => i >= 0).every((i) => i === 57)).toBe(true);
    });

    test(`the same word over and over ("no no no …") is kept as often as it was said (${how})`, () => {
      const no = () => 'no';
      const merged = mergeChunkSegments([chunk(0, 0, 0, 60, withWords, no), chunk(1, 27, 54, 114, withWords, no)], 57);
      expect(transcriptText(merged)).toBe(truth(114, no, no, 0));
    });
  }

  test('a repetition outside the overlap is never matched: B hears nothing of the overlap but the phrase again later', () => {
    // A heard words up to 29.9 s; B missed the overlap's words (27–30 s) and starts at 30 s (word 60, "can"):
    // its head "can do for you" equals A's words 52–55 and 56–59, 2 s and 4 s earlier than it was said.
    const a = chunk(0, 0, 0, 60, true, spoken);
    const b = chunk(1, 27, 60, 114, true, spoken);
    const words = transcriptText(mergeChunkSegments([a, b], 57)).split(' ');
    expect(words).toEqual(Array.from({ length: 114 }, (_, i) => spoken(i)));
  });
});
