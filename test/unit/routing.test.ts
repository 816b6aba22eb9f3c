/**
 * Model routing (common/routing.ts) against the registry in config/models.json: every tier, routed and
 * explicit, with and without a language and requireHighAccuracy.
 */
import type { ModelTier, Tier } from '../../common/constants';
import { chooseModel, MODEL_REGISTRY, type ModelChoice, type ModelRequest } from '../../common/routing';

/** The models this repository ships (../shared/models). */
const SHIPPED = ['whisper-tiny.en', 'whisper-base'];
/** A deployment that also installed the quality models. */
const ALL = Object.keys(MODEL_REGISTRY.models);

const ok = (model: string, modelTier: ModelTier, note: string | null = null): ModelChoice => ({ ok: true, model, modelTier, note });

describe('chooseModel, routed (no explicit model), with the shipped models', () => {
  // [tier, request, model, modelTier, note?]
  const cases: [Tier, ModelRequest, string, ModelTier, (string | null)?][] = [
    // free → economy, whatever is asked
    ['free', {}, 'whisper-tiny.en', 'economy'],
    ['free', { language: 'en' }, 'whisper-tiny.en', 'economy'],
    ['free', { language: null }, 'whisper-tiny.en', 'economy'],
    ['free', { requireHighAccuracy: true }, 'whisper-tiny.en', 'economy', 'requireHighAccuracy asks for the quality model tier, which the free tier may not use; using whisper-tiny.en'],
    // standard → balanced; requireHighAccuracy asks for quality, which standard may not use
    ['standard', {}, 'whisper-base', 'balanced'],
    ['standard', { language: 'en' }, 'whisper-base', 'balanced'],
    ['standard', { language: 'de' }, 'whisper-base', 'balanced'],
    ['standard', { requireHighAccuracy: true }, 'whisper-base', 'balanced', 'requireHighAccuracy asks for the quality model tier, which the standard tier may not use; using whisper-base'],
    ['standard', { requireHighAccuracy: true, language: 'de' }, 'whisper-base', 'balanced', 'requireHighAccuracy asks for the quality model tier, which the standard tier may not use; using whisper-base'],
    // premium → balanced, or quality with requireHighAccuracy (whisper-base stands in for large-v3)
    ['premium', {}, 'whisper-base', 'balanced'],
    ['premium', { language: 'de' }, 'whisper-base', 'balanced'],
    ['premium', { requireHighAccuracy: true }, 'whisper-base', 'quality', 'whisper-large-v3 is not installed; using whisper-base'],
    ['premium', { requireHighAccuracy: true, language: 'de' }, 'whisper-base', 'quality', 'whisper-large-v3 is not installed; using whisper-base'],
  ];
  test.each(cases)('%s %j → %s (%s)', (tier, req, model, modelTier, note = null) => {
    expect(chooseModel(tier, req, SHIPPED)).toEqual(ok(model, modelTier, note));
  });

  test('free with a non-English language gets the multilingual economy model', () => {
    const choice = chooseModel('free', { language: 'de' }, SHIPPED);
    expect(choice).toMatchObject({ ok: true, model: 'whisper-base', modelTier: 'economy' });
    const high = chooseModel('free', { language: 'de', requireHighAccuracy: true }, SHIPPED);
    expect(high).toMatchObject({ ok: true, model: 'whisper-base', modelTier: 'economy' });
  });

  // The note is only for a first-choice model that is missing, not one that is English-only.
  test('the fallback note does not call an installed English-only model "not installed"', () => {
    const choice = chooseModel('free', { language: 'de' }, SHIPPED);
    expect(choice.ok ? (choice.note ?? '') : '').not.toMatch(/whisper-tiny\.en is not installed/);
  });

  test('with every model installed, each model tier gets its first model', () => {
    expect(chooseModel('free', {}, ALL)).toEqual(ok('whisper-tiny.en', 'economy'));
    expect(chooseModel('standard', {}, ALL)).toEqual(ok('whisper-base', 'balanced'));
    expect(chooseModel('premium', { requireHighAccuracy: true }, ALL)).toEqual(ok('whisper-large-v3', 'quality'));
    expect(chooseModel('standard', { requireHighAccuracy: true }, ALL)).toMatchObject({ ok: true, model: 'whisper-base', modelTier: 'balanced' });
  });

  test('English-only installs cannot serve another language: 400', () => {
    for (const tier of ['free', 'standard', 'premium'] as const) {
      const choice = chooseModel(tier, { language: 'de' }, ['whisper-tiny.en']);
      expect(choice).toMatchObject({ ok: false, code: 'invalid_request' });
    }
  });

  test('a fallback inside the model tier carries a note', () => {
    // balanced without whisper-base falls back to whisper-tiny.en for English
    expect(chooseModel('standard', {}, ['whisper-tiny.en'])).toEqual(
      ok('whisper-tiny.en', 'balanced', 'whisper-base is not installed; using whisper-tiny.en'),
    );
  });

  test('nothing installed: 400', () => {
    for (const tier of ['free', 'standard', 'premium'] as const) {
      expect(chooseModel(tier, {}, [])).toMatchObject({ ok: false, code: 'invalid_request' });
    }
  });
});

describe('chooseModel, explicit model', () => {
  test('an installed model the tier may use is taken as asked', () => {
    expect(chooseModel('free', { model: 'whisper-tiny.en' }, SHIPPED)).toEqual(ok('whisper-tiny.en', 'economy'));
    expect(chooseModel('standard', { model: 'whisper-tiny.en' }, SHIPPED)).toEqual(ok('whisper-tiny.en', 'economy'));
    expect(chooseModel('standard', { model: 'whisper-base' }, SHIPPED)).toEqual(ok('whisper-base', 'balanced'));
    expect(chooseModel('premium', { model: 'whisper-base', language: 'de' }, SHIPPED)).toEqual(ok('whisper-base', 'balanced'));
    expect(chooseModel('premium', { model: 'whisper-large-v3', requireHighAccuracy: true }, ALL)).toEqual(
      ok('whisper-large-v3', 'quality'),
    );
  });

  test('an explicit model wins over requireHighAccuracy', () => {
    expect(chooseModel('premium', { model: 'whisper-tiny.en', requireHighAccuracy: true }, ALL)).toEqual(
      ok('whisper-tiny.en', 'economy'),
    );
  });

  test('a model of a model tier the tier may not use: 403 model_not_allowed', () => {
    for (const tier of ['free', 'standard'] as const) {
      for (const model of ['whisper-small', 'whisper-medium', 'whisper-large-v3']) {
        expect(chooseModel(tier, { model }, ALL)).toMatchObject({ ok: false, code: 'model_not_allowed' });
      }
    }
  });

  // whisper-base is economy's multilingual model (free users' non-English audio routes to it), so free
  // may name it too, and the job then runs in the economy tier, never in balanced.
  test('free asking whisper-base runs it as economy', () => {
    expect(chooseModel('free', { model: 'whisper-base' }, SHIPPED)).toMatchObject({
      ok: true,
      model: 'whisper-base',
      modelTier: 'economy',
    });
  });

  test('free asking a model of no economy tier: 403 model_not_allowed', () => {
    expect(chooseModel('free', { model: 'whisper-large-v3' }, ALL)).toMatchObject({
      ok: false,
      code: 'model_not_allowed',
    });
  });

  test('an accepted choice never has a model tier the tier may not use', () => {
    for (const tier of ['free', 'standard', 'premium'] as const) {
      for (const model of ALL) {
        const choice = chooseModel(tier, { model }, ALL);
        if (choice.ok) expect(MODEL_REGISTRY.tierModelTiers[tier]).toContain(choice.modelTier);
      }
    }
  });

  test('an English-only model with language de: 400 invalid_request, for every tier', () => {
    for (const tier of ['free', 'standard', 'premium'] as const) {
      const choice = chooseModel(tier, { model: 'whisper-tiny.en', language: 'de' }, SHIPPED);
      expect(choice).toMatchObject({ ok: false, code: 'invalid_request' });
      expect(!choice.ok && choice.message).toMatch(/English-only/);
    }
    // English, or no language, is fine
    expect(chooseModel('free', { model: 'whisper-tiny.en', language: 'en' }, SHIPPED)).toMatchObject({ ok: true });
    expect(chooseModel('free', { model: 'whisper-tiny.en', language: null }, SHIPPED)).toMatchObject({ ok: true });
  });

  test('a model that is not installed, or unknown: 400 invalid_request', () => {
    for (const tier of ['free', 'standard', 'premium'] as const) {
      for (const model of ['whisper-small', 'whisper-large-v3', 'no-such-model']) {
        const choice = chooseModel(tier, { model }, SHIPPED);
        expect(choice).toMatchObject({ ok: false, code: 'invalid_request' });
        expect(!choice.ok && choice.message).toContain('not installed');
      }
    }
  });
});

// openai/whisper tokenizer.py: a multilingual model has tokens for the first num_languages codes of LANGUAGES: 99
// up to large-v2, 100 from large-v3 (which adds yue, Cantonese). A job for yue on whisper-base was admitted and its
// every chunk failed inside the engine ("language 'yue' is not supported by this model"): 5 attempts, then the job
// failed as a 500 inference_failed "the model could not run on this worker".
describe('a language the model has no token for (yue before large-v3)', () => {
  test('named with the model: 400 invalid_request on the model field', () => {
    const choice = chooseModel('premium', { model: 'whisper-base', language: 'yue' }, SHIPPED);
    expect(choice).toMatchObject({ ok: false, code: 'invalid_request', field: 'model' });
    expect(!choice.ok && choice.message).toMatch(/whisper-base.*yue|yue.*whisper-base/);
  });
  test('routed: only a model that knows it (large-v3 where installed and allowed), else 400', () => {
    for (const tier of ['free', 'standard', 'premium'] as const) {
      // OpenAI's `param` names the field to change
      expect(chooseModel(tier, { language: 'yue' }, SHIPPED)).toMatchObject({ ok: false, code: 'invalid_request', field: 'language' });
    }
    expect(chooseModel('premium', { language: 'yue', requireHighAccuracy: true }, ALL)).toMatchObject({ ok: true, model: 'whisper-large-v3' });
    expect(chooseModel('premium', { model: 'whisper-large-v3', language: 'yue' }, ALL)).toMatchObject({ ok: true, model: 'whisper-large-v3' });
  });
  test('the 99 languages before it stay fine on whisper-base', () => {
    expect(chooseModel('premium', { model: 'whisper-base', language: 'su' }, SHIPPED)).toMatchObject({ ok: true });
    expect(chooseModel('premium', { language: 'haw' }, SHIPPED)).toMatchObject({ ok: true, model: 'whisper-base' });
  });
});
