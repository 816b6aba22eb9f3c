/**
 * engine/timing.ts against test/fixtures/words/timing-fixture.json, which make_timing_fixture.py made
 * with openai/whisper's own timing.py / tokenizer.py functions (dtw_cpu + backtrace, merge_punctuations,
 * add_word_timestamps, split_to_word_tokens). Tokenizers: ../shared/models/*\/tokenizer.json.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  addWordTimestamps,
  clampWords,
  dtw,
  findAlignment,
  medianFilter,
  mergePunctuations,
  splitToWordTokens,
  type WordTiming,
} from '../../engine/timing';

const fixture = JSON.parse(readFileSync(path.join(__dirname, '../fixtures/words/timing-fixture.json'), 'utf8'));
const MODELS = path.resolve(__dirname, '../../../shared/models');

describe('dtw (openai dtw_cpu + backtrace)', () => {
  for (const c of fixture.dtw) {
    it(`${c.n}×${c.m}: the same path, ties broken the same way`, () => {
      const { textIndices, timeIndices } = dtw(Float64Array.from(c.x), c.n, c.m);
      expect(Array.from(textIndices)).toEqual(c.textIndices);
      expect(Array.from(timeIndices)).toEqual(c.timeIndices);
    });
  }
});

describe('medianFilter (openai median_filter, width 7, reflect padding)', () => {
  for (const c of fixture.medianFilter) {
    it(`${c.rows}×${c.cols}`, () => {
      const y = medianFilter(Float32Array.from(c.x), c.rows, c.cols, 7);
      expect(Array.from(y)).toEqual(Array.from(Float32Array.from(c.y)));
    });
  }
  it('width 7 (the selection network) equals a sorted window, ties, every 0/1 window and NaN rows included', () => {
    // reference: reflect-pad, sort each window NaN-last, take the middle (openai's unfold + sort)
    const reference = (x: Float32Array, rows: number, cols: number) => {
      const out = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const win: number[] = [];
          for (let k = -3; k <= 3; k++) {
            let i = c + k;
            if (i < 0) i = -i;
            else if (i >= cols) i = 2 * (cols - 1) - i;
            win.push(x[r * cols + i]);
          }
          win.sort((a, b) => (Number.isNaN(a) ? 1 : Number.isNaN(b) ? -1 : a - b));
          out[r * cols + c] = win[3];
        }
      }
      return out;
    };
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const cases: [Float32Array, number, number][] = [];
    // every 0/1 pattern of 7 values lies inside this row (a de Bruijn-like walk of all 128 7-bit windows)
    const bits = Float32Array.from({ length: 128 + 6 }, (_, i) => (i < 128 ? (i * 37) % 128 : 0));
    const binary = new Float32Array(128 * 7);
    for (let p = 0; p < 128; p++) for (let b = 0; b < 7; b++) binary[p * 7 + b] = (bits[p] >> b) & 1;
    cases.push([binary, 128, 7]);
    cases.push([Float32Array.from({ length: 40 * 300 }, () => Math.floor(rand() * 5)), 40, 300]); // many ties
    cases.push([Float32Array.from({ length: 20 * 1500 }, () => rand() * 2 - 1), 20, 1500]);
    const withNaN = Float32Array.from({ length: 3 * 50 }, () => rand());
    withNaN[60] = NaN;
    cases.push([withNaN, 3, 50]);
    for (const [x, rows, cols] of cases) {
      expect(Array.from(medianFilter(x, rows, cols, 7))).toEqual(Array.from(reference(x, rows, cols)));
    }
  });
  it('refuses an even width', () => {
    expect(() => medianFilter(new Float32Array(4), 1, 4, 4)).toThrow(/odd/);
  });
});

describe('findAlignment (openai find_alignment after the model run)', () => {
  const c = fixture.findAlignment;
  it('word starts, ends and probabilities from the DTW jumps at word boundaries', () => {
    const got = findAlignment({
      heads: c.heads.map((h: number[]) => Float32Array.from(h)),
      tokenCount: c.tokenCount,
      positions: c.positions,
      sotLength: c.sotLength,
      textTokens: c.textTokens,
      textTokenProbs: c.textTokenProbs,
      numFrames: c.numFrames,
      words: c.words,
      wordTokens: c.wordTokens,
    });
    expect(got.map((w) => w.word)).toEqual(c.expected.map((w: WordTiming) => w.word));
    expect(got.map((w) => w.tokens)).toEqual(c.expected.map((w: WordTiming) => w.tokens));
    got.forEach((w, i) => {
      expect(w.start).toBeCloseTo(c.expected[i].start, 6);
      expect(w.end).toBeCloseTo(c.expected[i].end, 6);
      expect(w.probability).toBeCloseTo(c.expected[i].probability, 6);
    });
  });
  it('no text → no words', () => {
    expect(findAlignment({ ...c, heads: [], textTokens: [], textTokenProbs: [] })).toEqual([]);
  });
});

describe('splitToWordTokens (openai tokenizer.split_to_word_tokens)', () => {
  const tokenizers = new Map<string, { decode(ids: number[], o?: { skip_special_tokens?: boolean }): string }>();
  beforeAll(async () => {
    const { Tokenizer } = await import('@huggingface/tokenizers');
    for (const m of ['whisper-tiny.en', 'whisper-base']) {
      const read = (f: string) => JSON.parse(readFileSync(path.join(MODELS, m, f), 'utf8'));
      tokenizers.set(m, new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json')));
    }
  });
  for (const c of fixture.splitToWordTokens) {
    it(`${c.language}: ${c.words.slice(0, 4).join('|')}…`, () => {
      const tok = tokenizers.get(c.model)!;
      const eot = c.tokens[c.tokens.length - 1];
      const got = splitToWordTokens(c.tokens, (ids) => tok.decode(ids, { skip_special_tokens: false }), eot, c.language);
      expect(got.words).toEqual(c.words);
      expect(got.wordTokens).toEqual(c.wordTokens);
    });
  }
});

describe('mergePunctuations (openai merge_punctuations)', () => {
  for (const c of fixture.mergePunctuations) {
    it(c.input.map((w: WordTiming) => w.word).join('|'), () => {
      const a: WordTiming[] = c.input.map((w: WordTiming) => ({ ...w, tokens: [...w.tokens] }));
      mergePunctuations(a);
      expect(a.map((w) => ({ word: w.word, tokens: w.tokens }))).toEqual(c.expected);
    });
  }
});

describe('addWordTimestamps (openai add_word_timestamps heuristics)', () => {
  for (const c of fixture.addWordTimestamps) {
    it(c.name, () => {
      const eot = 50256;
      const segments = c.segments.map((s: { start: number; end: number; tokens: number[] }) => ({
        start: s.start,
        end: s.end,
        tokens: s.tokens.filter((t) => t < eot),
      }));
      const timeOffset = (c.segments[0].seek * 160) / 16000;
      const alignment: WordTiming[] = c.alignment.map((w: WordTiming) => ({ ...w, tokens: [...w.tokens] }));
      const got = addWordTimestamps(alignment, segments, timeOffset, c.lastSpeechTimestamp);
      expect(got.segments.length).toBe(c.expected.length);
      got.segments.forEach((s, i) => {
        const e = c.expected[i];
        expect(s.start).toBeCloseTo(e.start, 9);
        expect(s.end).toBeCloseTo(e.end, 9);
        expect(s.words.map((w) => w.word)).toEqual(e.words.map((w: WordTiming) => w.word));
        s.words.forEach((w, k) => {
          expect(w.start).toBeCloseTo(e.words[k].start, 9);
          expect(w.end).toBeCloseTo(e.words[k].end, 9);
          expect(w.probability).toBeCloseTo(e.words[k].probability, 9);
        });
      });
    });
  }
});

describe('clampWords (our guarantees on top of openai)', () => {
  it('keeps words inside the segment, in order, without overlap', () => {
    const words = [
      { word: ' a', start: 0.8, end: 1.4, probability: 1 },
      { word: ' b', start: 1.2, end: 2.0, probability: 1 },
      { word: ' c', start: 2.5, end: 3.6, probability: 1 },
    ];
    const got = clampWords(words, 1.0, 3.0, 1.1);
    expect(got.map((w) => [w.start, w.end])).toEqual([
      [1.1, 1.4],
      [1.4, 2.0],
      [2.5, 3.0],
    ]);
  });
});
