/** The keys of one Redis prefix (a test file's, a bench run's): SCAN them, delete them; never FLUSH. */
import type { Redis } from 'ioredis';

/** Every key under `prefix:`, in SCAN batches. */
export async function* scanPrefix(redis: Redis, prefix: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) yield found;
  } while (cursor !== '0');
}

/** UNLINKs every key under `prefix:`; returns how many were removed. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let removed = 0;
  for await (const keys of scanPrefix(redis, prefix)) removed += await redis.unlink(...keys);
  return removed;
}
