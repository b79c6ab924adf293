import type { Config, GenerateQueue, Logger, PricingStore, Provider, RedisKeys } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';
import type { ReplyChannel } from './job-waiters.js';

/** The clients `startApiServer` builds and every service may take a part of. */
export interface ApiClients {
  config: Config;
  logger: Logger;
  /** Fail-fast (`producer`) connection. */
  redis: Redis;
  keys: RedisKeys;
  queues: Record<Provider, GenerateQueue>;
  pricing: PricingStore;
  /** A new blocking-capable connection, for one SSE stream. */
  blockingClient: () => Redis;
  /** This process's reply channel for sync jobs and its own subscriber connection (job-waiters.ts). */
  replies: ReplyChannel;
}
