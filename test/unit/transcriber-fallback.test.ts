/**
 * The transcriber's temperature fallback control flow (engine/transcriber.ts runWindows) with a stand-in
 * model: a greedy pass that loops is decoded again by sampling, only for the rows that failed, at the
 * next temperatures, and a window of timestamps only (no text) passes without a tokenizer call on an
 * empty list (the real tokenizer throws on one); a sentence said again in its own segments is not a loop, and a
 * window read with confidence is not dropped as silence after a poor sample. Vocabulary: whisper-tiny.en's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as zlib from 'node:zlib';
import { TIME_PER_TIMESTAMP_S } from '../../engine/constants';
import type { DecodedRow, DecodeOptions, WhisperModel } from '../../engine/model';
import { WhisperTranscriber } from '../../engine/transcriber';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';

const MODEL_DIR = path.resolve(__dirname, '../../../shared/models/whisper-tiny.en');
const vocab = new WhisperVocab(JSON.parse(readFileSync(path.join(MODEL_DIR, 'generation_config.json'), 'utf8')) as GenerationConfig);
const ts = (s: number) => vocab.timestampBegin + Math.round(s / TIME_PER_TIMESTAMP_S);
const [LOOP, GOOD] = [1000, 2000]; // marker "texts" the fake model and tokenizer agree on

/** Row 0 loops at T=0 and is fine from T=0.4; row 1 is fine at once; row 2 holds timestamps only. */
/**
 * A model whose decode answers `rowAt(window row, temperature, row maker)` for each batch row, logging each call's batch
 * size and temperature in `calls`; every row has no-speech probability `noSpeechProb`.
 */
function scriptedModel(
  calls: { rows: number; temperature: number }[],
  noSpeechProb: number,
  rowAt: (which: number, t: number, row: (tokens: number[], avgLogprob: number) => DecodedRow) => DecodedRow,
): WhisperModel {
  const row = (tokens: number[], avgLogprob: number): DecodedRow => ({ tokens, sumLogprob: avgLogprob, avgLogprob, noSpeechProb });
  return {
    vocab,
    encode: async (_f: Float32Array, batch: number) => ({ dims: [batch, 1500, 384] }),
    selectRows: (_h: unknown, rows: number[]) => ({ dims: [rows.length, 1500, 384], rows }),
    decode: async (h: { rows?: number[] }, prompts: number[][], opts: DecodeOptions = {}) => {
      const t = opts.temperatures?.[0] ?? 0;
      calls.push({ rows: prompts.length, temperature: t });
      return prompts.map((_p, k) => rowAt(h.rows ? h.rows[k] : k, t, row));
    },
  } as unknown as WhisperModel;
}

function fakeModel(calls: { rows: number; temperature: number }[]): WhisperModel {
  return scriptedModel(calls, 0.01, (which, t, row) => {
    if (which === 0) return t >= 0.4 ? row([ts(0), GOOD, ts(5)], -0.3) : row([ts(0), ...Array(60).fill(LOOP), ts(29)], -0.2);
    if (which === 1) return row([ts(0), GOOD, ts(5)], -0.3);
    return row([ts(0), ts(30)], -0.3);
  });
}

const tokenizer = {
  decode: (ids: number[]) => {
    if (ids.length === 0) throw new Error('token_ids must be a non-empty array of integers.');
    return ids.map((i) => (i === LOOP ? 'Thank you for watching. ' : 'fine words')).join('');
  },
};

test('only the looping row is sampled again, at 0.2 then 0.4, where it passes', async () => {
  const calls: { rows: number; temperature: number }[] = [];
  const t = new WhisperTranscriber(fakeModel(calls), tokenizer, undefined, { deflatedLength: (b) => zlib.deflateSync(b).length });
  const window = { samples: new Float32Array(16000), language: 'en', task: 'transcribe' as const, seed: 1 };
  const out = await t.runWindows([window, window, window]);
  expect(calls).toEqual([
    { rows: 3, temperature: 0 },
    { rows: 1, temperature: 0.2 },
    { rows: 1, temperature: 0.4 },
  ]);
  expect(out.map((r) => r.temperature)).toEqual([0.4, 0, 0]);
  expect(out[0].compressionRatio).toBeLessThan(2.4);
  expect(out[2].compressionRatio).toBe(0); // timestamps only: nothing to compress, no tokenizer call
});

/** Row 0: greedy is unlikely but readable (-1.2); every sampled attempt is worse (-2.5 … garbage). */
function unlikelyModel(calls: { rows: number; temperature: number }[]): WhisperModel {
  const row = (tokens: number[], avgLogprob: number): DecodedRow => ({ tokens, sumLogprob: avgLogprob, avgLogprob, noSpeechProb: 0.01 });
  return {
    vocab,
    encode: async (_f: Float32Array, batch: number) => ({ dims: [batch, 1500, 384] }),
    selectRows: (_h: unknown, rows: number[]) => ({ dims: [rows.length, 1500, 384], rows }),
    decode: async (_h: unknown, prompts: number[][], opts: DecodeOptions = {}) => {
      const t = opts.temperatures?.[0] ?? 0;
      calls.push({ rows: prompts.length, temperature: t });
      return prompts.map(() => (t === 0 ? row([ts(0), GOOD, ts(5)], -1.2) : row([ts(0), GOOD, ts(5)], -2.5 - t)));
    },
  } as unknown as WhisperModel;
}

test('at temperature 0, when every attempt fails, the greedy text is kept if no sample beats it (faster-whisper rule)', async () => {
  const calls: { rows: number; temperature: number }[] = [];
  const t = new WhisperTranscriber(unlikelyModel(calls), tokenizer, undefined, { deflatedLength: (b) => zlib.deflateSync(b).length });
  const [out] = await t.runWindows([{ samples: new Float32Array(16000), language: 'en', task: 'transcribe', seed: 1 }]);
  expect(calls.map((c) => c.temperature)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1.0]);
  expect(out.temperature).toBe(0);
  expect(out.avgLogprob).toBe(-1.2);
});

test('a request temperature of 0.6 starts sampling there and falls back upward', async () => {
  const calls: { rows: number; temperature: number }[] = [];
  const t = new WhisperTranscriber(unlikelyModel(calls), tokenizer, undefined, { deflatedLength: (b) => zlib.deflateSync(b).length });
  const window = { samples: new Float32Array(16000), language: 'en', task: 'transcribe' as const, seed: 1 };
  const [a, b] = await t.runWindows([{ ...window, temperature: 0.6 }, window]);
  // the two rows step through their own lists (0.6, 0.8, 1.0 and 0, 0.2 … 1.0); row 0 never decodes greedily
  expect(calls.slice(0, 2)).toEqual([{ rows: 1, temperature: 0.6 }, { rows: 1, temperature: 0 }]);
  expect(calls.filter((c) => c.temperature === 0)).toEqual([{ rows: 1, temperature: 0 }]);
  expect(calls.filter((c) => c.temperature === 1)).toEqual([{ rows: 1, temperature: 1 }, { rows: 1, temperature: 1 }]);
  expect(a.temperature).toBeGreaterThanOrEqual(0.6);
  expect(b.temperature).toBe(0);
});

const SENTENCE = 3000; // "Ask what you can do for your country." said again and again
const speechTokenizer = {
  decode: (ids: number[]) => ids.map((i) => (i === LOOP ? 'you can do for ' : i === SENTENCE ? 'Ask what you can do for your country. ' : 'fine words')).join(''),
};

/**
 * Row 0: one sentence said seven times, each in its own closed segment, confident (the greedy text of
 * 'a phrase repeated, no pauses'); row 1: greedy loops inside one unclosed segment, samples score -1.5,
 * no-speech probability 0.9 throughout (that file's first chunk).
 */
function repeatedSpeechModel(calls: { rows: number; temperature: number }[]): WhisperModel {
  return scriptedModel(calls, 0.9, (which, t, row) => {
    if (which === 0) return row(Array.from({ length: 7 }, (_, j) => [ts(4 * j), SENTENCE, ts(4 * j + 4)]).flat(), -0.14);
    return t === 0 ? row([ts(0), ...Array(60).fill(LOOP)], -0.6) : row([ts(0), GOOD, ts(10), ts(10), GOOD, ts(19)], -1.5);
  });
}

test('a sentence said again in its own timestamped segments passes the compression guard; a loop inside one segment does not', async () => {
  const calls: { rows: number; temperature: number }[] = [];
  const t = new WhisperTranscriber(repeatedSpeechModel(calls), speechTokenizer, undefined, { deflatedLength: (b) => zlib.deflateSync(b).length });
  const window = { samples: new Float32Array(16000 * 30), language: 'en', task: 'transcribe' as const, seed: 1 };
  const [speech, loop] = await t.runWindows([window, window]);
  // over the whole window the seven sentences compress 7x; per segment they are ordinary text
  expect(zlib.deflateSync(Buffer.from('Ask what you can do for your country. '.repeat(7).trim())).length).toBeLessThan(60);
  expect(speech.temperature).toBe(0);
  expect(speech.compressionRatio).toBeLessThan(2.4);
  expect(calls.filter((c) => c.temperature > 0).every((c) => c.rows === 1)).toBe(true); // only the loop resampled
  expect(loop.temperature).toBeGreaterThan(0);
});

test('a window whose greedy text was confident is not dropped as silence because a sample scored low', async () => {
  const calls: { rows: number; temperature: number }[] = [];
  const t = new WhisperTranscriber(repeatedSpeechModel(calls), speechTokenizer, undefined, { deflatedLength: (b) => zlib.deflateSync(b).length });
  const window = { samples: new Float32Array(16000 * 30), language: 'en', task: 'transcribe' as const, seed: 1 };
  const [, loop] = await t.runWindows([window, window]);
  // Whisper's per-attempt rule stops at 0.2 (no-speech 0.9, avg_logprob -1.5) and skips the window;
  // the greedy pass read it at -0.6, so every temperature is tried and the window keeps text
  expect(calls.map((c) => c.temperature)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1.0]);
  expect(loop.noSpeech).toBe(false);
  // every attempt failed: the likeliest of those that compress normally (the samples; the loop does not)
  expect(loop.compressionRatio).toBeLessThan(2.4);
  expect(loop.avgLogprob).toBe(-1.5);
});
