/**
 * The word-based seek (openai/whisper transcribe.py with word_timestamps: the next window starts at the last word's
 * end) never passes the window's last timestamp (engine/timing.ts capAtLastTimestamp). The model is a stand-in: every
 * window decodes "<0> word word word <10><10>" (one closed segment 0–10 s, then an empty one: the seek without words
 * is 10 s), and its alignment pass returns cross-attention that DTW follows to stretch the second word over 0.5–27.5 s
 * and put the third at 27.5–28 s, past the segment's end, as the int8 base model did on eval:words' long file with
 * pauses ("what" 45.98–52.82 s, "you" 52.82–52.84 s after a segment that ended at 46.48 s).
 * The vocabulary is whisper-tiny.en's (../shared/models/whisper-tiny.en/generation_config.json).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TIME_PER_TIMESTAMP_S } from '../../engine/constants';
import type { DecodedRow, WhisperModel } from '../../engine/model';
import { capAtLastTimestamp } from '../../engine/timing';
import { WhisperTranscriber } from '../../engine/transcriber';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';
import { mulberry32 } from '../helpers/prng';

const MODEL_DIR = path.resolve(__dirname, '../../../shared/models/whisper-tiny.en');
const vocab = new WhisperVocab(JSON.parse(readFileSync(path.join(MODEL_DIR, 'generation_config.json'), 'utf8')) as GenerationConfig);
const ts = (seconds: number) => vocab.timestampBegin + Math.round(seconds / TIME_PER_TIMESTAMP_S);
const WORD = 464;
const POSITIONS = 1500;

/** Rows [SOT, no_timestamps, word, word, word, EOT]: each row's attention on its own frames (50 per second). */
function attention(): Float32Array {
  const frames: [number, number][] = [
    [0, 50], // SOT
    [0, 25], // no_timestamps: the first word starts at 0 s
    [25, 1375], // first word's row: the first word ends (the second starts) where it starts, 0.5 s
    [1375, 1400], // second word's row: the second word ends at 27.5 s
    [1400, 1500], // third word's row: the third word ends at 28 s
    [1400, 1500], // EOT (not aligned)
  ];
  const a = new Float32Array(frames.length * POSITIONS).fill(1e-4);
  frames.forEach(([from, to], r) => {
    for (let f = from; f < to; f++) a[r * POSITIONS + f] = 1;
  });
  return a;
}

function fakeModel(): WhisperModel {
  const row: DecodedRow = { tokens: [ts(0), WORD, WORD, WORD, ts(10), ts(10)], sumLogprob: -1, avgLogprob: -0.1, noSpeechProb: 0.01 };
  return {
    vocab,
    encode: async (_f: Float32Array, batch: number) => ({ dims: [batch, 1500, 384] }),
    decode: async (_h: unknown, prompts: number[][]) => prompts.map(() => ({ ...row, tokens: [...row.tokens] })),
    selectRows: (h: unknown) => h,
    alignmentPass: async (_h: unknown, rows: { textTokens: number[] }[]) =>
      rows.map((r) => ({ heads: vocab.alignmentHeads.map(() => attention()), tokenCount: 6, textTokenProbs: r.textTokens.map(() => 0.9) })),
  } as unknown as WhisperModel;
}

const tokenizer = { decode: (ids: number[]) => ids.map((id) => (id === vocab.eot ? '<|endoftext|>' : ' word')).join('') };

test('with word timestamps the next window starts at the last timestamp when DTW put the last words after it', async () => {
  const t = new WhisperTranscriber(fakeModel(), tokenizer);
  const rand = mulberry32(11);
  const samples = Float32Array.from({ length: 40 * 16000 }, () => (rand() - 0.5) * 0.2);
  const done: number[] = [];
  const r = await t.transcribe(samples, { wordTimestamps: true, fallback: false, onWindow: (p) => done.push(p.doneSeconds) });
  // openai's rule seeks to the last word's end (28 s) and never decodes 10–28 s; without words the seek is 10 s
  expect(done.slice(0, 2)).toEqual([10, 20]);
  const first = r.segments[0];
  expect(first.end).toBe(10);
  expect(first.words!.every((w) => w.end <= 10)).toBe(true);
  expect(r.segments[1].start).toBe(10);
});

test('capAtLastTimestamp leaves words before the cap alone and stops the rest at it', () => {
  const seg = {
    start: 0,
    end: 28,
    words: [
      { word: ' a', start: 0, end: 2, probability: 1 },
      { word: ' b', start: 2, end: 26, probability: 1 },
      { word: ' c', start: 26, end: 28, probability: 1 },
    ],
  };
  expect(capAtLastTimestamp([seg], 10.004)).toEqual([
    {
      start: 0,
      end: 10,
      words: [
        { word: ' a', start: 0, end: 2, probability: 1 },
        { word: ' b', start: 2, end: 10, probability: 1 },
        { word: ' c', start: 10, end: 10, probability: 1 },
      ],
    },
  ]);
  expect(seg.end).toBe(28); // not modified
});
