/**
 * `GET /v1/models` and `GET /v1/models/:id`: installed models in OpenAI's shapes, with the caller's
 * tier's access. `whisper-1` (OpenAI's model name, which its clients send) is listed as an alias of the
 * caller's tier default, so code written for OpenAI finds the model it names.
 */
import { Router, type Request, type Response } from 'express';
import type { Tier } from '../../common/constants';
import { chooseModel, MODEL_REGISTRY } from '../../common/routing';
import { principalOf } from '../auth';
import type { ApiDeps } from '../app';
import { ApiError } from '../errors';

/** OpenAI's model objects carry a creation time; ours is fixed, the models being files, not releases. */
const CREATED = 1_700_000_000;
/** OpenAI's own model name: what `POST /v1/audio/*` routes to the tier's default model. */
export const OPENAI_MODEL_ALIAS = 'whisper-1';

/**
 * Request fields with `whisper-1` read as no model named: the alias stands for the caller's tier default (GET
 * /v1/models lists it with `aliasOf`), which is what routing picks when no model is named, so a native request
 * naming it is routed exactly as the OpenAI routes route it (their `model` field).
 */
export function withoutModelAlias<T extends { model?: string }>(fields: T): T {
  return fields.model === OPENAI_MODEL_ALIAS ? { ...fields, model: undefined } : fields;
}

/** The models a caller of `tier` sees, in OpenAI's model shape plus our extensions. */
function modelsFor(tier: Tier, installed: readonly string[]) {
  const allowedTiers = MODEL_REGISTRY.tierModelTiers[tier];
  const entry = (id: string, info: { multilingual: boolean; allowed: boolean; aliasOf?: string }) => ({
    id,
    object: 'model' as const,
    created: CREATED,
    owned_by: 'fairscribe',
    // extensions beside OpenAI's fields
    ...info,
  });
  const models = installed.map((id) =>
    entry(id, {
      multilingual: MODEL_REGISTRY.models[id]?.multilingual ?? false,
      allowed: allowedTiers.some((t) => MODEL_REGISTRY.tiers[t].includes(id)),
    }),
  );
  const byDefault = chooseModel(tier, {}, installed);
  if (byDefault.ok) {
    models.push(entry(OPENAI_MODEL_ALIAS, { multilingual: MODEL_REGISTRY.models[byDefault.model]?.multilingual ?? false, allowed: true, aliasOf: byDefault.model }));
  }
  return models;
}

export function modelsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/v1/models', (req: Request, res: Response) => {
    res.json({ object: 'list', data: modelsFor(principalOf(req).tier, deps.installedModels) });
  });
  r.get('/v1/models/:id', (req: Request, res: Response) => {
    const id = String(req.params.id);
    const model = modelsFor(principalOf(req).tier, deps.installedModels).find((m) => m.id === id);
    if (!model) throw new ApiError(404, 'not_found', `The model '${id}' does not exist; see GET /v1/models`, { param: 'model' });
    res.json(model);
  });
  return r;
}
