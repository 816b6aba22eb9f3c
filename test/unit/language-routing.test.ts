/** Routing by detected language (common/language-routing.ts) over chooseModel's choice and the registry. */
import type { Tier } from '../../common/constants';
import { languageRoutingFor, modelForLanguage } from '../../common/language-routing';
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
