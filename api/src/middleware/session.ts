/**
 * Dashboard session cookies: their names, flags and the same-origin rule for cookie-authenticated
 * writes.
 *
 * The cookie is HttpOnly (page scripts never see it), SameSite=Strict (no other site's page makes
 * the browser send it) and Secure when the request came over HTTPS (`req.secure`, which follows
 * TRUST_PROXY). SameSite is not enough on its own against a sibling subdomain, so every unsafe
 * request authenticated by a cookie must also come from a page of this very origin
 * (`Sec-Fetch-Site: same-origin`, or without it, an `Origin` of this server). Bearer callers
 * send no cookie and are not affected.
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
 *
 * The browser's own `Sec-Fetch-Site` decides when it is sent (every current browser does; a page
 * cannot forge it), so it works behind a proxy whatever TRUST_PROXY says. Without it, `Origin`
 * must be this server's scheme, host and port as the request shows them (behind a TLS proxy
 * that takes TRUST_PROXY, for X-Forwarded-Proto and -Host).
 */
export function assertSameOrigin(req: Request): void {
  if (SAFE_METHODS.has(req.method)) return;
  const site = req.get('sec-fetch-site');
  if (site !== undefined) {
    if (site === 'same-origin') return;
  } else {
    const origin = req.get('origin');
    if (origin !== undefined && origin === `${req.protocol}://${req.host}`) return;
  }
  throw new BridgeError(
    'forbidden',
    'Cross-origin request refused: a session cookie is valid only from this site',
  );
}
