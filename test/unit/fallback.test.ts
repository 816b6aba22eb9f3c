/**
 * Whisper's temperature fallback and no-speech rules (engine/fallback.ts), sampling (decoding.ts
 * samplePick) and the previous-context prompt (vocab.ts), against openai/whisper transcribe.py's values.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as zlib from 'node:zlib';
import {
  bestAttempt,
  COMPRESSION_RATIO_THRESHOLD,
  compressionRatio,
  isNoSpeech,
  isNoSpeechWindow,
  needsFallback,
  TEMPERATURES,
  temperaturesFrom,
} from '../../engine/fallback';
import { greedyPick, samplePick } from '../../engine/decoding';
import { mulberry32, seedFrom } from '../../engine/prng';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';

const deflated = (b: Uint8Array) => zlib.deflateSync(b).length;

describe('compressionRatio (transcribe.py: utf-8 bytes / zlib-compressed bytes)', () => {
  test('ordinary speech stays under 2.4; a decoding loop goes over', async () => {
    const speech = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';
    expect(await compressionRatio(speech, deflated)).toBeLessThan(COMPRESSION_RATIO_THRESHOLD);
    // The classic hallucination loop: one phrase repeated until the token budget runs out.
    const loop = 'Thank you for watching. '.repeat(20).trim();
    expect(await compressionRatio(loop, deflated)).toBeGreaterThan(COMPRESSION_RATIO_THRESHOLD);
  });

  test('is the byte ratio Python computes (zlib level 6, utf-8 bytes, not characters)', async () => {
    const text = 'naïve café ünïcödé';
    const bytes = Buffer.from(text, 'utf8');
    expect(await compressionRatio(text, deflated)).toBeCloseTo(bytes.length / zlib.deflateSync(bytes).length, 12);
    // Python: len(zlib.compress(b"aaaaaaaaaa")) == 11 → 10 / 11
    expect(await compressionRatio('aaaaaaaaaa', deflated)).toBeCloseTo(10 / 11, 12);
    expect(await compressionRatio('', deflated)).toBe(0);
  });
});

describe('needsFallback and isNoSpeech (transcribe.py decode_with_fallback and the skip rule)', () => {
  const good = { avgLogprob: -0.3, noSpeechProb: 0.02, compressionRatio: 1.4 };
  test.each([
    ['a good greedy pass is kept', good, false, false],
    ['too repetitive → fallback', { ...good, compressionRatio: 2.5 }, true, false],
    ['exactly 2.4 is not over the threshold', { ...good, compressionRatio: 2.4 }, false, false],
    ['too unlikely → fallback', { ...good, avgLogprob: -1.2 }, true, false],
    ['unlikely but probably silence → no fallback, skipped', { ...good, avgLogprob: -1.2, noSpeechProb: 0.7 }, false, true],
    ['repetitive and silence-like → skipped, not resampled', { avgLogprob: -1.5, noSpeechProb: 0.9, compressionRatio: 3 }, false, true],
    ['high no-speech but confident text is kept', { ...good, noSpeechProb: 0.9 }, false, false],
    ['repetitive with high no-speech but confident → fallback', { avgLogprob: -0.2, noSpeechProb: 0.9, compressionRatio: 3 }, true, false],
  ])('%s', (_name, q, fallback, skip) => {
    expect(needsFallback(q)).toBe(fallback);
    expect(isNoSpeech(q)).toBe(skip);
  });

  test('silence is judged on the likeliest attempt: a confident greedy pass is not made silent by a poor sample', () => {
    // 'a phrase repeated, no pauses' (tiny.en): greedy -0.14 failed only the compression guard; the sample at
    // 1.0 scored -1.70; the no-speech probability (0.82) is the same for every attempt
    const greedy = { avgLogprob: -0.14, noSpeechProb: 0.82, compressionRatio: 9.6 };
    const sampled = { avgLogprob: -1.7, noSpeechProb: 0.82, compressionRatio: 2.8 };
    expect(isNoSpeech(sampled)).toBe(true); // Whisper's per-attempt rule would skip the window here
    expect(isNoSpeechWindow([greedy, sampled])).toBe(false);
    expect(needsFallback(sampled, [greedy])).toBe(true); // so the fallback goes on instead of stopping as silence
    // every attempt unlikely: silence, as before
    expect(isNoSpeechWindow([{ ...greedy, avgLogprob: -1.1 }, sampled])).toBe(true);
    expect(needsFallback(sampled, [{ ...greedy, avgLogprob: -1.1 }])).toBe(false);
    expect(isNoSpeechWindow([{ ...greedy, noSpeechProb: 0.5 }])).toBe(false);
  });

  test('the temperatures are Whisper’s: greedy, then 0.2 steps to 1.0', () => {
    expect(TEMPERATURES).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1.0]);
  });
});

describe('samplePick (Categorical(logits / T), untempered log-probability)', () => {
  const logits = Float32Array.from([2, 1, 0, -Infinity, 0.5]);
  const lse = Math.log([2, 1, 0, 0.5].reduce((s, x) => s + Math.exp(x), 0));

  test('follows softmax(logits / T) and never picks a suppressed token', () => {
    const rnd = mulberry32(42);
    const counts = [0, 0, 0, 0, 0];
    const n = 20000;
    for (let i = 0; i < n; i++) counts[samplePick(logits, 1, rnd()).token]++;
    const z = [2, 1, 0, 0.5].reduce((s, x) => s + Math.exp(x), 0);
    expect(counts[3]).toBe(0);
    expect(counts[0] / n).toBeCloseTo(Math.exp(2) / z, 1);
    expect(counts[4] / n).toBeCloseTo(Math.exp(0.5) / z, 1);
    // a low temperature sharpens towards the greedy choice
    let top = 0;
    for (let i = 0; i < 2000; i++) if (samplePick(logits, 0.2, rnd()).token === 0) top++;
    expect(top / 2000).toBeGreaterThan(0.95);
  });

  test('scores with the untempered log-probability, the same as greedy for the same token', () => {
    const r = samplePick(logits, 0.6, 0); // u = 0 → the first allowed token
    expect(r.token).toBe(0);
    expect(r.logprob).toBeCloseTo(2 - lse, 5);
    expect(r.logprob).toBeCloseTo(greedyPick(logits).logprob, 6);
    expect(samplePick(logits, 1, 0.999999).token).toBe(4);
  });

  test('a seeded draw repeats: a retried chunk samples the same tokens', () => {
    const seq = (seed: number) => {
      const rnd = mulberry32(seedFrom('job-1', 3, seed));
      return Array.from({ length: 50 }, () => samplePick(logits, 1, rnd()).token);
    };
    expect(seq(1)).toEqual(seq(1));
    expect(seq(1)).not.toEqual(seq(2));
  });
});

describe('previous-context prompt (decoding.py _get_initial_tokens)', () => {
  const gen = JSON.parse(
    readFileSync(path.resolve(__dirname, '../../../shared/models/whisper-tiny.en/generation_config.json'), 'utf8'),
  ) as GenerationConfig;
  const vocab = new WhisperVocab(gen);

  test('<|startofprev|> then the last n_text_ctx / 2 - 1 = 223 tokens', () => {
    expect(vocab.startOfPrev).toBe(50360);
    expect(vocab.maxContextTokens).toBe(223);
    const tokens = Array.from({ length: 300 }, (_, i) => 1000 + i);
    const prefix = vocab.contextPrefix(tokens);
    expect(prefix).toHaveLength(224);
    expect(prefix[0]).toBe(50360);
    expect(prefix[1]).toBe(1000 + 300 - 223); // the oldest tokens go, the latest stay
    expect(prefix[223]).toBe(1299);
    expect(vocab.contextPrefix([5, 6])).toEqual([50360, 5, 6]);
    expect(vocab.contextPrefix([])).toEqual([]);
  });
});

describe('request temperature and the kept attempt', () => {
  test('temperaturesFrom: Whisper’s list for 0, t then upward by 0.2 for t > 0', () => {
    expect(temperaturesFrom(0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    expect(temperaturesFrom(undefined)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    expect(temperaturesFrom(0.6)).toEqual([0.6, 0.8, 1.0]);
    expect(temperaturesFrom(0.5)).toEqual([0.5, 0.7, 0.9]);
    expect(temperaturesFrom(1)).toEqual([1]);
  });

  test('bestAttempt: the most likely among those that compress normally, else the most likely of all', () => {
    const q = (avgLogprob: number, compressionRatio: number) => ({ avgLogprob, compressionRatio, noSpeechProb: 0 });
    expect(bestAttempt([q(-1.2, 1.5), q(-1.5, 1.4), q(-3, 1.2)])).toBe(0);
    expect(bestAttempt([q(-0.1, 3.0), q(-1.5, 1.4), q(-1.3, 2.0)])).toBe(2);
    expect(bestAttempt([q(-0.5, 3.0), q(-0.2, 2.9)])).toBe(1);
  });
});
