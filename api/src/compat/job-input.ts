import type { Request } from 'express';
import type { AppDeps } from '../deps.js';
import type { SubmitInput } from '../services/generate.service.js';
import type { RenderedConversation } from './conversation.js';
import { routeModel } from './models.js';

/**
 * The job a compatible request asks for, the same for every dialect: its model routed to a
 * provider (404 `model_not_found` otherwise), its conversation as the CLI's two prompts, and the
 * authenticated caller.
 */
export function compatJobInput(
  { config, services }: Pick<AppDeps, 'config' | 'services'>,
  req: Request,
  modelName: string,
  /** Rendered after the model is routed: an unknown model is reported first. */
  render: () => RenderedConversation,
  stream: boolean,
): SubmitInput {
  const { provider, model } = routeModel(modelName, config, services.pricing);
  return {
    provider,
    request: { ...render(), model, stream },
    caller: { keyId: req.keyId!, keyName: req.keyName! },
    requestId: String(req.id),
  };
}
