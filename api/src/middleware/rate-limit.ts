/**
 * Rate limits that hold across API replicas: express-rate-limit counting in Redis.
 *
 * The store is ours, not rate-limit-redis: that one loads its Lua script in its constructor and
 * leaves the promise unhandled when Redis is not yet connected, which would crash the API on
 * start-up during an outage. A fixed window is one EVALSHA: INCR, PEXPIRE on the first hit, PTTL.
 */
import { BridgeError, redisScript, type RedisScript } from '@cli-bridge/shared';
import type { Request, RequestHandler } from 'express';
import { rateLimit, type IncrementResponse, type Options, type Store } from 'express-rate-limit';
import type { Redis } from 'ioredis';

// KEYS: 1 counter. ARGV: 1 window ms. Returns {hits, pttl}.
const INCREMENT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {hits, redis.call('PTTL', KEYS[1])}
`;

class RedisRateLimitStore implements Store {
  private windowMs = 60_000;
  private readonly incrementScript: RedisScript;
  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
  ) {
    this.incrementScript = redisScript(redis, INCREMENT);
  }

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  async increment(key: string): Promise<IncrementResponse> {
    const [hits, ttl] = (await this.incrementScript([this.prefix + key], [this.windowMs])) as [
      number,
      number,
    ];
    return { totalHits: hits, resetTime: new Date(Date.now() + Math.max(0, ttl)) };
  }

  async decrement(key: string): Promise<void> {
    await this.redis.decr(this.prefix + key);
  }

  async resetKey(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
}

export interface LimiterOptions {
  redis: Redis;
  /** Redis key prefix of this limiter's counters. */
  prefix: string;
  windowMs: number;
  /** Requests per window per client IP; 0 turns the limiter off. */
  limit: number;
  message: string;
  /** Requests this limiter does not count. */
  skip?: (req: Request) => boolean;
}

const pass: RequestHandler = (_req, _res, next) => next();

export function limiter(opts: LimiterOptions): RequestHandler {
  if (opts.limit <= 0) return pass;
  return rateLimit({
    windowMs: opts.windowMs,
    limit: opts.limit,
    ...(opts.skip ? { skip: opts.skip } : {}),
    store: new RedisRateLimitStore(opts.redis, opts.prefix),
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (req, _res, next) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfterS = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : 60;
      next(new BridgeError('rate_limited', opts.message, { retryAfterS }));
    },
  });
}
