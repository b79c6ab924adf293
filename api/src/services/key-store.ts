/**
 * API keys in Redis. A key is stored only as its SHA-256; the raw key exists once, in the
 * response that creates it. Limits and usage counters build on this record (see
 * keys.service/admission in later issues); this store owns the record and the hash index.
 */
import { generateApiKey, hashApiKey, type RedisKeys } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';

export interface KeyRecord {
  name: string;
  /** SHA-256 hex of the raw key. */
  hash: string;
  /** ISO time. */
  created_at: string;
}

// Creates the record and the hash index only if the name is free, in one step.
const CREATE_KEY = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'hash', ARGV[2], 'created_at', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
return 1
`;

export interface KeyStoreDeps {
  redis: Redis;
  keys: RedisKeys;
}

export function createKeyStore({ redis, keys }: KeyStoreDeps) {
  return {
    /** Creates a key; returns the record and the raw key, or null if the name is taken. */
    async create(name: string, now = new Date()): Promise<{ record: KeyRecord; rawKey: string } | null> {
      const rawKey = generateApiKey();
      const record: KeyRecord = {
        name,
        hash: hashApiKey(rawKey),
        created_at: now.toISOString(),
      };
      const ok = await redis.eval(
        CREATE_KEY,
        3,
        keys.apiKey(name),
        keys.apiKeyByHash,
        keys.apiKeyNames,
        name,
        record.hash,
        record.created_at,
        String(now.getTime()),
      );
      return ok === 1 ? { record, rawKey } : null;
    },

    /** The record of the key whose raw value is `rawKey`, or null. */
    async findByRawKey(rawKey: string): Promise<KeyRecord | null> {
      const name = await redis.hget(keys.apiKeyByHash, hashApiKey(rawKey));
      if (name === null) return null;
      return this.get(name);
    },

    async get(name: string): Promise<KeyRecord | null> {
      const h = await redis.hgetall(keys.apiKey(name));
      if (!h.name || !h.hash || !h.created_at) return null;
      return { name: h.name, hash: h.hash, created_at: h.created_at };
    },

    async list(): Promise<KeyRecord[]> {
      const names = await redis.zrange(keys.apiKeyNames, 0, -1);
      const out: KeyRecord[] = [];
      for (const n of names) {
        const r = await this.get(n);
        if (r) out.push(r);
      }
      return out;
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
