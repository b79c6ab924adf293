import type { Redis } from 'ioredis';
import { microsToUsd } from '../jobs.js';
import type { RedisKeys } from '../redis-keys.js';
import type { LogEntryInput } from './settlement.js';

export interface LogEntry extends LogEntryInput {
  usage: Record<string, number>;
  cost_usd: number;
}

/** Newest first; `keyId` narrows to one key's log. */
export async function readLogs(
  redis: Redis,
  keys: RedisKeys,
  opts: { keyId?: string; limit: number },
): Promise<LogEntry[]> {
  const list = opts.keyId ? keys.keyLogs(opts.keyId) : keys.logs;
  const raw = await redis.lrange(list, 0, opts.limit - 1);
  return raw.map((line) => {
    const { cost_micros, ...rest } = JSON.parse(line) as LogEntryInput & {
      cost_micros?: number;
      usage?: Record<string, number>;
    };
    return { ...rest, usage: rest.usage ?? {}, cost_usd: microsToUsd(cost_micros ?? 0) };
  });
}
