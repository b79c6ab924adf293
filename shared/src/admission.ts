/**
 * Admission: ONE atomic Redis script per request checks every limit of the key, takes a
 * concurrency lease (a sorted-set entry with an expiry, so a crashed worker cannot leak it) and
 * counts the request. 200 concurrent requests against maxRequestsPerDay 50 admit exactly 50.
 */
import type { Redis } from 'ioredis';
import { BridgeError } from '../errors.js';
import type { Provider } from '../providers.js';
import type { RedisKeys } from '../redis-keys.js';
import { redisScript } from '../redis-script.js';
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

// The key's own keys are built here from the prefix and the name the key hash resolves to, the
// way BullMQ's scripts build job keys: the bridge runs on one Redis node, not a cluster. They
// must match redis-keys.ts (the limits tests read them back through it).
// KEYS: 1 by-hash index, 2 failed-authentication counter of the client ('' = not checked)
// ARGV: 1 prefix, 2 key hash ('' = use ARGV[3]), 3 key name, 4 now ms, 5 provider, 6 job id,
//       7 lease expiry ms, 8 day, 9 month, 10 minute, 11 day ttl s, 12 month ttl s,
//       13 failed-auth limit (0 = off), 14 failed-auth window ms, 15 job-index horizon ms,
//       16 worker heartbeat ttl ms (0 = do not require a live worker), 17 provider held ms
// Checks in the order a client should hear about them: address blocked, key unknown, provider
// not allowed, no worker, subscription exhausted, then the key's limits.
// Returns {'ok', name} or {'blocked', pttl} / {'unknown_key'} / {'provider', name} /
// {'no_worker'} / {'exhausted', ms} / {'<limit>', '<value>'}.
const ADMIT = `
local p = ARGV[1]
local faLimit = tonumber(ARGV[13])
if KEYS[2] ~= '' and faLimit > 0 and (tonumber(redis.call('GET', KEYS[2])) or 0) >= faLimit then
  return {'blocked', tostring(redis.call('PTTL', KEYS[2]))}
end
local name = ARGV[3]
if ARGV[2] ~= '' then
  name = redis.call('HGET', KEYS[1], ARGV[2])
  if not name then
    if KEYS[2] ~= '' and faLimit > 0 then
      redis.call('INCR', KEYS[2])
      redis.call('PEXPIRE', KEYS[2], ARGV[14], 'NX')
    end
    return {'unknown_key'}
  end
end
local rec = p .. ':key:' .. name
if redis.call('EXISTS', rec) == 0 then return {'unknown_key'} end
local dayKey = p .. ':usage:' .. name .. ':d:' .. ARGV[8]
local monthKey = p .. ':usage:' .. name .. ':m:' .. ARGV[9]
local totalKey = p .. ':usage:' .. name .. ':total'
local rpmKey = p .. ':rpm:' .. name .. ':' .. ARGV[10]
local leasesKey = p .. ':leases:' .. name
local f = redis.call('HMGET', rec, 'allowedProviders', 'maxRequestsPerMinute', 'maxRequestsPerDay',
  'maxRequestsPerMonth', 'maxTokensPerMonth', 'maxCostPerDayMicros', 'maxCostPerMonthMicros', 'maxConcurrent')
local function n(v) return tonumber(v) or 0 end
if f[1] and f[1] ~= '' then
  local allowed = false
  for prov in string.gmatch(f[1], '[^,]+') do if prov == ARGV[5] then allowed = true end end
  if not allowed then return {'provider', name} end
end
local workerTtl = tonumber(ARGV[16])
if workerTtl > 0 and redis.call('ZCOUNT', p .. ':workers:' .. ARGV[5], tonumber(ARGV[4]) - workerTtl, '+inf') == 0 then
  return {'no_worker'}
end
if tonumber(ARGV[17]) > 0 then return {'exhausted', ARGV[17]} end
local rpm = n(f[2])
if rpm > 0 and n(redis.call('GET', rpmKey)) >= rpm then return {'maxRequestsPerMinute', f[2]} end
local day = redis.call('HMGET', dayKey, 'requests', 'cost_micros')
local month = redis.call('HMGET', monthKey, 'requests', 'tokens', 'cost_micros')
if n(f[3]) > 0 and n(day[1]) >= n(f[3]) then return {'maxRequestsPerDay', f[3]} end
if n(f[4]) > 0 and n(month[1]) >= n(f[4]) then return {'maxRequestsPerMonth', f[4]} end
if n(f[5]) > 0 and n(month[2]) >= n(f[5]) then return {'maxTokensPerMonth', f[5]} end
if n(f[6]) > 0 and n(day[2]) >= n(f[6]) then return {'maxCostPerDay', f[6]} end
if n(f[7]) > 0 and n(month[3]) >= n(f[7]) then return {'maxCostPerMonth', f[7]} end
redis.call('ZREMRANGEBYSCORE', leasesKey, '-inf', ARGV[4])
if n(f[8]) > 0 and redis.call('ZCARD', leasesKey) >= n(f[8]) then return {'maxConcurrent', f[8]} end
redis.call('HINCRBY', dayKey, 'requests', 1)
redis.call('EXPIRE', dayKey, ARGV[11])
redis.call('HINCRBY', monthKey, 'requests', 1)
redis.call('EXPIRE', monthKey, ARGV[12])
redis.call('HINCRBY', totalKey, 'requests', 1)
if rpm > 0 then
  redis.call('INCR', rpmKey)
  redis.call('EXPIRE', rpmKey, 120)
end
redis.call('ZADD', leasesKey, ARGV[7], ARGV[6])
local jobsKey = p .. ':jobs:key:' .. name
redis.call('ZADD', jobsKey, ARGV[4], ARGV[6])
redis.call('ZREMRANGEBYSCORE', jobsKey, '-inf', ARGV[15])
return {'ok', name}
`;

export interface AdmissionDeps {
  redis: Redis;
  keys: RedisKeys;
  /** How long a lease taken at admission lives before a worker renews it (ms). */
  leaseMs: number;
  /** How long a job stays in its key's job list (ms): the job result retention. */
  jobIndexMs?: number;
  now?: () => number;
}

/** Who is asking: a raw key's hash (the usual case) or an already known key name. */
export type Caller = { keyHash: string } | { keyName: string };

/** What the API knows of the provider's state, checked after authentication. */
export interface ServeCheck {
  /** Require a live worker: the workers' heartbeat record TTL (ms); 0 = do not require one. */
  workerTtlMs: number;
  /** How long the provider's queue is still held (subscription exhausted), ms; 0 = not held. */
  heldMs: number;
}

export interface FailedAuthGuard {
  /** The client's failed-authentication counter (Redis key). */
  counterKey: string;
  limit: number;
  windowMs: number;
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
  const admitScript = redisScript(redis, ADMIT);
  return {
    /**
     * Resolves the caller's key and admits one request of it for `provider` under lease
     * `jobId`, in one atomic step. Returns the key name, or throws 401 `unauthorized`, 429
     * `rate_limited` (address blocked after failed authentications), 403 `forbidden`, 429
     * `limit_exceeded` (with Retry-After).
     */
    async admit(
      caller: Caller,
      provider: Provider,
      jobId: string,
      guard?: FailedAuthGuard,
      serve: ServeCheck = { workerTtlMs: 0, heldMs: 0 },
    ): Promise<string> {
      const now = clock();
      const res = (await admitScript(
        [keys.apiKeyByHash, guard?.counterKey ?? ''],
        [
          keys.prefix,
          'keyHash' in caller ? caller.keyHash : '',
          'keyName' in caller ? caller.keyName : '',
          now,
          provider,
          jobId,
          now + deps.leaseMs,
          utcDay(now),
          utcMonth(now),
          epochMinute(now),
          DAY_COUNTER_TTL_S,
          MONTH_COUNTER_TTL_S,
          guard?.limit ?? 0,
          guard?.windowMs ?? 0,
          now - (deps.jobIndexMs ?? 86_400_000),
          serve.workerTtlMs,
          serve.heldMs,
        ],
      )) as string[];
      const [verdict, value] = res;
      if (verdict === 'ok') return value!;
      if (verdict === 'blocked') {
        throw new BridgeError(
          'rate_limited',
          'Too many failed authentications from this address; try again later',
          {
            retryAfterS: Math.max(1, Math.ceil(Number(value) / 1000)),
          },
        );
      }
      if (verdict === 'unknown_key') throw new BridgeError('unauthorized', 'Invalid API key');
      if (verdict === 'provider') throw new BridgeError('forbidden', `This key may not use ${provider}`);
      if (verdict === 'no_worker') {
        throw new BridgeError('unavailable', `No worker is serving ${provider} right now`, {
          retryAfterS: 10,
        });
      }
      if (verdict === 'exhausted') {
        throw new BridgeError(
          'provider_exhausted',
          `The ${provider} subscription's usage limit is reached; jobs resume when it resets`,
          { retryAfterS: Math.max(1, Math.ceil(Number(value) / 1000)) },
        );
      }
      throw refusal(verdict!, value ?? '0', now);
    },

    /** Gives a lease back without settling (the job never made it into the queue). */
    async release(keyName: string, jobId: string): Promise<void> {
      await redis.zrem(keys.leases(keyName), jobId);
    },
  };
}

export type Admission = ReturnType<typeof createAdmission>;
