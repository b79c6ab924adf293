import { PROVIDERS, type GenerateQueue, type Provider, type WorkerRegistry } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';

export interface ProviderReadiness {
  /** Live workers serving the provider. */
  workers: number;
  /** A generate request for it would be served now: a worker is live and it is not on hold. */
  ready: boolean;
  /** Set while the subscription's usage limit holds its queue: when the hold ends (ISO time). */
  held_until?: string;
}

export interface Readiness {
  status: 'ok' | 'unavailable';
  redis: 'up' | 'down';
  /** Each provider's state (empty when Redis is down). */
  providers: Partial<Record<Provider, ProviderReadiness>>;
}

export function createHealthService(deps: {
  redis: Redis;
  registry: WorkerRegistry;
  queues: Record<Provider, GenerateQueue>;
}) {
  return {
    /** `ok` while Redis answers; each provider says whether it can serve right now. */
    async readiness(): Promise<Readiness> {
      try {
        await deps.redis.ping();
        const [live, holds] = await Promise.all([
          deps.registry.liveProviders(),
          Promise.all(PROVIDERS.map((p) => deps.queues[p].getRateLimitTtl())),
        ]);
        const now = Date.now();
        const providers: Readiness['providers'] = {};
        PROVIDERS.forEach((p, i) => {
          const heldMs = holds[i]!;
          const state: ProviderReadiness = { workers: live[p], ready: live[p] > 0 && heldMs <= 0 };
          if (heldMs > 0) state.held_until = new Date(now + heldMs).toISOString();
          providers[p] = state;
        });
        return { status: 'ok', redis: 'up', providers };
      } catch {
        return { status: 'unavailable', redis: 'down', providers: {} };
      }
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
