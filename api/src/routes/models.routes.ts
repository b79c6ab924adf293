/**
 * GET /v1/models and GET /v1/models/:id: the models a /v1 caller may use on providers that have a
 * live worker now, in OpenAI's list shape, or Anthropic's when the request has an
 * `anthropic-version` header (as the Anthropic SDKs send).
 */
import { PROVIDERS, type Provider } from '@cli-bridge/shared';
import { Router, type Request } from 'express';
import type { AppDeps } from '../deps.js';
import { listModels, modelNotFound, routeModel, type ListedModel } from '../compat/models.js';
import { requireUserKey } from '../middleware/auth.js';

/** Models have no creation date here: the epoch stands for "unknown". */
const CREATED_AT = '1970-01-01T00:00:00Z';

const openaiModel = (m: ListedModel) => ({
  id: m.id,
  object: 'model' as const,
  created: 0,
  owned_by: m.provider,
});
const anthropicModel = (m: ListedModel) => ({
  type: 'model' as const,
  id: m.id,
  display_name: m.id,
  created_at: CREATED_AT,
});

export function modelsRoutes({ config, services }: AppDeps): Router {
  const r = Router();
  const auth = requireUserKey(services.auth);
  const anthropic = (req: Request) => req.get('anthropic-version') !== undefined;

  async function liveProviders(): Promise<Set<Provider>> {
    const counts = await Promise.all(PROVIDERS.map((p) => services.registry.liveCount(p)));
    return new Set(PROVIDERS.filter((_, i) => counts[i]! > 0));
  }

  r.get('/v1/models', auth, async (req, res) => {
    const models = listModels(config, services.pricing, await liveProviders());
    if (anthropic(req)) {
      res.json({
        data: models.map(anthropicModel),
        has_more: false,
        first_id: models[0]?.id ?? null,
        last_id: models.at(-1)?.id ?? null,
      });
    } else {
      res.json({ object: 'list', data: models.map(openaiModel) });
    }
  });

  r.get('/v1/models/:id', auth, async (req, res) => {
    const id = String(req.params.id);
    const { provider } = routeModel(id, config, services.pricing);
    if (!(await liveProviders()).has(provider)) throw modelNotFound(id);
    const m = { id, provider };
    res.json(anthropic(req) ? anthropicModel(m) : openaiModel(m));
  });
  return r;
}
