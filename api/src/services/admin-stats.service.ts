/**
 * GET /admin/stats: per-day requests, failures, tokens and cost, overall and per key, from the
 * rollup settlement writes. Keys are shown by their current name; a revoked key's jobs count in
 * the overall rows only.
 */
import { readStats, type RedisKeys, type StatsRow } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';

export function createAdminStats(deps: { redis: Redis; keys: RedisKeys; now?: () => number }) {
  const { redis, keys } = deps;
  const clock = deps.now ?? Date.now;
  return {
    /** The last `days` UTC days, oldest first, every day present; keys with a job in them. */
    async read(days: number): Promise<{ days: StatsRow[]; keys: Record<string, StatsRow[]> }> {
      const stats = await readStats(redis, keys, { days, now: clock() });
      const ids = [...stats.byKeyId.keys()];
      const names = ids.length ? await Promise.all(ids.map((id) => redis.hget(keys.apiKey(id), 'name'))) : [];
      const byName: Record<string, StatsRow[]> = {};
      ids.forEach((id, i) => {
        const name = names[i];
        if (name) byName[name] = stats.byKeyId.get(id)!;
      });
      return { days: stats.days, keys: byName };
    },
  };
}

export type AdminStats = ReturnType<typeof createAdminStats>;
