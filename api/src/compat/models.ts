/**
 * Model routing of the OpenAI- and Anthropic-compatible API: the model name picks the provider.
 * MODEL_ALIASES first (`name=provider:model`), then the families: `claude-*`, `sonnet`, `opus`,
 * `haiku` → claude; `gpt-*`, `codex-*`, `o3*`, `o4*` → codex. The provider's allowlist (and, for
 * Codex, the pricing table) still applies. Anything else is 404 `model_not_found`.
 */
import {
  BridgeError,
  MODEL_NAME,
  PROVIDERS,
  type Config,
  type ModelRoute,
  type PricingStore,
  type Provider,
} from '@cli-bridge/shared';
import { resolveModel } from '../services/model-policy.js';

type ModelConfig = Pick<
  Config,
  'MODEL_ALIASES' | 'CLAUDE_DEFAULT_MODEL' | 'CLAUDE_MODELS' | 'CODEX_DEFAULT_MODEL' | 'CODEX_MODELS'
>;

const CLAUDE_FAMILY = /^(claude-.+|sonnet|opus|haiku)$/;
const CODEX_FAMILY = /^(gpt-.+|codex-.+|o3.*|o4.*)$/;

export function modelNotFound(name: string): BridgeError {
  return new BridgeError(
    'not_found',
    `The model \`${name}\` does not exist or you do not have access to it.`,
    {
      details: { code: 'model_not_found', param: 'model' },
    },
  );
}

/** The provider and CLI model of a /v1 model name; 404 `model_not_found` when none serves it. */
export function routeModel(name: string, config: ModelConfig, pricing: PricingStore): ModelRoute {
  if (!MODEL_NAME.test(name)) throw modelNotFound(name);
  const alias = Object.hasOwn(config.MODEL_ALIASES, name) ? config.MODEL_ALIASES[name] : undefined;
  const route: ModelRoute | undefined =
    alias ??
    (CLAUDE_FAMILY.test(name)
      ? { provider: 'claude', model: name }
      : CODEX_FAMILY.test(name)
        ? { provider: 'codex', model: name }
        : undefined);
  if (!route) throw modelNotFound(name);
  try {
    resolveModel(route.provider, route.model, config, pricing);
  } catch (err) {
    // Not on the allowlist, or (Codex) no price: not a model this bridge offers.
    if (err instanceof BridgeError && err.type === 'invalid_request') throw modelNotFound(name);
    throw err;
  }
  return route;
}

export interface ListedModel {
  id: string;
  provider: Provider;
}

/**
 * The model names a /v1 caller may use on the providers in `live`: the aliases, the allowlists'
 * exact names, the default models and (Codex) the priced models, each only when it routes.
 */
export function listModels(
  config: ModelConfig,
  pricing: PricingStore,
  live: ReadonlySet<Provider>,
): ListedModel[] {
  const names = new Set<string>([
    ...Object.keys(config.MODEL_ALIASES),
    ...[...config.CLAUDE_MODELS, ...config.CODEX_MODELS].filter((m) => !m.endsWith('*')),
    config.CLAUDE_DEFAULT_MODEL,
    config.CODEX_DEFAULT_MODEL,
    ...pricing.models(),
  ]);
  const out: ListedModel[] = [];
  for (const id of names) {
    let provider: Provider;
    try {
      provider = routeModel(id, config, pricing).provider;
    } catch {
      continue;
    }
    if (live.has(provider)) out.push({ id, provider });
  }
  return out.sort(
    (a, b) => PROVIDERS.indexOf(a.provider) - PROVIDERS.indexOf(b.provider) || a.id.localeCompare(b.id),
  );
}
