/**
 * Which providers this worker serves, and how: the CLIs found on this box (or named by
 * WORKER_PROVIDERS), their `--version`, and the adapter that runs and reads each.
 */
import { execFile } from 'node:child_process';
import { PROVIDERS, resolveBin, type Config, type PricingStore, type Provider } from '@cli-bridge/shared';
import type { CliAdapter } from './cli/adapter.js';
import { createClaudeAdapter } from './cli/claude.adapter.js';
import { createCodexAdapter } from './cli/codex.adapter.js';

/** The configured executable of a provider's CLI (a name looked up on PATH, or a path). */
export function cliBin(provider: Provider, config: Pick<Config, 'CLAUDE_BIN' | 'CODEX_BIN'>): string {
  return provider === 'claude' ? config.CLAUDE_BIN : config.CODEX_BIN;
}

/** Why a worker cannot start: a named CLI is missing, or no CLI is there at all. */
export class ProviderDetectionError extends Error {
  override name = 'ProviderDetectionError';
  constructor(
    message: string,
    /** No CLI at all (as opposed to one of those WORKER_PROVIDERS names missing). */
    readonly noneFound: boolean,
  ) {
    super(message);
  }
}

/**
 * The providers to serve: WORKER_PROVIDERS, or every provider whose CLI is found on `pathEnv`.
 * Throws ProviderDetectionError when a listed CLI is missing or none is found.
 */
export function detectProviders(
  config: Pick<Config, 'CLAUDE_BIN' | 'CODEX_BIN' | 'WORKER_PROVIDERS'>,
  pathEnv: string | undefined,
): Provider[] {
  const found = PROVIDERS.filter((p) => resolveBin(cliBin(p, config), pathEnv) !== undefined);
  const providers = config.WORKER_PROVIDERS ?? found;
  const missing = providers.filter((p) => !found.includes(p));
  if (missing.length > 0) {
    throw new ProviderDetectionError(
      `CLI not found for ${missing.join(', ')}: install it or set CLAUDE_BIN / CODEX_BIN`,
      false,
    );
  }
  if (providers.length === 0) {
    throw new ProviderDetectionError(
      'no CLI found: install claude and/or codex, or set CLAUDE_BIN / CODEX_BIN',
      true,
    );
  }
  return providers;
}

/** First line of `<bin> --version`, or null if it does not answer within 10 s. */
export function cliVersion(bin: string, env: Record<string, string>): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(bin, ['--version'], { timeout: 10_000, env, maxBuffer: 64 * 1024 }, (err, stdout) => {
      if (err) return resolve(null);
      resolve(stdout.trim().split('\n')[0]?.slice(0, 200) || null);
    });
  });
}

/** The adapters for the providers this worker serves, with their configured binaries. */
export function createAdapters(
  providers: readonly Provider[],
  config: Config,
  pricing: PricingStore,
): Partial<Record<Provider, CliAdapter>> {
  const out: Partial<Record<Provider, CliAdapter>> = {};
  for (const p of providers) {
    out[p] =
      p === 'claude'
        ? createClaudeAdapter({
            bin: config.CLAUDE_BIN,
            timeoutMs: config.CLAUDE_TIMEOUT_MS,
            maxBufferBytes: config.CLAUDE_MAX_BUFFER_BYTES,
            maxRetries: config.CLAUDE_CODE_MAX_RETRIES,
          })
        : createCodexAdapter({
            bin: config.CODEX_BIN,
            timeoutMs: config.CODEX_TIMEOUT_MS,
            maxBufferBytes: config.CODEX_MAX_BUFFER_BYTES,
            pricing,
          });
  }
  return out;
}
