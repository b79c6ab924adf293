import type { Config, Logger } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';
import type { ApiServices } from './services/index.js';

/** What `createApp` and every route file receive. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  services: ApiServices;
  /** Fail-fast connection for the rate limiters' counters. */
  redis: Redis;
  /** The built dashboard (index.html and assets/), served at /dashboard; default: dashboard/dist. */
  dashboardDir?: string;
}
