/**
 * API keys in Redis. A key is stored only as its SHA-256; the raw key exists once, in the
 * response that creates it. The record's hash also holds the key's limits, which the admission
 * script reads in the same step as it checks them.
 */
import {
  generateApiKey,
  hashApiKey,
  limitsFromHash,
  limitsToHash,
  redisScript,
  usageFromHash,
  utcDay,
  utcMonth,
  type KeyLimits,
  type LimitsInput,
  type RedisKeys,
  type UsageTotals,
} from '@cli-bridge/shared';
import type { Redis } from 'ioredis';

export interface KeyRecord extends KeyLimits {
  name: string;
  /** ISO time. */
  created_at: string;
}

export interface KeyUsage {
  today: UsageTotals;
  month: UsageTotals;
  total: UsageTotals;
}

// Creates the record and the hash index only if the name is free, in one step.
// KEYS: 1 record, 2 by-hash index, 3 names. ARGV: 1 name, 2 hash, 3 created_at, 4 created ms, 5.. field/value
const CREATE_KEY = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'hash', ARGV[2], 'created_at', ARGV[3], unpack(ARGV, 5))
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
return 1
`;

// KEYS: 1 record. ARGV: field/value pairs. Returns 0 when the key does not exist.
const UPDATE_KEY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return 1
`;

// KEYS: 1 record, 2 by-hash index, 3 names, 4 leases, 5 total usage. ARGV: 1 name.
const DELETE_KEY = `
local hash = redis.call('HGET', KEYS[1], 'hash')
if not hash then return 0 end
redis.call('HDEL', KEYS[2], hash)
redis.call('DEL', KEYS[1], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
`;

export interface KeyStoreDeps {
  redis: Redis;
  keys: RedisKeys;
  now?: () => number;
}

function recordFromHash(h: Record<string, string>): KeyRecord | null {
  if (!h.name || !h.hash || !h.created_at) return null;
  return { name: h.name, created_at: h.created_at, ...limitsFromHash(h) };
}

export function createKeyStore({ redis, keys, now = Date.now }: KeyStoreDeps) {
  const createKey = redisScript(redis, CREATE_KEY);
  const updateKey = redisScript(redis, UPDATE_KEY);
  const deleteKey = redisScript(redis, DELETE_KEY);
  const flat = (o: Record<string, string>) => Object.entries(o).flat();

  async function get(name: string): Promise<KeyRecord | null> {
    return recordFromHash(await redis.hgetall(keys.apiKey(name)));
  }

  return {
    /** Creates a key; returns the record and the raw key, or null if the name is taken. */
    async create(
      name: string,
      limits: LimitsInput = {},
    ): Promise<{ record: KeyRecord; rawKey: string } | null> {
      const rawKey = generateApiKey();
      const at = now();
      const createdAt = new Date(at).toISOString();
      const fields = limitsToHash(limits);
      const ok = await createKey(
        [keys.apiKey(name), keys.apiKeyByHash, keys.apiKeyNames],
        [name, hashApiKey(rawKey), createdAt, at, ...flat(fields)],
      );
      if (ok !== 1) return null;
      return { record: recordFromHash({ name, hash: 'x', created_at: createdAt, ...fields })!, rawKey };
    },

    /** The name of the key whose raw value is `rawKey`, or null. */
    async nameForRawKey(rawKey: string): Promise<string | null> {
      return redis.hget(keys.apiKeyByHash, hashApiKey(rawKey));
    },

    get,

    /** Changes the limits named in `limits`; null when the key does not exist. */
    async update(name: string, limits: LimitsInput): Promise<KeyRecord | null> {
      const ok = await updateKey([keys.apiKey(name)], flat(limitsToHash(limits)));
      return ok === 1 ? get(name) : null;
    },

    /** Revokes a key: the raw key stops working at once. Its logs are kept. */
    async remove(name: string): Promise<boolean> {
      const ok = await deleteKey(
        [keys.apiKey(name), keys.apiKeyByHash, keys.apiKeyNames, keys.leases(name), keys.usageTotal(name)],
        [name],
      );
      return ok === 1;
    },

    /** Zeroes every usage counter of the key (day, month, total, minute). */
    async resetUsage(name: string): Promise<void> {
      for (const pattern of [keys.usagePattern(name), keys.rpmPattern(name)]) {
        let cursor = '0';
        do {
          const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
          cursor = next;
          if (found.length) await redis.unlink(...found);
        } while (cursor !== '0');
      }
    },

    /** Usage today, this month and in total (UTC). */
    async usage(name: string): Promise<KeyUsage> {
      const at = now();
      const [d, m, t] = await Promise.all([
        redis.hgetall(keys.usageDay(name, utcDay(at))),
        redis.hgetall(keys.usageMonth(name, utcMonth(at))),
        redis.hgetall(keys.usageTotal(name)),
      ]);
      return { today: usageFromHash(d), month: usageFromHash(m), total: usageFromHash(t) };
    },

    /** Every key, oldest first. */
    async list(): Promise<KeyRecord[]> {
      const names = await redis.zrange(keys.apiKeyNames, 0, -1);
      if (names.length === 0) return [];
      const pipe = redis.pipeline();
      for (const n of names) pipe.hgetall(keys.apiKey(n));
      const rows = (await pipe.exec()) ?? [];
      return rows
        .map(([, h]) => recordFromHash(h as Record<string, string>))
        .filter((r): r is KeyRecord => r !== null);
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
