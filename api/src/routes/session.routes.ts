/**
 * Dashboard logins. POST /admin/session `{"key": "<admin key>"}` and POST /me/session
 * `{"key": "<user key>"}` check the key (a wrong one counts as a failed authentication of the
 * address), open a session in Redis and set its HttpOnly cookie; the raw key is never stored in
 * the browser. DELETE ends the session and clears the cookie. GET says whether the request's
 * cookie is a live session (so the page knows whether to show its login form) without counting a
 * failure: it opens nothing. Mounted before the admin check.
 */
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { adminDisabled, adminLogin, userLogin } from '../middleware/auth.js';
import {
  assertSameOrigin,
  clearSessionCookie,
  sessionCookie,
  setSessionCookie,
} from '../middleware/session.js';
import type { SessionKind } from '../services/session-store.js';
import { parseBody } from '../validate.js';

const loginSchema = z.object({ key: z.string({ error: 'key must be a string' }).min(1, 'key is required') });

/** A login body is one key: anything larger is not a login (and is never buffered). */
const loginBody = express.json({ limit: '4kb' });

export function sessionRoutes({ services, config }: AppDeps): Router {
  const r = Router();
  const { sessions } = services;
  const checkAdmin = adminLogin({ ...services.auth, adminKey: config.BRIDGE_ADMIN_KEY });
  const checkUser = userLogin(services.auth);

  const logout = (kind: SessionKind) => async (req: Request, res: express.Response) => {
    const sid = sessionCookie(req, kind);
    if (sid !== undefined) assertSameOrigin(req);
    await sessions.close(kind, sid);
    clearSessionCookie(req, res, kind);
    res.json({ logged_out: true });
  };

  const status = (kind: SessionKind) => async (req: Request, res: express.Response) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ logged_in: (await sessions.get(kind, sessionCookie(req, kind))) !== null });
  };

  // With no admin key configured there is no admin session to open, check or end.
  r.use('/admin/session', (_req, _res, next) => next(config.BRIDGE_ADMIN_KEY ? undefined : adminDisabled()));
  r.get('/admin/session', status('admin'));
  r.post('/admin/session', loginBody, async (req, res) => {
    const { key } = parseBody(loginSchema, req.body);
    await checkAdmin(req, key);
    setSessionCookie(req, res, 'admin', await sessions.open('admin'), sessions.ttlMs);
    res.json({ kind: 'admin', expires_in_ms: sessions.ttlMs });
  });
  r.delete('/admin/session', logout('admin'));

  r.get('/me/session', status('me'));
  r.post('/me/session', loginBody, async (req, res) => {
    const { key } = parseBody(loginSchema, req.body);
    const { id, name } = await checkUser(req, key);
    setSessionCookie(req, res, 'me', await sessions.open('me', { keyId: id }), sessions.ttlMs);
    res.json({ kind: 'me', key: name, expires_in_ms: sessions.ttlMs });
  });
  r.delete('/me/session', logout('me'));
  return r;
}
