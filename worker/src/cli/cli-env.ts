/**
 * The environment a CLI gets: only what it needs to run and log in, never the bridge's secrets.
 */

/** Variables with these prefixes belong to the CLIs (their API endpoints, keys and settings). */
const CLI_ENV_PREFIXES = ['ANTHROPIC_', 'CLAUDE_', 'OPENAI_', 'CODEX_'] as const;

const ALWAYS = ['PATH', 'HOME', 'LANG', 'LANGUAGE'] as const;

/** Never passed on, even when listed in CLI_ENV_PASSTHROUGH. */
const DENIED = /^(BRIDGE_ADMIN_KEY|REDIS_URL|REDIS_.*|METRICS_TOKEN|NODE_OPTIONS|NODE_EXTRA_CA_CERTS)$/;

export interface CliEnvOptions {
  /** The worker's own environment. */
  base: Record<string, string | undefined>;
  /** Extra variable names to copy (CLI_ENV_PASSTHROUGH). */
  passthrough: readonly string[];
  /** Provider-specific settings, applied last. */
  extra?: Record<string, string>;
}

export function buildCliEnv(opts: CliEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.base)) {
    if (value === undefined || DENIED.test(name)) continue;
    const keep =
      (ALWAYS as readonly string[]).includes(name) ||
      name.startsWith('LC_') ||
      CLI_ENV_PREFIXES.some((p) => name.startsWith(p)) ||
      opts.passthrough.includes(name);
    if (keep) env[name] = value;
  }
  // Reset times in CLI messages are read as UTC.
  env.TZ = 'UTC';
  return { ...env, ...opts.extra };
}
