import * as zlib from 'node:zlib';
/** Routing by detected language (common/language-routing.ts) over chooseModel's choice and the registry. */
import type { Tier } from '../../common/constants';
import { englishTextDoubted, languageRoutingFor, modelForLanguage, tokensPerWord, windowCompressionRatios } from '../../common/language-routing';
import { chooseModel, type ModelRequest } from '../../common/routing';

const SHIPPED = ['whisper-tiny.en', 'whisper-base'];

function routingFor(tier: Tier, req: ModelRequest, installed = SHIPPED) {
  const choice = chooseModel(tier, req, installed);
  if (!choice.ok) throw new Error(choice.message);
  return languageRoutingFor(req, choice, installed);
}

const detect = { detectModel: 'whisper-base', englishModel: 'whisper-tiny.en', otherModel: 'whisper-base' };

test.each<[Tier, ModelRequest, typeof detect | null]>([
  // economy routes to an English-only model: without a language, detect first
  ['free', {}, detect],
  ['free', { language: null }, detect],
  ['standard', { language: null }, null], // balanced's whisper-base detects the language itself
  ['premium', { requireHighAccuracy: true }, null],
  // the caller decided: no detection step
  ['free', { language: 'en' }, null],
  ['free', { language: 'de' }, null],
  ['premium', { model: 'whisper-tiny.en' }, null],
  ['free', { task: 'translate' }, null],
])('%s %j → %j', (tier, req, expected) => {
  expect(routingFor(tier, req)).toEqual(expected);
});

test('without a multilingual model installed in the tier there is nothing to route to', () => {
  expect(routingFor('free', {}, ['whisper-tiny.en'])).toBeNull();
});

test('English goes to the English-only model, every other language to the multilingual one', () => {
  expect(modelForLanguage(detect, 'en')).toBe('whisper-tiny.en');
  expect(modelForLanguage(detect, 'de')).toBe('whisper-base');
  expect(modelForLanguage(detect, 'ja')).toBe('whisper-base');
});

describe('englishTextDoubted: when the English-only model\'s greedy text needs a language detection', () => {
  // Figures as whisper-tiny.en gave them, greedy, on 29 s windows (bench/routing-signals.ts, 2026-12-06).
  const seg = (avgLogprob: number, compressionRatio: number, noSpeechProb = 0.02, start = 0, end = 10) => ({ start, end, avgLogprob, compressionRatio, noSpeechProb });

  test('English text that passes Whisper\'s guards is kept without a detection', () => {
    expect(englishTextDoubted([seg(-0.265, 1.63)])).toBe(false); // espeak-ng en
    expect(englishTextDoubted([seg(-0.234, 1.6), seg(-0.504, 1.4, 0.025, 10, 12)])).toBe(false); // en-us, a weaker short segment
    expect(englishTextDoubted([seg(-0.367, 1.35)])).toBe(false); // jfk
  });

  test('a failed guard (tiny.en looping or stumbling on German, French, Spanish, Dutch) is doubted', () => {
    expect(englishTextDoubted([seg(-0.296, 17.28)])).toBe(true); // de: "The first time I was in the first time…"
    expect(englishTextDoubted([seg(-0.583, 4.73, 0.431)])).toBe(true); // fr: "TheTheThe…"
    expect(englishTextDoubted([seg(-0.7, 1.9), seg(-1.596, 1.8, 0.2, 10, 20)])).toBe(true); // de: one window unlikely
    expect(englishTextDoubted([seg(-1.027, 1.73)])).toBe(true); // nl
  });

  test('a low mean log-probability is doubted even when each window passed, and no text from speech is doubted', () => {
    expect(englishTextDoubted([seg(-0.65, 1.5), seg(-0.7, 1.5, 0.02, 10, 20)])).toBe(true);
    expect(englishTextDoubted([seg(-0.876, 1.2)])).toBe(true); // a noisy real English recording: pays one detection
    expect(englishTextDoubted([])).toBe(true);
  });

  test('a window Whisper takes for silence does not count as a failed guard', () => {
    // no-speech prob above 0.6 with log-prob below -1: needsFallback is false (transcribe.py skips it), and
    // one second of it leaves the speech-weighted mean above the margin
    expect(englishTextDoubted([seg(-0.3, 1.5, 0.02, 0, 25), seg(-1.2, 1.0, 0.9, 25, 26)])).toBe(false);
  });
});

describe('englishTextDoubted on a window that holds two languages (bench/mixed-signals.ts, whisper-tiny.en int8, greedy, 2026-12-07)', () => {
  /** A segment with its text and as many text tokens as whisper-tiny.en gave it. */
  const seg = (text: string, tokens: number, start: number, end: number, avgLogprob: number, compressionRatio = 1.05) => ({
    start,
    end,
    text,
    tokens: Array.from({ length: tokens }, (_, i) => i),
    avgLogprob,
    compressionRatio,
    noSpeechProb: 0.02,
  });
  const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
  const at = (text: string, perWord: number, start: number, end: number, lp: number) => seg(text, Math.round(perWord * words(text)), start, end, lp);

  test('German 5 s then English 24 s: the window\'s figures are English (-0.503), the German segment\'s text is not', () => {
    const window = [
      at('The Midlio take, like Tamontak, vegan, this phyotax, the schlossen.', 2.4, 0, 4.5, -0.503),
      at('Who\'s the ducky forgot his umbrella to the office, and got wet on the way home.', 1.25, 4.5, 9.6, -0.503),
      at('The children will to small castle out and sand on the beach.', 1.08, 9.6, 13.6, -0.503),
      at('She reads the news paper every evening before dinner.', 1.11, 13.6, 17.1, -0.503),
      at('The museum opens an exhibition about ancient ship next week.', 1.1, 17.1, 21.9, -0.503),
      at('We need more chairs for the guests who arrive this afternoon.', 1.09, 21.9, 26.1, -0.503),
      at('The maker on the corner sounds fresh, rarely in the mornin\'.', 1.36, 26.1, 29.0, -0.717),
    ];
    expect(tokensPerWord(window[0])).toBeCloseTo(2.4, 1);
    expect(englishTextDoubted(window)).toBe(true);
    // the old rule (figures only) kept it: without text and tokens the same window passes
    expect(englishTextDoubted(window.map((s) => ({ start: s.start, end: s.end, avgLogprob: s.avgLogprob, compressionRatio: s.compressionRatio, noSpeechProb: s.noSpeechProb })))).toBe(false);
  });

  test('English 20 s, a 1.2 s pause, German 8 s: doubted (a segment at 2.50 tokens per word)', () => {
    const window = [
      at('We planted tomatoes and carrots in the garden last spring.', 1.1, 0, 4.5, -0.455),
      at('After the meeting we walked down to the river and', 1.0, 17.2, 21.2, -0.455),
      at('the idly optic-like Tamontak vegan mistyotaxed the schlossen.', 2.5, 21.2, 25.6, -0.455),
    ];
    expect(englishTextDoubted(window)).toBe(true);
  });

  test('English text keeps 1.00–1.20 tokens per word and is not doubted; a short segment is not judged', () => {
    const english = [
      at('And so my fellow Americans ask not what your country can do for you', 1.0, 0, 7.7, -0.366),
      at('ask what you can do for your country.', 1.13, 7.7, 10.6, -0.366),
      at('The horizon seems extremely distant.', 1.2, 10.6, 13.6, -0.366),
      at('my sister Mata Mysicle because the old one was stolen. After the meeting we walked', 1.2, 13.6, 19.6, -0.311),
      seg('In 1984.', 5, 19.6, 20.5, -0.3),
    ];
    expect(english.map((s) => tokensPerWord(s))).toEqual([expect.closeTo(1.0, 1), expect.closeTo(1.13, 1), expect.closeTo(1.2, 1), expect.closeTo(1.2, 1), null]);
    expect(englishTextDoubted(english)).toBe(false);
  });
});

describe('windowCompressionRatios: Whisper\'s compression rule over each window\'s whole text', () => {
  const deflated = (b: Uint8Array) => zlib.deflateSync(b).length;
  // whisper-tiny.en over the languages test's 11.4 s German tail: a loop that closes every few words
  const loop = ['The', 'house in', 'the house in', 'the house in', 'the house in the', 'house in the', 'house in the', 'house in the', 'house in the', 'house in the', 'house in the', 'house in the house in the', 'house in the house in the'];
  const seg = (text: string, windowStart: number, i: number) => ({ text, windowStart, start: windowStart + i, end: windowStart + i + 1, avgLogprob: -0.441, compressionRatio: 1.04, noSpeechProb: 0.02 });

  test('one ratio per window, each over the window\'s segments joined', async () => {
    const segs = [...loop.map((t, i) => seg(t, 0, i)), seg('We planted tomatoes and carrots in the garden last spring.', 30, 0)];
    const ratios = await windowCompressionRatios(segs, deflated);
    expect(ratios).toHaveLength(2);
    expect(ratios[0]).toBeGreaterThan(4);
    expect(ratios[1]).toBeLessThan(1.5);
  });

  test('a loop split into short segments passes every per-segment guard and the mean, and is doubted by its window\'s ratio', async () => {
    const segs = loop.map((t, i) => seg(t, 0, i));
    expect(englishTextDoubted(segs)).toBe(false);
    expect(englishTextDoubted(segs, await windowCompressionRatios(segs, deflated))).toBe(true);
  });

  test('English speech is not doubted by its window\'s ratio', async () => {
    const english = ['We planted tomatoes and carrots in the garden last spring.', 'Please remember to turn off the lights when you leave the house.', 'The train to the city leaves every morning at half past seven.'];
    const segs = english.map((t, i) => ({ ...seg(t, 0, i), avgLogprob: -0.26, tokens: Array.from({ length: t.split(' ').length + 1 }, () => 1) }));
    expect(englishTextDoubted(segs, await windowCompressionRatios(segs, deflated))).toBe(false);
  });
});
