import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

/**
 * - `producer`: API-side commands. Fails fast while Redis is unreachable (no offline queue, one
 *   retry) so a request answers 503 at once instead of hanging.
 * - `worker`: BullMQ workers. Retries forever (BullMQ requires `maxRetriesPerRequest: null`).
 * - `subscriber`: blocking reads (QueueEvents, XREAD). Same retry policy as `worker`.
 */
export type RedisRole = 'producer' | 'worker' | 'subscriber';

export interface CreateRedisOptions {
  url: string;
  role: RedisRole;
  /** Shows in `CLIENT LIST` as `cli-bridge:<prefix>:<name>:<role>`. */
  name: string;
  /** REDIS_PREFIX, so the clients of several installs (or test files) on one server tell apart. */
  prefix: string;
  logger: Logger;
}

/** Minimum gap between two logged connection errors of one client (ms). */
const ERROR_LOG_INTERVAL_MS = 10_000;

/** The one Redis client factory. Every client gets an `error` listener and a connection name. */
export function createRedis(opts: CreateRedisOptions): Redis {
  const failFast = opts.role === 'producer';
  const options: RedisOptions = {
    connectionName: `cli-bridge:${opts.prefix}:${opts.name}:${opts.role}`,
    connectTimeout: 2_000,
    enableOfflineQueue: !failFast,
    maxRetriesPerRequest: failFast ? 1 : null,
    // Keep reconnecting in the background whatever the role; back off to 2 s.
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    lazyConnect: false,
  };
  const client = new Redis(opts.url, options);
  const log = opts.logger.child({
    component: 'redis',
    role: opts.role,
    client: opts.name,
  });
  let lastLogged = 0;
  client.on('error', (err: Error) => {
    const now = Date.now();
    if (now - lastLogged < ERROR_LOG_INTERVAL_MS) return;
    lastLogged = now;
    log.warn({ err }, 'redis connection error');
  });
  return client;
}

/** Quits gracefully, disconnecting hard if Redis does not answer; never throws. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  try {
    if (client.status === 'ready') {
      await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    }
  } catch {
    // fall through to disconnect
  }
  client.disconnect();
}

/**
 * Resolves once `client` is connected (now or later). With `timeoutMs`, rejects after it; without,
 * waits as long as it takes (workers: Redis may come up after them).
 */
export function redisReady(client: Redis, timeoutMs?: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        client.off('ready', onReady);
        reject(new Error(`Redis not ready after ${timeoutMs} ms`));
      }, timeoutMs);
    }
  });
}
