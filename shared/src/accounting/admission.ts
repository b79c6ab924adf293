/**
 * Admission: ONE atomic Redis script per request checks every limit of the key, takes a
 * concurrency lease (a sorted-set entry with an expiry, so a crashed worker cannot leak it) and
 * counts the request. 200 concurrent requests against maxRequestsPerDay 50 admit exactly 50.
 */
import type { Redis } from 'ioredis';
import { BridgeError } from '../errors.js';
import type { Provider } from '../providers.js';
import type { RedisKeys } from '../redis-keys.js';
import {
  DAY_COUNTER_TTL_S,
  epochMinute,
  MONTH_COUNTER_TTL_S,
  secondsToNextDay,
  secondsToNextMinute,
  secondsToNextMonth,
  utcDay,
  utcMonth,
} from './periods.js';

// KEYS: 1 key record, 2 day usage, 3 month usage, 4 total usage, 5 minute counter, 6 leases
// ARGV: 1 now ms, 2 provider, 3 lease member (job id), 4 lease expiry ms, 5 day ttl s, 6 month ttl s
// Returns {'ok'} or {'<limit name>', '<limit value>'} or {'unknown_key'} / {'provider'}.
const ADMIT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown_key'} end
local f = redis.call('HMGET', KEYS[1], 'allowedProviders', 'maxRequestsPerMinute', 'maxRequestsPerDay',
  'maxRequestsPerMonth', 'maxTokensPerMonth', 'maxCostPerDayMicros', 'maxCostPerMonthMicros', 'maxConcurrent')
local function n(v) return tonumber(v) or 0 end
if f[1] and f[1] ~= '' then
  local allowed = false
  for p in string.gmatch(f[1], '[^,]+') do if p == ARGV[2] then allowed = true end end
  if not allowed then return {'provider'} end
end
local rpm = n(f[2])
if rpm > 0 and n(redis.call('GET', KEYS[5])) >= rpm then return {'maxRequestsPerMinute', f[2]} end
local day = redis.call('HMGET', KEYS[2], 'requests', 'cost_micros')
local month = redis.call('HMGET', KEYS[3], 'requests', 'tokens', 'cost_micros')
if n(f[3]) > 0 and n(day[1]) >= n(f[3]) then return {'maxRequestsPerDay', f[3]} end
if n(f[4]) > 0 and n(month[1]) >= n(f[4]) then return {'maxRequestsPerMonth', f[4]} end
if n(f[5]) > 0 and n(month[2]) >= n(f[5]) then return {'maxTokensPerMonth', f[5]} end
if n(f[6]) > 0 and n(day[2]) >= n(f[6]) then return {'maxCostPerDay', f[6]} end
if n(f[7]) > 0 and n(month[3]) >= n(f[7]) then return {'maxCostPerMonth', f[7]} end
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', ARGV[1])
if n(f[8]) > 0 and redis.call('ZCARD', KEYS[6]) >= n(f[8]) then return {'maxConcurrent', f[8]} end
redis.call('HINCRBY', KEYS[2], 'requests', 1)
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('HINCRBY', KEYS[3], 'requests', 1)
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('HINCRBY', KEYS[4], 'requests', 1)
if rpm > 0 then
  redis.call('INCR', KEYS[5])
  redis.call('EXPIRE', KEYS[5], 120)
end
redis.call('ZADD', KEYS[6], ARGV[4], ARGV[3])
return {'ok'}
`;

export interface AdmissionDeps {
  redis: Redis;
  keys: RedisKeys;
  /** How long a lease taken at admission lives before a worker renews it (ms). */
  leaseMs: number;
  now?: () => number;
}

function refusal(limit: string, value: string, now: number): BridgeError {
  const v = Number(value);
  const usd = (micros: number) => `$${(micros / 1_000_000).toFixed(2)}`;
  const table: Record<string, [string, number]> = {
    maxRequestsPerMinute: [`Per-minute request limit reached (${v}/minute)`, secondsToNextMinute(now)],
    maxRequestsPerDay: [`Daily request limit reached (${v}/day)`, secondsToNextDay(now)],
    maxRequestsPerMonth: [`Monthly request limit reached (${v}/month)`, secondsToNextMonth(now)],
    maxTokensPerMonth: [`Monthly token limit reached (${v} tokens/month)`, secondsToNextMonth(now)],
    maxCostPerDay: [`Daily cost limit reached (${usd(v)}/day)`, secondsToNextDay(now)],
    maxCostPerMonth: [`Monthly cost limit reached (${usd(v)}/month)`, secondsToNextMonth(now)],
    maxConcurrent: [`Concurrency limit reached (${v} at once)`, 1],
  };
  const [message, retryAfterS] = table[limit] ?? [`Limit reached (${limit})`, 60];
  const limitValue = limit.startsWith('maxCost') ? v / 1_000_000 : v;
  return new BridgeError('limit_exceeded', message, {
    retryAfterS,
    details: { limit, limit_value: limitValue },
  });
}

export function createAdmission(deps: AdmissionDeps) {
  const { redis, keys } = deps;
  const clock = deps.now ?? Date.now;
  return {
    /**
     * Admits one request of `keyName` for `provider` under lease `jobId`, or throws
     * 429 `limit_exceeded` (with Retry-After) / 403 `forbidden` / 401 `unauthorized`.
     */
    async admit(keyName: string, provider: Provider, jobId: string): Promise<void> {
      const now = clock();
      const res = (await redis.eval(
        ADMIT,
        6,
        keys.apiKey(keyName),
        keys.usageDay(keyName, utcDay(now)),
        keys.usageMonth(keyName, utcMonth(now)),
        keys.usageTotal(keyName),
        keys.rpm(keyName, epochMinute(now)),
        keys.leases(keyName),
        String(now),
        provider,
        jobId,
        String(now + deps.leaseMs),
        String(DAY_COUNTER_TTL_S),
        String(MONTH_COUNTER_TTL_S),
      )) as string[];
      const [verdict, value] = res;
      if (verdict === 'ok') return;
      if (verdict === 'unknown_key') throw new BridgeError('unauthorized', 'Invalid API key');
      if (verdict === 'provider') throw new BridgeError('forbidden', `This key may not use ${provider}`);
      throw refusal(verdict!, value ?? '0', now);
    },

    /** Gives a lease back without settling (the job never made it into the queue). */
    async release(keyName: string, jobId: string): Promise<void> {
      await redis.zrem(keys.leases(keyName), jobId);
    },
  };
}

export type Admission = ReturnType<typeof createAdmission>;
