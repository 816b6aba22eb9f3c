/** `GET /v1/models`: installed models in OpenAI's list shape, with the caller's tier's access. */
import { Router, type Request, type Response } from 'express';
import { MODEL_REGISTRY } from '../../common/routing';
import { principalOf } from '../auth';
import type { ApiDeps } from '../app';

/** OpenAI's model objects carry a creation time; ours is fixed, the models being files, not releases. */
const CREATED = 1_700_000_000;

export function modelsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/v1/models', (req: Request, res: Response) => {
    const me = principalOf(req);
    const allowedTiers = MODEL_REGISTRY.tierModelTiers[me.tier];
    res.json({
      object: 'list',
      data: deps.installedModels.map((id) => ({
        id,
        object: 'model',
        created: CREATED,
        owned_by: 'fairscribe',
        // extensions beside OpenAI's fields
        multilingual: MODEL_REGISTRY.models[id]?.multilingual ?? false,
        allowed: allowedTiers.some((t) => MODEL_REGISTRY.tiers[t].includes(id)),
      })),
    });
  });
  return r;
}
