/**
 * Who is calling. User routes take `Authorization: Bearer <key>` or `x-api-key: <key>` (the
 * Anthropic SDK's header); admin routes take the admin key as a bearer. Both refuse when nothing
 * matches: with no keys configured every user request is refused, never let through.
 *
 * Failed authentications are counted per client address (in Redis, so across API instances);
 * past AUTH_FAILURE_LIMIT in a RATE_LIMIT_WINDOW_MS window the address gets 429 until the window
 * ends. Only failures count: requests in flight with a good key never do.
 */
import {
  BridgeError,
  hashApiKey,
  redisScript,
  safeEqual,
  tooManyFailedAuthentications,
  type Config,
  type FailedAuthGuard,
  type RedisKeys,
} from '@cli-bridge/shared';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { Redis } from 'ioredis';

declare module 'express-serve-static-core' {
  interface Request {
    /** Name of the caller's API key (after `requireUserKey`). */
    keyName?: string;
    /** SHA-256 of the caller's raw key (after `presentUserKey`; resolved at admission). */
    keyHash?: string;
  }
}

function presentedKey(req: Request): string | undefined {
  const auth = req.get('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  const x = req.get('x-api-key');
  return x?.trim() || undefined;
}

export interface AuthDeps {
  config: Pick<Config, 'AUTH_FAILURE_LIMIT' | 'RATE_LIMIT_WINDOW_MS'>;
  /** Fail-fast connection. */
  redis: Redis;
  keys: RedisKeys;
}

/** The failed-authentication counter of this request's client address. */
export function failedAuthGuard(deps: AuthDeps, req: Request): FailedAuthGuard {
  return {
    counterKey: deps.keys.authFailures(ipKeyGenerator(req.ip ?? 'unknown')),
    limit: deps.config.AUTH_FAILURE_LIMIT,
    windowMs: deps.config.RATE_LIMIT_WINDOW_MS,
  };
}

async function countFailure(deps: AuthDeps, guard: FailedAuthGuard): Promise<void> {
  if (guard.limit <= 0) return;
  await deps.redis.multi().incr(guard.counterKey).pexpire(guard.counterKey, guard.windowMs, 'NX').exec();
}

const missingKey = () =>
  new BridgeError('unauthorized', 'Missing API key: send Authorization: Bearer <key> or x-api-key');

// KEYS: 1 failed-auth counter, 2 by-hash index. ARGV: 1 key hash ('' = no key presented).
// Returns {count, pttl, name or false}.
const LOOKUP = `
local name = false
if ARGV[1] ~= '' then name = redis.call('HGET', KEYS[2], ARGV[1]) end
return {tonumber(redis.call('GET', KEYS[1])) or 0, redis.call('PTTL', KEYS[1]), name}
`;

/** Resolves the key to its name now (one round trip with the blocked-address check). */
export function requireUserKey(deps: AuthDeps): RequestHandler {
  const lookup = redisScript(deps.redis, LOOKUP);
  return async (req, _res, next) => {
    const guard = failedAuthGuard(deps, req);
    const raw = presentedKey(req);
    const [count, pttl, name] = (await lookup(
      [guard.counterKey, deps.keys.apiKeyByHash],
      [raw ? hashApiKey(raw) : ''],
    )) as [number, number, string | null];
    if (guard.limit > 0 && count >= guard.limit) throw tooManyFailedAuthentications(pttl);
    if (typeof name !== 'string') {
      await countFailure(deps, guard);
      throw raw ? new BridgeError('unauthorized', 'Invalid API key') : missingKey();
    }
    req.keyName = name;
    next();
  };
}

/**
 * Takes the key's hash only; the admission script resolves it, checks the address and the key's
 * limits in the same atomic step (the generate routes' hot path).
 */
export function presentUserKey(deps: AuthDeps): RequestHandler {
  return async (req, _res, next) => {
    const raw = presentedKey(req);
    if (!raw) {
      await countFailure(deps, failedAuthGuard(deps, req));
      throw missingKey();
    }
    req.keyHash = hashApiKey(raw);
    next();
  };
}

export function requireAdmin(adminKey: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (!adminKey)
      throw new BridgeError('unauthorized', 'The admin API is disabled: BRIDGE_ADMIN_KEY is not set');
    const raw = presentedKey(req);
    // Constant-time: both sides are hashed to equal length before comparing.
    if (!raw || !safeEqual(raw, adminKey)) throw new BridgeError('unauthorized', 'Invalid admin key');
    next();
  };
}
