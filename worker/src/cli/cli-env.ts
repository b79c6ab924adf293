/**
 * The environment a CLI gets: only what it needs to run and log in, never the bridge's secrets,
 * and never the other provider's settings (OPENAI_API_KEY does not reach claude, ANTHROPIC_*
 * does not reach codex).
 */
import type { Provider } from '@cli-bridge/shared';

/** Variables with these prefixes belong to that provider's CLI (its endpoint, key, settings). */
export const CLI_ENV_PREFIXES: Readonly<Record<Provider, readonly string[]>> = {
  claude: ['ANTHROPIC_', 'CLAUDE_'],
  codex: ['OPENAI_', 'CODEX_'],
};

const ALWAYS = ['PATH', 'HOME', 'LANG', 'LANGUAGE'] as const;

/** Never passed on, even when listed in CLI_ENV_PASSTHROUGH. */
const DENIED = /^(BRIDGE_ADMIN_KEY|REDIS_URL|REDIS_.*|METRICS_TOKEN|NODE_OPTIONS|NODE_EXTRA_CA_CERTS)$/;

export interface CliEnvOptions {
  /** The CLI the environment is for: only its provider's prefixes are passed. */
  provider: Provider;
  /** The worker's own environment. */
  base: Record<string, string | undefined>;
  /** Extra variable names to copy (CLI_ENV_PASSTHROUGH), whatever the provider. */
  passthrough: readonly string[];
  /** Provider-specific settings, applied last. */
  extra?: Record<string, string>;
}

export function buildCliEnv(opts: CliEnvOptions): Record<string, string> {
  const prefixes = CLI_ENV_PREFIXES[opts.provider];
  if (!prefixes) throw new Error(`buildCliEnv: unknown provider ${String(opts.provider)}`);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.base)) {
    if (value === undefined || DENIED.test(name)) continue;
    const keep =
      (ALWAYS as readonly string[]).includes(name) ||
      name.startsWith('LC_') ||
      prefixes.some((p) => name.startsWith(p)) ||
      opts.passthrough.includes(name);
    if (keep) env[name] = value;
  }
  // Reset times in CLI messages are read as UTC.
  env.TZ = 'UTC';
  return { ...env, ...opts.extra };
}
