/**
 * Admission: whether one request of an authenticated key may run, decided in ONE atomic Redis
 * script: the key still exists, may use the provider, the provider can serve (a worker is alive,
 * its subscription is not on hold), and every limit of the key holds; then it takes a
 * concurrency lease (a sorted-set entry with an expiry, so a crashed worker cannot leak it),
 * counts the request and indexes the job. 200 concurrent requests against maxRequestsPerDay 50
 * admit exactly 50. (The key itself was resolved from its hash by the auth middleware.)
 */
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { BridgeError } from './errors.js';
import { usdToMicros } from './jobs.js';
import type { Provider } from './providers.js';
import type { RedisKeys } from './redis-keys.js';
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

// KEYS: 1 key record, 2 usage day, 3 usage month, 4 usage total, 5 requests this minute,
//       6 leases, 7 job index, 8 the provider's live-worker set, 9 the key's queued jobs,
//       10 the provider's wait list (BullMQ's), 11 the key's cost reservations,
//       12 the provider's account holds, 13 the provider's live accounts
// ARGV: 1 now ms, 2 provider, 3 job id, 4 lease expiry ms, 5 day ttl s, 6 month ttl s,
//       7 job-index horizon ms, 8 worker heartbeat ttl ms (0 = do not require a live worker and
//       do not check holds), 9 the caller's wait ms: refused when every live account is held
//       longer (0 = never refused for holds), 10 maxQueued of a key that has none, 11 jobs
//       waiting per provider at most (0 = no cap), 12 this request's cost bound (micro-dollars)
// Checks in the order a client should hear about them: key gone, provider not allowed, no
// worker, subscription exhausted, queue full, then the key's limits.
// Dollar limits hold under concurrency: a request is admitted while the key's spend plus what
// its requests in flight have reserved is under the limit, and then reserves its own bound
// (released by settlement). Spend can thus pass a limit by at most one request's bound.
// Returns {'ok', reserved micros} or {'unknown_key'} / {'provider'} / {'no_worker'} /
// {'exhausted', ms} / {'queue_full', cap} / {'<limit>', '<value>'}.
const ADMIT = `
local rec, dayKey, monthKey, totalKey, rpmKey, leasesKey, jobsKey, queuedKey, reservedKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[9], KEYS[11]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', rec) == 0 then return {'unknown_key'} end
local f = redis.call('HMGET', rec, 'allowedProviders', 'maxRequestsPerMinute', 'maxRequestsPerDay',
  'maxRequestsPerMonth', 'maxTokensPerMonth', 'maxCostPerDayMicros', 'maxCostPerMonthMicros', 'maxConcurrent',
  'maxQueued')
local function n(v) return tonumber(v) or 0 end
if f[1] and f[1] ~= '' then
  local allowed = false
  for prov in string.gmatch(f[1], '[^,]+') do if prov == ARGV[2] then allowed = true end end
  if not allowed then return {'provider'} end
end
local workerTtl = tonumber(ARGV[8])
if workerTtl > 0 and redis.call('ZCOUNT', KEYS[8], tonumber(ARGV[1]) - workerTtl, '+inf') == 0 then
  return {'no_worker'}
end
-- Every live account held past the caller's wait (see holds.ts): the earliest reset decides.
local wait = tonumber(ARGV[9])
if wait > 0 then
  local live = redis.call('ZRANGEBYSCORE', KEYS[13], now - workerTtl, '+inf')
  local earliest = nil
  for _, account in ipairs(live) do
    local raw = redis.call('HGET', KEYS[12], account)
    local ok, hold = false, nil
    if raw then ok, hold = pcall(cjson.decode, raw) end
    local untilMs = ok and type(hold) == 'table' and tonumber(hold['until']) or nil
    if not untilMs or untilMs <= now then earliest = nil break end
    if not earliest or untilMs < earliest then earliest = untilMs end
  end
  if earliest and earliest - now > wait then return {'exhausted', tostring(earliest - now)} end
end
local providerCap = tonumber(ARGV[11])
if providerCap > 0 and redis.call('LLEN', KEYS[10]) >= providerCap then return {'queue_full', ARGV[11]} end
local rpm = n(f[2])
if rpm > 0 and n(redis.call('GET', rpmKey)) >= rpm then return {'maxRequestsPerMinute', f[2]} end
local day = redis.call('HMGET', dayKey, 'requests', 'cost_micros')
local month = redis.call('HMGET', monthKey, 'requests', 'tokens', 'cost_micros')
if n(f[3]) > 0 and n(day[1]) >= n(f[3]) then return {'maxRequestsPerDay', f[3]} end
if n(f[4]) > 0 and n(month[1]) >= n(f[4]) then return {'maxRequestsPerMonth', f[4]} end
if n(f[5]) > 0 and n(month[2]) >= n(f[5]) then return {'maxTokensPerMonth', f[5]} end
redis.call('ZREMRANGEBYSCORE', leasesKey, '-inf', now)
local dollars = n(f[6]) > 0 or n(f[7]) > 0
-- The reservations hash keeps its sum in field '=' (kept by admission and settlement), so the
-- usual check is O(1). Only when that sum would refuse is it recomputed from the entries of
-- jobs still in flight (holding a lease, or queued), dropping any left behind by a job that
-- vanished without settlement.
local reserved = dollars and n(redis.call('HGET', reservedKey, '=')) or 0
local function over(r)
  return (n(f[6]) > 0 and n(day[2]) + r >= n(f[6])) or (n(f[7]) > 0 and n(month[3]) + r >= n(f[7]))
end
if reserved > 0 and over(reserved) then
  local entries = redis.call('HGETALL', reservedKey)
  reserved = 0
  for i = 1, #entries, 2 do
    local job = entries[i]
    if job ~= '=' then
      if redis.call('ZSCORE', leasesKey, job) or redis.call('ZSCORE', queuedKey, job) then
        reserved = reserved + tonumber(entries[i + 1])
      else
        redis.call('HDEL', reservedKey, job)
      end
    end
  end
  redis.call('HSET', reservedKey, '=', reserved)
end
if n(f[6]) > 0 and n(day[2]) + reserved >= n(f[6]) then return {'maxCostPerDay', f[6]} end
if n(f[7]) > 0 and n(month[3]) + reserved >= n(f[7]) then return {'maxCostPerMonth', f[7]} end
if n(f[8]) > 0 and redis.call('ZCARD', leasesKey) >= n(f[8]) then return {'maxConcurrent', f[8]} end
local maxQueued = n(f[9] or ARGV[10])
redis.call('ZREMRANGEBYSCORE', queuedKey, '-inf', ARGV[7])
if maxQueued > 0 and redis.call('ZCARD', queuedKey) >= maxQueued then return {'maxQueued', tostring(maxQueued)} end
redis.call('HINCRBY', dayKey, 'requests', 1)
redis.call('EXPIRE', dayKey, ARGV[5])
redis.call('HINCRBY', monthKey, 'requests', 1)
redis.call('EXPIRE', monthKey, ARGV[6])
redis.call('HINCRBY', totalKey, 'requests', 1)
if rpm > 0 then
  redis.call('INCR', rpmKey)
  redis.call('EXPIRE', rpmKey, 120)
end
redis.call('ZADD', leasesKey, ARGV[4], ARGV[3])
redis.call('ZADD', queuedKey, now, ARGV[3])
redis.call('ZADD', jobsKey, now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', jobsKey, '-inf', ARGV[7])
local bound = dollars and tonumber(ARGV[12]) or 0
if bound > 0 then
  redis.call('HSET', reservedKey, ARGV[3], bound)
  redis.call('HINCRBY', reservedKey, '=', bound)
end
-- The key's request and token quotas after this request (limit, used), for rate-limit headers.
return {'ok', tostring(bound), f[2] or '0', rpm > 0 and redis.call('GET', rpmKey) or '0',
  f[3] or '0', tostring(n(day[1]) + 1), f[4] or '0', tostring(n(month[1]) + 1), f[5] or '0',
  tostring(n(month[2]))}
`;

// Gives back what admission took for a job that never made it into the queue.
// KEYS: 1 leases, 2 queued jobs, 3 cost reservations. ARGV: 1 job id.
const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local r = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
if r then
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('HINCRBY', KEYS[3], '=', -r)
end
`;

export interface AdmissionDeps {
  redis: Redis;
  keys: RedisKeys;
  /** How long a lease taken at admission lives before a worker renews it (ms). */
  leaseMs: number;
  /** How long a job stays in its key's job list (ms): the job result retention. */
  jobIndexMs?: number;
  /** MAX_QUEUED_PER_KEY: the queued-job cap of a key that sets none. */
  maxQueuedDefault: number;
  /** MAX_QUEUED_PER_PROVIDER: jobs waiting in one provider's queue at most (0 = no cap). */
  providerQueueCap: number;
  /** The name of the provider's wait list (BullMQ's own key, from the queue). */
  waitListKey: (provider: Provider) => string;
  /** The cost a request reserves against its key's dollar limits (micro-dollars). */
  costBoundMicros: (provider: Provider) => number;
  now?: () => number;
}

/** The parts of AdmissionDeps that come from the configuration. */
export function admissionSettings(
  config: Pick<
    Config,
    | 'CONCURRENCY_LEASE_MS'
    | 'JOB_RESULT_TTL_S'
    | 'MAX_QUEUED_PER_KEY'
    | 'MAX_QUEUED_PER_PROVIDER'
    | 'CLAUDE_COST_BOUND_USD'
    | 'CODEX_COST_BOUND_USD'
  >,
): Omit<AdmissionDeps, 'redis' | 'keys' | 'waitListKey' | 'now'> {
  return {
    leaseMs: config.CONCURRENCY_LEASE_MS,
    jobIndexMs: config.JOB_RESULT_TTL_S * 1000,
    maxQueuedDefault: config.MAX_QUEUED_PER_KEY,
    providerQueueCap: config.MAX_QUEUED_PER_PROVIDER,
    costBoundMicros: (p) =>
      usdToMicros(p === 'claude' ? config.CLAUDE_COST_BOUND_USD : config.CODEX_COST_BOUND_USD),
  };
}

/** What admission granted. */
export interface Admitted {
  /** The cost bound reserved against the key's dollar limits (0 when it has none), micro-dollars. */
  reservedMicros: number;
  /** The key's request and token limits (0 = none) and their use, this request counted. */
  quota: KeyQuota;
}

/** Limits of a key with their use so far in the current period (`limit` 0 = no such limit). */
export interface KeyQuota {
  requestsPerMinute: QuotaUse;
  requestsPerDay: QuotaUse;
  requestsPerMonth: QuotaUse;
  tokensPerMonth: QuotaUse;
}
export interface QuotaUse {
  limit: number;
  used: number;
}

/** Who is asking: an authenticated key (its id is what counts; its name is a label). */
export interface Caller {
  keyId: string;
  keyName: string;
}

/** What the API knows of the provider's state, checked after authentication. */
export interface ServeCheck {
  /** Require a live worker: the workers' heartbeat record TTL (ms); 0 = do not require one. */
  workerTtlMs: number;
  /**
   * How long the caller would wait (ms): refused with 429 `provider_exhausted` when every live
   * account of the provider is held for longer; 0 = never refused for holds.
   */
  waitMs: number;
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
    maxQueued: [`Queued-job limit reached (${v} waiting)`, 5],
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
  const releaseScript = redisScript(redis, RELEASE);
  return {
    /**
     * Admits one request of the caller's key for `provider` under lease `jobId`, in one atomic
     * step. Throws 401 `unauthorized` (revoked meanwhile), 403
     * `forbidden`, 503 `unavailable` (no worker), 429 `provider_exhausted` or 429
     * `limit_exceeded` (with Retry-After).
     */
    async admit(
      caller: Caller,
      provider: Provider,
      jobId: string,
      serve: ServeCheck = { workerTtlMs: 0, waitMs: 0 },
    ): Promise<Admitted> {
      const now = clock();
      const id = caller.keyId;
      const res = (await admitScript(
        [
          keys.apiKey(id),
          keys.usageDay(id, utcDay(now)),
          keys.usageMonth(id, utcMonth(now)),
          keys.usageTotal(id),
          keys.rpm(id, epochMinute(now)),
          keys.leases(id),
          keys.keyJobs(id),
          keys.providerWorkers(provider),
          keys.queuedJobs(id),
          deps.waitListKey(provider),
          keys.costReservations(id),
          keys.holds(provider),
          keys.accounts(provider),
        ],
        [
          now,
          provider,
          jobId,
          now + deps.leaseMs,
          DAY_COUNTER_TTL_S,
          MONTH_COUNTER_TTL_S,
          now - (deps.jobIndexMs ?? 86_400_000),
          serve.workerTtlMs,
          serve.waitMs,
          deps.maxQueuedDefault,
          deps.providerQueueCap,
          deps.costBoundMicros(provider),
        ],
      )) as string[];
      const [verdict, value] = res;
      if (verdict === 'ok') {
        const use = (i: number): QuotaUse => ({ limit: Number(res[i]) || 0, used: Number(res[i + 1]) || 0 });
        return {
          reservedMicros: Number(value),
          quota: {
            requestsPerMinute: use(2),
            requestsPerDay: use(4),
            requestsPerMonth: use(6),
            tokensPerMonth: use(8),
          },
        };
      }
      if (verdict === 'queue_full') {
        throw new BridgeError(
          'unavailable',
          `The ${provider} queue is full (${value} jobs waiting); try again later`,
          {
            retryAfterS: 10,
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
        const resetsAt = new Date(now + Number(value)).toISOString();
        throw new BridgeError(
          'provider_exhausted',
          `Every ${provider} account is at its usage limit until ${resetsAt}; try again then`,
          { retryAfterS: Math.max(1, Math.ceil(Number(value) / 1000)), details: { resets_at: resetsAt } },
        );
      }
      throw refusal(verdict!, value ?? '0', now);
    },

    /** Gives a lease, a queued place and a cost reservation back without settling (the job never made it into the queue). */
    async release(keyId: string, jobId: string): Promise<void> {
      await releaseScript(
        [keys.leases(keyId), keys.queuedJobs(keyId), keys.costReservations(keyId)],
        [jobId],
      );
    },
  };
}

export type Admission = ReturnType<typeof createAdmission>;
