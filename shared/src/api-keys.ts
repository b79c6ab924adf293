import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fixed, greppable prefix so secret scanners can spot leaked keys. */
export const API_KEY_PREFIX = 'cbk_';

/** Key names: 1-50 characters of [A-Za-z0-9_-]. */
export const KEY_NAME = /^[A-Za-z0-9_-]{1,50}$/;

/** A fresh raw key: the prefix + 32 random bytes, base64url (43 characters). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** SHA-256 hex: the only form in which a key is stored. */
export function hashApiKey(raw: string): string {
  return createHash('sha256').update(raw, 'utf8').digest('hex');
}

/**
 * Constant-time string comparison. Both sides are hashed first so that neither the content nor
 * the length of the secret leaks through timing.
 */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}
