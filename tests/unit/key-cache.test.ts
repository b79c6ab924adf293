/**
 * The in-process cache of successful key lookups: entries expire after their TTL, the cache
 * never holds more than its bound (the least recently used go first), and a TTL of 0 is off.
 */
import { describe, expect, it } from 'vitest';
import { createKeyCache } from '../../api/src/services/key-cache.js';

const key = (n: number) => ({ id: `k_${n}`, name: `name${n}` });

describe('createKeyCache', () => {
  it('answers within the TTL and forgets after it', () => {
    let now = 1_000;
    const cache = createKeyCache({ ttlMs: 5_000, now: () => now });
    cache.set('h1', key(1));
    now += 4_999;
    expect(cache.get('h1')).toEqual(key(1));
    now += 1;
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const cache = createKeyCache({ ttlMs: 5_000, maxEntries: 3 });
    for (const n of [1, 2, 3]) cache.set(`h${n}`, key(n));
    expect(cache.get('h1')).toEqual(key(1)); // h2 is now the least recently used
    cache.set('h4', key(4));
    expect(cache.size).toBe(3);
    expect(cache.get('h2')).toBeUndefined();
    expect([cache.get('h1'), cache.get('h3'), cache.get('h4')]).toEqual([key(1), key(3), key(4)]);
  });

  it('forgets a deleted key', () => {
    const cache = createKeyCache({ ttlMs: 5_000 });
    cache.set('h1', key(1));
    cache.delete('h1');
    expect(cache.get('h1')).toBeUndefined();
  });

  it('is off with a TTL of 0', () => {
    const cache = createKeyCache({ ttlMs: 0 });
    expect(cache.enabled).toBe(false);
    cache.set('h1', key(1));
    expect(cache.get('h1')).toBeUndefined();
  });
});
