import { PROVIDERS, type Holds, type Provider, type WorkerRegistry } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';

export interface ProviderReadiness {
  /** Live workers serving the provider. */
  workers: number;
  /** A generate request for it would be served now: a worker is live and not every account is held. */
  ready: boolean;
  /** Set while every account of the provider is held: when the first hold ends (ISO time). */
  held_until?: string;
}

export interface Readiness {
  status: 'ok' | 'unavailable';
  redis: 'up' | 'down';
  /** Each provider's state (empty when Redis is down). */
  providers: Partial<Record<Provider, ProviderReadiness>>;
}

export function createHealthService(deps: { redis: Redis; registry: WorkerRegistry; holds: Holds }) {
  return {
    /** `ok` while Redis answers; each provider says whether it can serve right now. */
    async readiness(): Promise<Readiness> {
      try {
        await deps.redis.ping();
        const [live, exhausted] = await Promise.all([
          deps.registry.liveProviders(),
          Promise.all(PROVIDERS.map((p) => deps.holds.exhausted(p))),
        ]);
        const providers: Readiness['providers'] = {};
        PROVIDERS.forEach((p, i) => {
          const held = exhausted[i];
          const state: ProviderReadiness = { workers: live[p], ready: live[p] > 0 && !held };
          if (held) state.held_until = new Date(held.until).toISOString();
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
