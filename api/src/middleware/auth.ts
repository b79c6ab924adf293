/**
 * Who is calling. User routes take `Authorization: Bearer <key>` or `x-api-key: <key>` (the
 * Anthropic SDK's header); admin routes take the admin key as a bearer. Both refuse when nothing
 * matches: with no keys configured every user request is refused, never let through.
 */
import { BridgeError, safeEqual } from '@cli-bridge/shared';
import type { Request, RequestHandler } from 'express';
import type { KeyStore } from '../services/key-store.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** Name of the caller's API key (user routes, after `requireUserKey`). */
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

export function requireUserKey(keyStore: KeyStore): RequestHandler {
  return async (req, _res, next) => {
    const raw = presentedKey(req);
    if (!raw)
      throw new BridgeError('unauthorized', 'Missing API key: send Authorization: Bearer <key> or x-api-key');
    const name = await keyStore.nameForRawKey(raw);
    if (!name) throw new BridgeError('unauthorized', 'Invalid API key');
    req.keyName = name;
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
