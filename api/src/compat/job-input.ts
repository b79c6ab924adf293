import type { ImageInput, OutputSpec } from '@cli-bridge/shared';
import type { Request, Response } from 'express';
import type { AppDeps } from '../deps.js';
import type { SubmitInput } from '../services/generate.service.js';
import type { RenderedConversation } from './conversation.js';
import { routeModel } from './models.js';
import { setRateLimitHeaders, type HeaderDialect } from './ratelimit-headers.js';

/** What a compatible request asks the CLI for: its two prompts, images, and the answer's form. */
export interface CompatRequest {
  conversation: RenderedConversation;
  /** The request's images, in order (see compat/content.ts). */
  images?: ImageInput[];
  /** Structured output (see compat/output-format.ts); absent = plain text. */
  output?: OutputSpec;
}

/**
 * The job a compatible request asks for, the same for every dialect: its model routed to a
 * provider (404 `model_not_found` otherwise), its conversation as the CLI's two prompts, and the
 * authenticated caller. Once admitted, the response gets the dialect's rate-limit headers.
 */
export function compatJobInput(
  { config, services }: Pick<AppDeps, 'config' | 'services'>,
  req: Request,
  res: Response,
  dialect: HeaderDialect,
  modelName: string,
  /** Read after the model is routed: an unknown model is reported first. */
  read: () => CompatRequest,
  stream: boolean,
): SubmitInput {
  const { provider, model } = routeModel(modelName, config, services.pricing);
  const { conversation, images, output } = read();
  return {
    provider,
    request: { ...conversation, model, stream },
    extras: { ...(images?.length ? { images } : {}), ...(output ? { output } : {}) },
    caller: { keyId: req.keyId!, keyName: req.keyName! },
    requestId: String(req.id),
    onAdmitted: ({ quota }) => setRateLimitHeaders(res, dialect, quota),
  };
}
