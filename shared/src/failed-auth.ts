/**
 * Failed authentications, counted per client address in Redis (so across API instances). Past
 * the limit in a window, the address's requests WITHOUT valid credentials get 429 until the
 * window ends; a valid key or admin key from the same address keeps working, so one bad client
 * behind a shared address (a NAT, an office, a web app's server) locks nobody else out.
 */
import type { Redis } from 'ioredis';
import type { BridgeError } from './errors.js';
import { tooManyFailedAuthentications } from './errors.js';
import { redisScript } from './redis-script.js';

/** The failed-authentication counter of one client address. */
export interface FailedAuthGuard {
  /** The client's failed-authentication counter (Redis key). */
  counterKey: string;
  /** 0 = not counted. */
  limit: number;
  windowMs: number;
}

/**
 * Lua run when a request failed to authenticate, inlined in every script that authenticates:
 * with the counter key in `faKey` ('' = not counted), the limit in `faLimit` and the window (ms)
 * in `faWindow`, it returns {'blocked', pttl} when the address is past its limit, else counts
 * the failure and returns {'unknown_key'}.
 */
export const FAILED_AUTH_LUA = `
if faKey ~= '' and faLimit > 0 then
  if (tonumber(redis.call('GET', faKey)) or 0) >= faLimit then
    return {'blocked', tostring(redis.call('PTTL', faKey))}
  end
  redis.call('INCR', faKey)
  redis.call('PEXPIRE', faKey, faWindow, 'NX')
end
return {'unknown_key'}
`;

// KEYS: 1 counter ('' allowed). ARGV: 1 limit, 2 window ms.
const FAIL = `
local faKey, faLimit, faWindow = KEYS[1], tonumber(ARGV[1]), ARGV[2]
${FAILED_AUTH_LUA}`;

/** The error of a failed authentication script's verdict: 429 when blocked, else `unauthorized`. */
export function authFailure(reply: unknown[], unauthorized: () => BridgeError): BridgeError {
  return reply[0] === 'blocked' ? tooManyFailedAuthentications(Number(reply[1])) : unauthorized();
}

export function createFailedAuth(redis: Redis) {
  const fail = redisScript(redis, FAIL);
  return {
    /** Counts one failed authentication; returns the error to answer it with (401 or 429). */
    async fail(guard: FailedAuthGuard, unauthorized: () => BridgeError): Promise<BridgeError> {
      const reply = (await fail([guard.counterKey], [guard.limit, guard.windowMs])) as unknown[];
      return authFailure(reply, unauthorized);
    },
  };
}
