/**
 * Who is calling. User routes take `Authorization: Bearer <key>` or `x-api-key: <key>` (the
 * Anthropic SDK's header); admin routes take the admin key as a bearer. Both refuse when nothing
 * matches: with no keys configured every user request is refused, never let through.
 *
 * Failed authentications (a wrong or missing key, a wrong admin key) are counted per client
 * address (shared/src/failed-auth.ts); past AUTH_FAILURE_LIMIT in a RATE_LIMIT_WINDOW_MS window
 * the address's unauthenticated requests get 429 until the window ends. Valid credentials from
 * that address keep working, and requests in flight with a good key never count.
 */
import {
  authFailure,
  BridgeError,
  createFailedAuth,
  FAILED_AUTH_LUA,
  hashApiKey,
  parseKeyIndexEntry,
  redisScript,
  safeEqual,
  type Config,
  type FailedAuthGuard,
  type RedisKeys,
} from '@cli-bridge/shared';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { Redis } from 'ioredis';

declare module 'express-serve-static-core' {
  interface Request {
    /** Immutable id of the caller's API key (after `requireUserKey`). */
    keyId?: string;
    /** Name of the caller's API key (a label). */
    keyName?: string;
  }
}

export function presentedKey(req: Request): string | undefined {
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

const missingKey = () =>
  new BridgeError('unauthorized', 'Missing API key: send Authorization: Bearer <key> or x-api-key');
const invalidKey = () => new BridgeError('unauthorized', 'Invalid API key');

// KEYS: 1 failed-auth counter, 2 by-hash index. ARGV: 1 key hash, 2 failed-auth limit, 3 window ms.
// Returns {'ok', '<id>:<name>'}, or the failed-authentication verdict.
const LOOKUP = `
local key = redis.call('HGET', KEYS[2], ARGV[1])
if key then return {'ok', key} end
local faKey, faLimit, faWindow = KEYS[1], tonumber(ARGV[2]), ARGV[3]
${FAILED_AUTH_LUA}`;

/** Resolves the key to its id and name, in one round trip (a failure is counted in the same step). */
export function requireUserKey(deps: AuthDeps): RequestHandler {
  const lookup = redisScript(deps.redis, LOOKUP);
  const failures = createFailedAuth(deps.redis);
  return async (req, _res, next) => {
    const guard = failedAuthGuard(deps, req);
    const raw = presentedKey(req);
    if (!raw) throw await failures.fail(guard, missingKey);
    const reply = (await lookup(
      [guard.counterKey, deps.keys.apiKeyByHash],
      [hashApiKey(raw), guard.limit, guard.windowMs],
    )) as unknown[];
    if (reply[0] !== 'ok') throw authFailure(reply, invalidKey);
    const { id, name } = parseKeyIndexEntry(String(reply[1]));
    req.keyId = id;
    req.keyName = name;
    next();
  };
}

/**
 * The admin key, compared in constant time; a wrong or missing one counts as a failed
 * authentication of the address like a wrong user key.
 */
export function requireAdmin(deps: AuthDeps & { adminKey: string | undefined }): RequestHandler {
  const failures = createFailedAuth(deps.redis);
  return async (req, _res, next) => {
    if (!deps.adminKey)
      throw new BridgeError('unauthorized', 'The admin API is disabled: BRIDGE_ADMIN_KEY is not set');
    const raw = presentedKey(req);
    if (!raw || !safeEqual(raw, deps.adminKey)) {
      throw await failures.fail(
        failedAuthGuard(deps, req),
        () => new BridgeError('unauthorized', 'Invalid admin key'),
      );
    }
    next();
  };
}
