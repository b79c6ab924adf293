/**
 * Admission: whether one request may run, decided in ONE atomic Redis script. It authenticates
 * the caller (the raw key's hash → the key's name, counting failed attempts per client address),
 * checks that the provider can serve (the key may use it, a worker is alive, its subscription is
 * not on hold), checks every limit of the key, then takes a concurrency lease (a sorted-set entry
 * with an expiry, so a crashed worker cannot leak it), counts the request and indexes the job.
 * 200 concurrent requests against maxRequestsPerDay 50 admit exactly 50.
 */
import type { Redis } from 'ioredis';
import { BridgeError } from './errors.js';
import { authFailure, FAILED_AUTH_LUA, type FailedAuthGuard } from './failed-auth.js';
import type { Provider } from './providers.js';
import { KEY_NAME_SLOT, type RedisKeys } from './redis-keys.js';
import { redisScript } from './redis-script.js';
import {
  DAY_COUNTER_TTL_S,
  epochMinute,
  MONTH_COUNTER_TTL_S,
  secondsToNextDay,
  secondsToNextMinute,
  secondsToNextMonth,
  utcDay,
  utcMonth,
} from './accounting/periods.js';

// The key's name is known only once the script has resolved its hash, so the keys named after
// it arrive as templates from redis-keys.ts (`perKeyTemplates`) and are filled in here.
// KEYS: 1 by-hash index, 2 failed-authentication counter of the client ('' = not checked),
//       3 the provider's live-worker set
// ARGV: 1 name slot, 2 key hash ('' = use ARGV[3]), 3 key name, 4 now ms, 5 provider, 6 job id,
//       7 lease expiry ms, 8-14 templates: record, usage day, usage month, usage total,
//       requests this minute, leases, job index; 15 day ttl s, 16 month ttl s,
//       17 failed-auth limit (0 = off), 18 failed-auth window ms, 19 job-index horizon ms,
//       20 worker heartbeat ttl ms (0 = do not require a live worker), 21 provider held ms
// Checks in the order a client should hear about them: key unknown (429 instead once the address
// is past its failed-authentication limit), provider not allowed, no worker, subscription
// exhausted, then the key's limits. A valid key is never refused for its address's failures.
// Returns {'ok', name} or {'blocked', pttl} / {'unknown_key'} / {'provider', name} /
// {'no_worker'} / {'exhausted', ms} / {'<limit>', '<value>'}.
const ADMIT = `
local name = ARGV[3]
if ARGV[2] ~= '' then
  name = redis.call('HGET', KEYS[1], ARGV[2])
  if not name then
    local faKey, faLimit, faWindow = KEYS[2], tonumber(ARGV[17]), ARGV[18]
    ${FAILED_AUTH_LUA}
  end
end
local function named(i) return (string.gsub(ARGV[i], ARGV[1], name)) end
local rec = named(8)
if redis.call('EXISTS', rec) == 0 then return {'unknown_key'} end
local dayKey, monthKey, totalKey = named(9), named(10), named(11)
local rpmKey, leasesKey, jobsKey = named(12), named(13), named(14)
local f = redis.call('HMGET', rec, 'allowedProviders', 'maxRequestsPerMinute', 'maxRequestsPerDay',
  'maxRequestsPerMonth', 'maxTokensPerMonth', 'maxCostPerDayMicros', 'maxCostPerMonthMicros', 'maxConcurrent')
local function n(v) return tonumber(v) or 0 end
if f[1] and f[1] ~= '' then
  local allowed = false
  for prov in string.gmatch(f[1], '[^,]+') do if prov == ARGV[5] then allowed = true end end
  if not allowed then return {'provider', name} end
end
local workerTtl = tonumber(ARGV[20])
if workerTtl > 0 and redis.call('ZCOUNT', KEYS[3], tonumber(ARGV[4]) - workerTtl, '+inf') == 0 then
  return {'no_worker'}
end
if tonumber(ARGV[21]) > 0 then return {'exhausted', ARGV[21]} end
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
redis.call('EXPIRE', dayKey, ARGV[15])
redis.call('HINCRBY', monthKey, 'requests', 1)
redis.call('EXPIRE', monthKey, ARGV[16])
redis.call('HINCRBY', totalKey, 'requests', 1)
if rpm > 0 then
  redis.call('INCR', rpmKey)
  redis.call('EXPIRE', rpmKey, 120)
end
redis.call('ZADD', leasesKey, ARGV[7], ARGV[6])
redis.call('ZADD', jobsKey, ARGV[4], ARGV[6])
redis.call('ZREMRANGEBYSCORE', jobsKey, '-inf', ARGV[19])
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
      const t = keys.perKeyTemplates({ day: utcDay(now), month: utcMonth(now), minute: epochMinute(now) });
      const res = (await admitScript(
        [keys.apiKeyByHash, guard?.counterKey ?? '', keys.providerWorkers(provider)],
        [
          KEY_NAME_SLOT,
          'keyHash' in caller ? caller.keyHash : '',
          'keyName' in caller ? caller.keyName : '',
          now,
          provider,
          jobId,
          now + deps.leaseMs,
          t.record,
          t.usageDay,
          t.usageMonth,
          t.usageTotal,
          t.rpm,
          t.leases,
          t.jobs,
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
      if (verdict === 'blocked' || verdict === 'unknown_key') {
        throw authFailure(res, () => new BridgeError('unauthorized', 'Invalid API key'));
      }
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
