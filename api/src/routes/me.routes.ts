/**
 * GET /me: what a key holder's own page shows, and nothing else: the key's name, limits, usage
 * (today, this month) and its own most recent log entries. Authenticated by the key itself
 * (Bearer / x-api-key) or by the key holder's session cookie (POST /me/session); the admin
 * session does not open it (it is not a key).
 */
import { BridgeError } from '@cli-bridge/shared';
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { presentedKey, requireUserKey } from '../middleware/auth.js';
import { sessionCookie } from '../middleware/session.js';
import { parseQuery } from '../validate.js';

const meQuerySchema = z.object({
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be 1-100')
    .max(100, 'limit must be 1-100')
    .default(20),
});

export function meRoutes({ services }: AppDeps): Router {
  const r = Router();
  const byKey = requireUserKey(services.auth);
  // The key (when one is presented) wins; otherwise the key holder's session cookie.
  const requireMe: RequestHandler = async (req, res, next) => {
    const sid = presentedKey(req) === undefined ? sessionCookie(req, 'me') : undefined;
    if (sid === undefined) return byKey(req, res, next);
    const session = await services.sessions.get('me', sid);
    if (!session?.keyId) throw new BridgeError('unauthorized', 'Session expired or unknown: log in again');
    req.keyId = session.keyId;
    next();
  };

  r.get('/me', requireMe, async (req, res) => {
    const q = parseQuery(meQuerySchema, req.query);
    const rec = await services.keyStore.getById(req.keyId!);
    // A revoked key's session ends with it.
    if (!rec) throw new BridgeError('unauthorized', 'This key has been revoked');
    const { id, name, created_at, ...limits } = rec;
    const { today, month } = await services.keyStore.usage(id);
    const logs = await services.logs.read({ keyId: id, limit: q.limit });
    res.json({
      name,
      created_at,
      limits,
      usage: { today, month },
      active: await services.leases.active(id),
      // Only what the key holder sent and got: its own entries, without the key id.
      logs: logs.map(({ key_id: _keyId, ...entry }) => entry),
    });
  });
  return r;
}
