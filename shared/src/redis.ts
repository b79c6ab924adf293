import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

/**
 * - `producer`: API-side commands. Fails fast while Redis is unreachable (no offline queue, one
 *   retry) so a request answers 503 at once instead of hanging.
 * - `worker`: BullMQ workers. Retries forever (BullMQ requires `maxRetriesPerRequest: null`).
 * - `subscriber`: blocking reads (QueueEvents, XREAD). Same retry policy as `worker`.
 */
export type RedisRole = 'producer' | 'worker' | 'subscriber';

/** Where Redis is: a URL, or Sentinel (the URL then gives only the password and database). */
export interface RedisTarget {
  url: string;
  /** Sentinels to ask for the master (REDIS_SENTINELS); empty or absent = connect to `url`. */
  sentinels?: { host: string; port: number }[];
  /** The master's name at the sentinels (REDIS_SENTINEL_NAME). */
  sentinelName?: string;
}

/** The Redis target of a process's config. */
export function redisTarget(
  config: Pick<Config, 'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_SENTINEL_NAME'>,
): RedisTarget {
  return {
    url: config.REDIS_URL,
    sentinels: config.REDIS_SENTINELS,
    sentinelName: config.REDIS_SENTINEL_NAME,
  };
}

export interface CreateRedisOptions extends RedisTarget {
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
  if (opts.sentinels?.length) {
    options.sentinels = opts.sentinels;
    options.name = opts.sentinelName;
    // Hear a failover from the sentinels at once instead of when the old master drops us.
    options.failoverDetector = true;
    // A write refused by the old master (a replica now: READONLY; or fenced off once its replica
    // left, with min-replicas-to-write: NOREPLICAS): reconnect, asking the sentinels for the
    // master again, and send it again. The refused command wrote nothing.
    options.reconnectOnError = (err) => (/^(READONLY|NOREPLICAS) /.test(err.message) ? 2 : false);
  }
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
