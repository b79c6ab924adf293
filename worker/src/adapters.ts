import type { Config, PricingStore, Provider } from '@cli-bridge/shared';
import type { CliAdapter } from './cli/adapter.js';
import { createClaudeAdapter } from './cli/claude.adapter.js';
import { createCodexAdapter } from './cli/codex.adapter.js';

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
