import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fixed, greppable prefix so secret scanners can spot leaked keys. */
export const API_KEY_PREFIX = 'cbk_';

/** Key names: 1-50 characters of [A-Za-z0-9_-]. */
export const KEY_NAME = /^[A-Za-z0-9_-]{1,50}$/;

/** A fresh raw key: the prefix + 32 random bytes, base64url (43 characters). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * SHA-256 hex: the only form in which a key is stored. Computed on every authenticated request,
 * with the one-shot `crypto.hash` (about a quarter of `createHash`'s cost: no Hash object).
 */
export function hashApiKey(raw: string): string {
  return hash('sha256', raw, 'hex');
}

/**
 * Constant-time string comparison. Both sides are hashed first so that neither the content nor
 * the length of the secret leaks through timing.
 */
export function safeEqual(a: string, b: string): boolean {
  const ha = hash('sha256', a, 'buffer');
  const hb = hash('sha256', b, 'buffer');
  return timingSafeEqual(ha, hb);
}

/** A new key's immutable id (names are labels and can be reused after a revocation). */
export function newKeyId(): string {
  return `k_${randomBytes(12).toString('hex')}`;
}

/**
 * The by-hash index holds `<id>:<name>` for each live key, so one lookup authenticates and
 * names the caller (neither ids nor names contain `:`). A bare value is a key made before ids,
 * whose id is its name.
 */
export function keyIndexEntry(id: string, name: string): string {
  return `${id}:${name}`;
}

export function parseKeyIndexEntry(entry: string): { id: string; name: string } {
  const at = entry.indexOf(':');
  return at < 0 ? { id: entry, name: entry } : { id: entry.slice(0, at), name: entry.slice(at + 1) };
}
