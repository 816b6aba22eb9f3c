/**
 * Model routing (README "Quotas and tiers", config/models.json): which model tier and model folder serve a request. Pure; the registry is
 * config/models.json.
 */
import registry from '../config/models.json';
import type { ModelTier, Tier } from './constants';
import { WHISPER_LANGUAGES } from './languages';

export interface ModelInfo {
  multilingual: boolean;
  maxBatch: number;
  /** CPU graphs when WHISPER_CPU_PRECISION is unset (engine/precision.ts defaultCpuPrecision); absent = int8 */
  cpuPrecision?: string;
  /**
   * openai/whisper tokenizer.py `num_languages`: a multilingual model has language tokens for the first this many
   * codes of LANGUAGES (common/languages.ts, same order); absent = 99 (every model up to large-v2), 100 from large-v3
   * (adds yue)
   */
  languages?: number;
}

/** Up to large-v2: LANGUAGES' first 99 codes (openai/whisper tokenizer.py get_tokenizer's num_languages default). */
const DEFAULT_NUM_LANGUAGES = 99;
const LANGUAGE_ORDER = Object.keys(WHISPER_LANGUAGES);

/**
 * Whether `model` can be told `language` (null: detect). An English-only model knows English only; a multilingual
 * one the first `languages` codes of Whisper's list: whisper-base has no `<|yue|>` token, and openai's
 * `to_language_token('yue')` raises for it as our engine's prompt does.
 */
export function modelKnowsLanguage(model: string, language: string | null): boolean {
  if (language === null) return true;
  const info = MODEL_REGISTRY.models[model];
  if (!info?.multilingual) return language === 'en';
  const at = LANGUAGE_ORDER.indexOf(language);
  return at >= 0 && at < (info.languages ?? DEFAULT_NUM_LANGUAGES);
}

export const MODEL_REGISTRY: {
  tiers: Record<ModelTier, string[]>;
  models: Record<string, ModelInfo>;
  tierModelTiers: Record<Tier, ModelTier[]>;
} = registry as never;

export interface ModelRequest {
  /** an explicit model id, or undefined to route */
  model?: string;
  language?: string | null;
  requireHighAccuracy?: boolean;
  /** translate needs a multilingual model */
  task?: 'transcribe' | 'translate';
}

export type ModelChoice =
  | { ok: true; model: string; modelTier: ModelTier; note: string | null }
  | { ok: false; code: 'invalid_request' | 'model_not_allowed'; message: string; field?: 'model' | 'language' };

/**
 * free → economy; `requireHighAccuracy` (where the tier allows) → quality; else balanced. Inside the
 * model tier, the first installed model that can handle the language (English-only models only for
 * English or unspecified language). An explicit `model` must be installed and allowed for the tier.
 */
export function chooseModel(tier: Tier, req: ModelRequest, installed: readonly string[]): ModelChoice {
  const allowed = MODEL_REGISTRY.tierModelTiers[tier];
  const language = req.language ?? null;
  // English-only models serve English (or unspecified) transcription, never translation.
  const englishOk = (language === null || language === 'en') && req.task !== 'translate';
  if (req.model) {
    const info = MODEL_REGISTRY.models[req.model];
    if (!info || !installed.includes(req.model)) {
      return { ok: false, code: 'invalid_request', message: `model '${req.model}' is not installed; see GET /v1/models`, field: 'model' };
    }
    const modelTier = allowed.find((t) => MODEL_REGISTRY.tiers[t].includes(req.model!));
    if (!modelTier) {
      return { ok: false, code: 'model_not_allowed', message: `the ${tier} tier may not use model '${req.model}'`, field: 'model' };
    }
    if (!info.multilingual && !englishOk) {
      return {
        ok: false,
        code: 'invalid_request',
        field: 'model',
        message:
          req.task === 'translate'
            ? `model '${req.model}' is English-only and cannot translate; use a multilingual model (see GET /v1/models)`
            : `model '${req.model}' is English-only and cannot transcribe language '${language}'`,
      };
    }
    if (info.multilingual && !modelKnowsLanguage(req.model, language)) {
      return {
        ok: false,
        code: 'invalid_request',
        field: 'model',
        message: `model '${req.model}' has no token for language '${language}' (${WHISPER_LANGUAGES[language!] ?? language}); see GET /v1/models for another model, or leave language out to detect it`,
      };
    }
    // Report the allowed tier the model is the first choice of (whisper-base: balanced), else the first allowed one.
    const primary = allowed.find((t) => MODEL_REGISTRY.tiers[t][0] === req.model);
    return { ok: true, model: req.model, modelTier: primary ?? modelTier, note: null };
  }
  let wanted: ModelTier = tier === 'free' ? 'economy' : req.requireHighAccuracy ? 'quality' : 'balanced';
  if (!allowed.includes(wanted)) wanted = allowed[allowed.length - 1];
  const fits = (m: string) =>
    installed.includes(m) && (englishOk || (!!MODEL_REGISTRY.models[m]?.multilingual && modelKnowsLanguage(m, language)));
  const candidates = MODEL_REGISTRY.tiers[wanted];
  const model = candidates.find(fits);
  if (model) {
    // A request the tier cannot honour is served, not refused (API.md: "quality model tier where the tier
    // allows"), but the job says so instead of leaving the caller to guess from `model`.
    const note = req.requireHighAccuracy && !allowed.includes('quality')
      ? `requireHighAccuracy asks for the quality model tier, which the ${tier} tier may not use; using ${model}`
      : installed.includes(candidates[0])
        ? null
        : `${candidates[0]} is not installed; using ${model}`;
    return { ok: true, model, modelTier: wanted, note };
  }
  return {
    ok: false,
    code: 'invalid_request',
    message: `no installed model of the ${wanted} tier can transcribe language '${language}'`,
    field: 'language',
  };
}
