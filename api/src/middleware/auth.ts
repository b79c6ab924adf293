/**
 * Who is calling. User routes take `Authorization: Bearer <key>` or `x-api-key: <key>` (the
 * Anthropic SDK's header); admin routes take the admin key as a bearer, or the dashboard's admin
 * session cookie (middleware/session.ts). Both refuse when nothing matches: with no keys
 * configured every user request is refused, never let through.
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
import type { KeyCache } from '../services/key-cache.js';
import type { SessionStore } from '../services/session-store.js';
import { assertSameOrigin, sessionCookie } from './session.js';

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
  sessions: SessionStore;
  /** Successful lookups reused by `requireAdmittedUserKey` (absent: every lookup goes to Redis). */
  keyCache?: KeyCache;
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
  const resolve = userLogin(deps);
  const failures = createFailedAuth(deps.redis);
  return async (req, _res, next) => {
    const raw = presentedKey(req);
    if (!raw) throw await failures.fail(failedAuthGuard(deps, req), missingKey);
    const { id, name } = await resolve(req, raw);
    req.keyId = id;
    req.keyName = name;
    next();
  };
}

/**
 * `requireUserKey` for the routes whose handler goes through admission (the generate routes,
 * POST /jobs, the compatible generate routes): a key looked up successfully less than
 * KEY_CACHE_TTL_MS ago is taken from the in-process cache (services/key-cache.ts) instead of
 * Redis. That is safe only because admission re-checks, atomically, that the key record still
 * exists (401 `unknown_key` otherwise): a revoked key is refused at once all the same, and the
 * answer's 401 drops its entry, so its next request is looked up (and counted) again. Every
 * other route (reads, cancel, /usage, /me, …) keeps `requireUserKey`: nothing after it would
 * notice a revoked key. A missing or wrong key is never cached: it takes the normal lookup, which
 * counts it as a failed authentication. `cacheable(req)` = false sends one request through the
 * normal lookup (POST /jobs with an Idempotency-Key: its replay answers without admission).
 */
export function requireAdmittedUserKey(
  deps: AuthDeps,
  cacheable: (req: Request) => boolean = () => true,
): RequestHandler {
  const cache = deps.keyCache;
  if (!cache?.enabled) return requireUserKey(deps);
  const lookup = keyLookup(deps);
  const failures = createFailedAuth(deps.redis);
  return async (req, res, next) => {
    const raw = presentedKey(req);
    if (!raw) throw await failures.fail(failedAuthGuard(deps, req), missingKey);
    const hash = hashApiKey(raw);
    const useCache = cacheable(req);
    let key = useCache ? cache.get(hash) : undefined;
    if (key) {
      // Admission refused it as unknown: revoked since its lookup. Forget it.
      res.once('finish', () => {
        if (res.statusCode === 401) cache.delete(hash);
      });
    } else {
      key = await lookup(req, hash);
      if (useCache) cache.set(hash, key);
    }
    req.keyId = key.id;
    req.keyName = key.name;
    next();
  };
}

export const adminDisabled = () =>
  new BridgeError('unauthorized', 'The admin API is disabled: BRIDGE_ADMIN_KEY is not set');

/**
 * The admin key, compared in constant time, or (when no key is presented) a live admin session
 * cookie, whose unsafe requests must come from this origin (403 otherwise). A wrong or missing
 * key, or an unknown or expired session, counts as a failed authentication of the address like a
 * wrong user key.
 */
export function requireAdmin(deps: AuthDeps & { adminKey: string | undefined }): RequestHandler {
  const failures = createFailedAuth(deps.redis);
  return async (req, _res, next) => {
    if (!deps.adminKey) throw adminDisabled();
    const raw = presentedKey(req);
    const sid = raw === undefined ? sessionCookie(req, 'admin') : undefined;
    if (sid !== undefined) {
      if (!(await deps.sessions.get('admin', sid))) {
        throw await failures.fail(
          failedAuthGuard(deps, req),
          () => new BridgeError('unauthorized', 'Session expired or unknown: log in again'),
        );
      }
      assertSameOrigin(req);
      return next();
    }
    if (!raw || !safeEqual(raw, deps.adminKey)) {
      throw await failures.fail(
        failedAuthGuard(deps, req),
        () => new BridgeError('unauthorized', 'Invalid admin key'),
      );
    }
    next();
  };
}

/**
 * Checks an admin key presented at login (POST /admin/session); a wrong one counts as a failed
 * authentication of the address. Throws 401 (or 429 past the limit).
 */
export function adminLogin(deps: AuthDeps & { adminKey: string | undefined }) {
  const failures = createFailedAuth(deps.redis);
  return async (req: Request, presented: string): Promise<void> => {
    if (!deps.adminKey) throw adminDisabled();
    if (!safeEqual(presented, deps.adminKey)) {
      throw await failures.fail(
        failedAuthGuard(deps, req),
        () => new BridgeError('unauthorized', 'Invalid admin key'),
      );
    }
  };
}

/**
 * Resolves a presented user key (a bearer, or the key given at POST /me/session) to its id and
 * name, counting a wrong one as a failed authentication. Throws 401 (or 429 past the limit).
 */
export function userLogin(deps: AuthDeps) {
  const lookup = keyLookup(deps);
  return (req: Request, presented: string): Promise<{ id: string; name: string }> =>
    lookup(req, hashApiKey(presented));
}

/** The LOOKUP script for a key's hash: its id and name, or the failed-authentication error. */
function keyLookup(deps: AuthDeps) {
  const lookup = redisScript(deps.redis, LOOKUP);
  return async (req: Request, hash: string): Promise<{ id: string; name: string }> => {
    const guard = failedAuthGuard(deps, req);
    const reply = (await lookup(
      [guard.counterKey, deps.keys.apiKeyByHash],
      [hash, guard.limit, guard.windowMs],
    )) as unknown[];
    if (reply[0] !== 'ok') throw authFailure(reply, invalidKey);
    return parseKeyIndexEntry(String(reply[1]));
  };
}
