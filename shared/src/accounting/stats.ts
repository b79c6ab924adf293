/**
 * The per-day rollup behind /admin/stats: settlement adds each job once, when it is over, to its
 * UTC day's hash (overall, and per live key under `k:<key id>:`); this reads a range of days back.
 */
import type { Redis } from 'ioredis';
import { microsToUsd } from '../jobs.js';
import type { RedisKeys } from '../redis-keys.js';
import { utcDay } from './periods.js';

/** The counters of a day, in the order the settlement script adds them. */
export const STATS_FIELDS = [
  'requests',
  'failures',
  'input_tokens',
  'output_tokens',
  'cache_tokens',
  'cost_micros',
] as const;

/** A day's hash lives 100 days after its last write: /admin/stats reads at most 90 back. */
export const STATS_DAY_TTL_S = 100 * 86_400;

export interface StatsRow {
  date: string;
  requests: number;
  failures: number;
  input_tokens: number;
  output_tokens: number;
  /** Cache creation + cache read input tokens. */
  cache_tokens: number;
  cost_usd: number;
}

/** The UTC days of the `days` days up to and including today, oldest first. */
export function lastDays(days: number, now: number): string[] {
  return Array.from({ length: days }, (_, i) => utcDay(now - (days - 1 - i) * 86_400_000));
}

function row(date: string, h: Record<string, string>, prefix = ''): StatsRow {
  const n = (f: string) => Number(h[prefix + f] ?? 0);
  return {
    date,
    requests: n('requests'),
    failures: n('failures'),
    input_tokens: n('input_tokens'),
    output_tokens: n('output_tokens'),
    cache_tokens: n('cache_tokens'),
    cost_usd: microsToUsd(n('cost_micros')),
  };
}

/**
 * Every day of the range (zeros included), overall and per key id that had a job in it.
 * One HGETALL per day, in one pipeline.
 */
export async function readStats(
  redis: Redis,
  keys: RedisKeys,
  opts: { days: number; now?: number },
): Promise<{ days: StatsRow[]; byKeyId: Map<string, StatsRow[]> }> {
  const dates = lastDays(opts.days, opts.now ?? Date.now());
  const p = redis.pipeline();
  for (const d of dates) p.hgetall(keys.statsDay(d));
  const hashes = (await p.exec())!.map(([err, h]) => {
    if (err) throw err;
    return h as Record<string, string>;
  });
  const ids = new Set<string>();
  for (const h of hashes)
    for (const f of Object.keys(h)) {
      const m = /^k:(.+):requests$/.exec(f);
      if (m) ids.add(m[1]!);
    }
  const byKeyId = new Map<string, StatsRow[]>();
  for (const id of ids)
    byKeyId.set(
      id,
      dates.map((d, i) => row(d, hashes[i]!, `k:${id}:`)),
    );
  return { days: dates.map((d, i) => row(d, hashes[i]!)), byKeyId };
}
