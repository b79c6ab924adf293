import { BridgeError, type Config, type PricingStore, type Provider } from '@cli-bridge/shared';

/** `*` at the end of an allowlist entry matches any suffix (`claude-*`). */
function matchesAllowlist(model: string, allow: readonly string[]): boolean {
  return allow.some((a) => (a.endsWith('*') ? model.startsWith(a.slice(0, -1)) : model === a));
}

/**
 * The model a request runs on: the one asked for, or the provider's default; refused with 400
 * when not on the allowlist, or (Codex) when the pricing table has no price for it, so that no
 * run is ever charged $0.
 */
export function resolveModel(
  provider: Provider,
  requested: string | undefined,
  config: Pick<Config, 'CLAUDE_DEFAULT_MODEL' | 'CLAUDE_MODELS' | 'CODEX_DEFAULT_MODEL' | 'CODEX_MODELS'>,
  pricing: PricingStore,
): string {
  const model =
    requested ?? (provider === 'claude' ? config.CLAUDE_DEFAULT_MODEL : config.CODEX_DEFAULT_MODEL);
  const allow = provider === 'claude' ? config.CLAUDE_MODELS : config.CODEX_MODELS;
  // The default model is always allowed: it is the operator's own choice.
  if (requested !== undefined && !matchesAllowlist(model, allow)) {
    throw new BridgeError('invalid_request', `model "${model}" is not allowed for ${provider}`, {
      details: { field: 'model' },
    });
  }
  if (provider === 'codex' && pricing.get(model) === undefined) {
    throw new BridgeError('invalid_request', `model "${model}" has no price in the Codex pricing table`, {
      details: { field: 'model' },
    });
  }
  return model;
}
