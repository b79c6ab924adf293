import type { Provider, WorkerRegistry } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';

export interface Readiness {
  status: 'ok' | 'unavailable';
  redis: 'up' | 'down';
  /** Live workers per provider (empty when Redis is down). */
  providers: Partial<Record<Provider, { workers: number }>>;
}

export function createHealthService(deps: { redis: Redis; registry: WorkerRegistry }) {
  return {
    async readiness(): Promise<Readiness> {
      try {
        await deps.redis.ping();
        const live = await deps.registry.liveProviders();
        const providers = Object.fromEntries(Object.entries(live).map(([p, n]) => [p, { workers: n }]));
        return { status: 'ok', redis: 'up', providers };
      } catch {
        return { status: 'unavailable', redis: 'down', providers: {} };
      }
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
