/**
 * Dashboard session cookies: their names, flags and the same-origin rule for cookie-authenticated
 * writes.
 *
 * The cookie is HttpOnly (page scripts never see it), SameSite=Strict (no other site's page makes
 * the browser send it) and Secure when the request came over HTTPS (`req.secure`, which follows
 * TRUST_PROXY). SameSite is not enough on its own against a sibling subdomain, so every unsafe
 * request authenticated by a cookie must also come from a page of this very origin: its `Origin`
 * header (or, without one, `Sec-Fetch-Site: same-origin`). Bearer callers send no cookie and are
 * not affected.
 */
import { BridgeError } from '@cli-bridge/shared';
import { parse } from 'cookie';
import type { CookieOptions, Request, Response } from 'express';
import type { SessionKind } from '../services/session-store.js';

/** Cookie name and path per session kind. The key holder's cookie is sent only to /me. */
export const SESSION_COOKIES: Record<SessionKind, { name: string; path: string }> = {
  admin: { name: 'cb_admin', path: '/' },
  me: { name: 'cb_me', path: '/me' },
};

/** The session id the request carries for that kind, if any. */
export function sessionCookie(req: Request, kind: SessionKind): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  return parse(header)[SESSION_COOKIES[kind].name] || undefined;
}

function cookieOptions(req: Request, kind: SessionKind): CookieOptions {
  return { httpOnly: true, sameSite: 'strict', secure: req.secure, path: SESSION_COOKIES[kind].path };
}

export function setSessionCookie(req: Request, res: Response, kind: SessionKind, id: string, ttlMs: number) {
  res.cookie(SESSION_COOKIES[kind].name, id, { ...cookieOptions(req, kind), maxAge: ttlMs });
}

export function clearSessionCookie(req: Request, res: Response, kind: SessionKind) {
  res.clearCookie(SESSION_COOKIES[kind].name, cookieOptions(req, kind));
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Throws 403 for an unsafe request (POST, PATCH, DELETE...) that does not come from a page of
 * this origin. Call it only for requests authenticated by a cookie.
 */
export function assertSameOrigin(req: Request): void {
  if (SAFE_METHODS.has(req.method)) return;
  const origin = req.get('origin');
  if (origin !== undefined) {
    // req.protocol and req.host follow TRUST_PROXY (X-Forwarded-Proto / -Host behind a proxy).
    if (origin === `${req.protocol}://${req.host}`) return;
  } else if (req.get('sec-fetch-site') === 'same-origin') {
    return;
  }
  throw new BridgeError(
    'forbidden',
    'Cross-origin request refused: a session cookie is valid only from this site',
  );
}
