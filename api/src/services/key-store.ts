/**
 * API keys in Redis. A key is stored only as its SHA-256; the raw key exists once, in the
 * response that creates it. The record's hash also holds the key's limits, which the admission
 * script reads in the same step as it checks them.
 *
 * Each key has an immutable id under which all its data lives (usage, leases, jobs, logs); its
 * name is a label, unique among live keys, that the admin API uses. A revoked key's data goes
 * with it, and a new key given the same name starts with nothing of it.
 */
import {
  generateApiKey,
  keyIndexEntry,
  newKeyId,
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
  /** Immutable. */
  id: string;
  name: string;
  /** ISO time. */
  created_at: string;
}

export interface KeyUsage {
  today: UsageTotals;
  month: UsageTotals;
  total: UsageTotals;
}

// Creates the record and its indexes only if the name is free, in one step.
// KEYS: 1 record, 2 by-hash index, 3 ids, 4 by-name index.
// ARGV: 1 id, 2 name, 3 hash, 4 created_at, 5 created ms, 6 by-hash entry, 7.. field/value
const CREATE_KEY = `
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'name', ARGV[2], 'hash', ARGV[3], 'created_at', ARGV[4], unpack(ARGV, 7))
redis.call('HSET', KEYS[2], ARGV[3], ARGV[6])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
return 1
`;

// KEYS: 1 record. ARGV: field/value pairs. Returns 0 when the key does not exist.
const UPDATE_KEY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return 1
`;

// Removes the key and everything named after its id that would outlive it; returns the ids of
// its jobs (for the caller to cancel those still queued or running), or false if it is gone.
// KEYS: 1 record, 2 by-hash index, 3 ids, 4 by-name index, 5 leases, 6 total usage, 7 job index,
//       8 key log. ARGV: 1 id.
const DELETE_KEY = `
local rec = redis.call('HMGET', KEYS[1], 'hash', 'name')
if not rec[1] then return false end
local jobs = redis.call('ZRANGE', KEYS[7], 0, -1)
redis.call('HDEL', KEYS[2], rec[1])
if redis.call('HGET', KEYS[4], rec[2]) == ARGV[1] then redis.call('HDEL', KEYS[4], rec[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
return jobs
`;

export interface KeyStoreDeps {
  redis: Redis;
  keys: RedisKeys;
  now?: () => number;
}

function recordFromHash(h: Record<string, string>): KeyRecord | null {
  if (!h.id || !h.name || !h.hash || !h.created_at) return null;
  return { id: h.id, name: h.name, created_at: h.created_at, ...limitsFromHash(h) };
}

export function createKeyStore({ redis, keys, now = Date.now }: KeyStoreDeps) {
  const createKey = redisScript(redis, CREATE_KEY);
  const updateKey = redisScript(redis, UPDATE_KEY);
  const deleteKey = redisScript(redis, DELETE_KEY);
  const flat = (o: Record<string, string>) => Object.entries(o).flat();

  /** The id of the live key named `name`, or null. */
  const idOf = (name: string): Promise<string | null> => redis.hget(keys.apiKeyByName, name);

  async function getById(id: string): Promise<KeyRecord | null> {
    return recordFromHash(await redis.hgetall(keys.apiKey(id)));
  }

  async function get(name: string): Promise<KeyRecord | null> {
    const id = await idOf(name);
    return id ? getById(id) : null;
  }

  return {
    idOf,
    get,
    getById,

    /** Creates a key; returns the record and the raw key, or null if the name is taken. */
    async create(
      name: string,
      limits: LimitsInput = {},
    ): Promise<{ record: KeyRecord; rawKey: string } | null> {
      const rawKey = generateApiKey();
      const id = newKeyId();
      const at = now();
      const createdAt = new Date(at).toISOString();
      const fields = limitsToHash(limits);
      const ok = await createKey(
        [keys.apiKey(id), keys.apiKeyByHash, keys.apiKeyIds, keys.apiKeyByName],
        [id, name, hashApiKey(rawKey), createdAt, at, keyIndexEntry(id, name), ...flat(fields)],
      );
      if (ok !== 1) return null;
      return { record: recordFromHash({ id, name, hash: 'x', created_at: createdAt, ...fields })!, rawKey };
    },

    /** Changes the limits named in `limits`; null when the key does not exist. */
    async update(name: string, limits: LimitsInput): Promise<KeyRecord | null> {
      const id = await idOf(name);
      if (!id) return null;
      const ok = await updateKey([keys.apiKey(id)], flat(limitsToHash(limits)));
      return ok === 1 ? getById(id) : null;
    },

    /**
     * Revokes a key: the raw key stops working at once, and its record, leases, totals, job index
     * and log go (the global log keeps its entries). Returns its id and its jobs' ids, or null.
     */
    async remove(name: string): Promise<{ id: string; jobIds: string[] } | null> {
      const id = await idOf(name);
      if (!id) return null;
      const jobIds = (await deleteKey(
        [
          keys.apiKey(id),
          keys.apiKeyByHash,
          keys.apiKeyIds,
          keys.apiKeyByName,
          keys.leases(id),
          keys.usageTotal(id),
          keys.keyJobs(id),
          keys.keyLogs(id),
        ],
        [id],
      )) as string[] | null;
      return jobIds ? { id, jobIds } : null;
    },

    /** Zeroes every usage counter of the key (day, month, total, minute). */
    async resetUsage(id: string): Promise<void> {
      for (const pattern of [keys.usagePattern(id), keys.rpmPattern(id)]) {
        let cursor = '0';
        do {
          const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
          cursor = next;
          if (found.length) await redis.unlink(...found);
        } while (cursor !== '0');
      }
    },

    /** Usage today, this month and in total (UTC). */
    async usage(id: string): Promise<KeyUsage> {
      const at = now();
      const [d, m, t] = await Promise.all([
        redis.hgetall(keys.usageDay(id, utcDay(at))),
        redis.hgetall(keys.usageMonth(id, utcMonth(at))),
        redis.hgetall(keys.usageTotal(id)),
      ]);
      return { today: usageFromHash(d), month: usageFromHash(m), total: usageFromHash(t) };
    },

    /** Every key, oldest first. */
    async list(): Promise<KeyRecord[]> {
      const ids = await redis.zrange(keys.apiKeyIds, 0, -1);
      if (ids.length === 0) return [];
      const pipe = redis.pipeline();
      for (const id of ids) pipe.hgetall(keys.apiKey(id));
      const rows = (await pipe.exec()) ?? [];
      return rows
        .map(([, h]) => recordFromHash(h as Record<string, string>))
        .filter((r): r is KeyRecord => r !== null);
    },

    /**
     * Keys made before keys had ids keep their data under their name: their id becomes their
     * name. Idempotent; run at start-up.
     */
    async adoptLegacyKeys(): Promise<number> {
      let adopted = 0;
      for (const id of await redis.zrange(keys.apiKeyIds, 0, -1)) {
        const [hasId, name] = await redis.hmget(keys.apiKey(id), 'id', 'name');
        if (hasId || !name) continue;
        await redis.multi().hset(keys.apiKey(id), 'id', id).hsetnx(keys.apiKeyByName, name, id).exec();
        adopted++;
      }
      return adopted;
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
