/** Routing by detected language (common/language-routing.ts) over chooseModel's choice and the registry. */
import type { Tier } from '../../common/constants';
import { englishTextDoubted, languageRoutingFor, modelForLanguage } from '../../common/language-routing';
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
