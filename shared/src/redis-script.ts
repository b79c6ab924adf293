import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type RedisScript = (keys: string[], args: (string | number)[]) => Promise<unknown>;

/**
 * A Lua script run by its SHA (EVALSHA), loaded on first use and again after a server restart
 * (NOSCRIPT), so the script text crosses the wire once, not on every call.
 */
export function redisScript(redis: Redis, lua: string): RedisScript {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(lua, keys.length, ...keys, ...args);
    }
  };
}
