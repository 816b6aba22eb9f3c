/**
 * Model routing by spoken language (issue #6 "Model routing"): inside a model tier, English
 * audio may use an English-only model (smaller and more accurate on English for its size) and other
 * languages need a multilingual one. When the caller names neither a language nor a model, a
 * `detectLanguage` step on the first window, with a multilingual model, decides before transcription.
 * Pure; the registry is config/models.json.
 */
import { MODEL_REGISTRY, type ModelRequest } from './routing';
import type { ModelTier } from './constants';

/** What the workflow needs to route by the detected language: model ids only (deterministic). */
export interface LanguageRouting {
  /** multilingual model that detects the language on the first window */
  detectModel: string;
  /** the model for English audio (the tier's English-only choice) */
  englishModel: string;
  /** the model for any other language */
  otherModel: string;
}

/**
 * Whether a job needs the detection step, and its models: only when the caller gave no `language` and
 * no `model`, the task is transcription, the routed model is English-only, and the same model tier has
 * an installed multilingual model. Otherwise null: the routed model serves the job as it is (a
 * multilingual model detects the language itself on its first window).
 * @param routed the model chooseModel picked for the request, and its model tier
 */
export function languageRoutingFor(
  req: ModelRequest,
  routed: { model: string; modelTier: ModelTier },
  installed: readonly string[],
): LanguageRouting | null {
  if (req.model || req.language || req.task === 'translate') return null;
  if (MODEL_REGISTRY.models[routed.model]?.multilingual !== false) return null;
  const other = MODEL_REGISTRY.tiers[routed.modelTier].find((m) => installed.includes(m) && MODEL_REGISTRY.models[m]?.multilingual);
  if (!other) return null;
  return { detectModel: other, englishModel: routed.model, otherModel: other };
}

/** The model for a detected language (ISO 639-1). */
export function modelForLanguage(routing: LanguageRouting, language: string): string {
  return language === 'en' ? routing.englishModel : routing.otherModel;
}
