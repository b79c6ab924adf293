/**
 * The worker's side of a concurrency lease. When a run starts, the job's lease is renewed to cover
 * the run (CLI timeout + kill grace). If it expired while the job sat in the queue and the key is
 * at its maxConcurrent, the run must wait: so never more than maxConcurrent CLIs of one key run.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis-keys.js';
import { redisScript } from '../redis-script.js';

// KEYS: 1 key record, 2 leases, 3 the job's cancel-requested flag, 4 the key's queued jobs (a job
// that starts leaves them). ARGV: 1 now, 2 job id,
// 3 new expiry. Returns 1 (run), 0 (wait: the key is at its concurrency limit), -1 (the job
// was cancelled before it started) or -2 (its key was revoked): no lease is taken for those.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[2])
if redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  return 1
end
local max = tonumber(redis.call('HGET', KEYS[1], 'maxConcurrent')) or 0
if max > 0 and redis.call('ZCARD', KEYS[2]) >= max then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
return 1
`;

export function createLeases(deps: { redis: Redis; keys: RedisKeys; now?: () => number }) {
  const clock = deps.now ?? Date.now;
  const acquire = redisScript(deps.redis, ACQUIRE);
  return {
    /**
     * At the start of a run, in one step: `cancelled` if a cancel was requested for the job,
     * `revoked` if its key is gone; else renews (or re-takes) its lease until now + `ttlMs` (`run`), or `wait` when the key is
     * at its concurrency limit.
     */
    async acquireForRun(
      keyId: string,
      jobId: string,
      ttlMs: number,
    ): Promise<'run' | 'wait' | 'cancelled' | 'revoked'> {
      const now = clock();
      const r = await acquire(
        [
          deps.keys.apiKey(keyId),
          deps.keys.leases(keyId),
          deps.keys.cancelRequested(jobId),
          deps.keys.queuedJobs(keyId),
        ],
        [now, jobId, now + ttlMs],
      );
      return r === 1 ? 'run' : r === -1 ? 'cancelled' : r === -2 ? 'revoked' : 'wait';
    },
    /** Leases alive now. */
    async active(keyId: string): Promise<number> {
      return deps.redis.zcount(deps.keys.leases(keyId), `(${clock()}`, '+inf');
    },
  };
}

export type Leases = ReturnType<typeof createLeases>;
