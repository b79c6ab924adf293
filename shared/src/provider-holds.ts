/**
 * Whether a provider's subscription is on hold (its usage limit reached) and until when: read in
 * this one place for `/metrics`, so a change in how holds are kept changes one function.
 *
 * Today a hold is the provider's BullMQ queue rate limit (set by the worker that met the limit,
 * see `holdQueue` in worker/src/bridge-worker.ts), one per provider, reported as account
 * `default`.
 */
import type { Provider } from './providers.js';
import { PROVIDERS } from './providers.js';
import type { GenerateQueue } from './queue.js';

export interface ProviderHold {
  provider: Provider;
  /** The logged-in account the hold applies to. */
  account: string;
  /** How long the hold still lasts (ms; 0 = not held). */
  heldMs: number;
}

export async function readProviderHolds(queues: Record<Provider, GenerateQueue>): Promise<ProviderHold[]> {
  return Promise.all(
    PROVIDERS.map(async (provider) => ({
      provider,
      account: 'default',
      heldMs: Math.max(0, await queues[provider].getRateLimitTtl()),
    })),
  );
}
