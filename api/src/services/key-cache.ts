/**
 * A small in-process cache of SUCCESSFUL key lookups (key hash → id and name), so a request that
 * goes on to admission skips one Redis round trip. It is never the authority: the admission
 * script re-checks that the key record exists in the same atomic step that admits the request,
 * so a key revoked a moment ago is still refused (401) at once; only the routes whose handler
 * goes through admission read it (see middleware/auth.ts).
 *
 * Keyed by the key's SHA-256 (never the raw key). Bounded: past `maxEntries` the oldest entry is
 * dropped (a Map keeps insertion order, and a hit re-inserts its entry, so this is LRU-ish).
 * An entry lives `ttlMs` from its lookup; an expired one is dropped when next read.
 *
 * Not lru-cache: a Map in insertion order gives the bound and the recency in these few lines, and
 * lru-cache's expiry is off by its boundary (an entry read exactly `ttlMs` after it was set is
 * still fresh there) and reuses a clock reading for a millisecond unless told otherwise.
 */

export interface CachedKey {
  id: string;
  name: string;
}

export interface KeyCacheOptions {
  /** How long a lookup is reused (ms); 0 turns the cache off. */
  ttlMs: number;
  /** Most entries held; default 10,000. */
  maxEntries?: number;
  now?: () => number;
}

export const KEY_CACHE_MAX_ENTRIES = 10_000;

export function createKeyCache({
  ttlMs,
  maxEntries = KEY_CACHE_MAX_ENTRIES,
  now = Date.now,
}: KeyCacheOptions) {
  const entries = new Map<string, { key: CachedKey; expiresAt: number }>();
  return {
    /** Whether the cache is on (ttlMs > 0). */
    enabled: ttlMs > 0 && maxEntries > 0,

    /** The key of this hash if looked up successfully less than `ttlMs` ago. */
    get(hash: string): CachedKey | undefined {
      const entry = entries.get(hash);
      if (!entry) return undefined;
      entries.delete(hash);
      if (entry.expiresAt <= now()) return undefined;
      entries.set(hash, entry); // most recently used last
      return entry.key;
    },

    /** Remembers a successful lookup. */
    set(hash: string, key: CachedKey): void {
      if (ttlMs <= 0 || maxEntries <= 0) return;
      entries.delete(hash);
      while (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(hash, { key, expiresAt: now() + ttlMs });
    },

    /** Forgets a key (it was refused by admission: revoked). */
    delete(hash: string): void {
      entries.delete(hash);
    },

    get size(): number {
      return entries.size;
    },
  };
}

export type KeyCache = ReturnType<typeof createKeyCache>;
