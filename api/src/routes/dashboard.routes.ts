/**
 * The dashboard's static files (built by `npm run build` into dashboard/dist): the one page at
 * /dashboard (the admin's) and /dashboard/me (a key holder's), its hashed assets under
 * /dashboard/assets. These paths get a strict Content-Security-Policy: scripts and styles only
 * from files of this origin (the build emits no inline script or style), data only from this
 * origin, no frames, no plugins.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BridgeError } from '@cli-bridge/shared';
import express, { Router, type RequestHandler } from 'express';

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const strictCsp: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
  next();
};

/** Where `npm run build` puts the dashboard, from api/src/routes or api/dist/routes alike. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/dist', import.meta.url));

/** `dir`: the built dashboard (its index.html and assets/). */
export function dashboardRoutes(dir = DEFAULT_DASHBOARD_DIR): Router {
  const r = Router();
  const index = join(dir, 'index.html');
  r.use('/dashboard', strictCsp);
  // Hashed file names: a new build has new names, so they can be cached for good.
  r.use(
    '/dashboard/assets',
    express.static(join(dir, 'assets'), { index: false, redirect: false, immutable: true, maxAge: '1y' }),
  );
  r.get(['/dashboard', '/dashboard/', '/dashboard/me'], (_req, res) => {
    if (!existsSync(index)) {
      throw new BridgeError('unavailable', 'The dashboard is not built: run `npm run build`');
    }
    // Always revalidated, so a new build's asset names are picked up.
    res.sendFile(index, { headers: { 'Cache-Control': 'no-cache' } });
  });
  return r;
}
