import {
  createWorkerRegistry,
  type Config,
  type GenerateQueue,
  type Logger,
  type PricingStore,
  type Provider,
  type QueueEvents,
  type RedisKeys,
} from '@cli-bridge/shared';
import type { Redis } from 'ioredis';
import { createGenerateService } from './generate.service.js';
import { createHealthService } from './health.service.js';
import { createKeyStore } from './key-store.js';

export interface ApiClients {
  config: Config;
  logger: Logger;
  /** Fail-fast (`producer`) connection. */
  redis: Redis;
  keys: RedisKeys;
  queues: Record<Provider, GenerateQueue>;
  queueEvents: Record<Provider, QueueEvents>;
  pricing: PricingStore;
}

/** Builds the API's services from its clients: the one place they are wired together. */
export function createApiServices(c: ApiClients) {
  const registry = createWorkerRegistry({
    redis: c.redis,
    keys: c.keys,
    heartbeatMs: c.config.WORKER_HEARTBEAT_MS,
  });
  return {
    keyStore: createKeyStore({ redis: c.redis, keys: c.keys }),
    generate: createGenerateService({ ...c, registry }),
    health: createHealthService({ redis: c.redis, registry }),
    registry,
  };
}

export type ApiServices = ReturnType<typeof createApiServices>;
