/**
 * Dashboard sessions: a random id in an HttpOnly cookie, its record in Redis with a TTL. The
 * record is named by the id's SHA-256 (a Redis dump or `KEYS` listing holds no usable cookie).
 *
 * Two kinds, never interchangeable: `admin` (obtained with the admin key; opens /admin) and `me`
 * (obtained with a user key; opens only that key's own read-only /me).
 */
import { randomBytes } from 'node:crypto';
import { hashApiKey, type RedisKeys } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';
import { z } from 'zod';

const sessionRecordSchema = z.object({
  kind: z.enum(['admin', 'me']),
  /** ISO time the session was opened. */
  created_at: z.string(),
  /** `me` sessions: the immutable id of the key that opened it. */
  keyId: z.string().optional(),
});

export type SessionRecord = z.infer<typeof sessionRecordSchema>;
export type SessionKind = SessionRecord['kind'];

export interface SessionStoreDeps {
  redis: Redis;
  keys: RedisKeys;
  /** Life of a session from its login (ms): DASHBOARD_SESSION_TTL_MS. */
  ttlMs: number;
  now?: () => number;
}

/** 32 random bytes, base64url: as hard to guess as an API key. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function createSessionStore({ redis, keys, ttlMs, now = Date.now }: SessionStoreDeps) {
  const keyOf = (kind: SessionKind, id: string) => keys.session(kind, hashApiKey(id));
  return {
    ttlMs,
    /** Opens a session; returns its id (the cookie's value). */
    async open(kind: SessionKind, extra: { keyId?: string } = {}): Promise<string> {
      const id = randomBytes(32).toString('base64url');
      const rec: SessionRecord = { kind, created_at: new Date(now()).toISOString(), ...extra };
      await redis.set(keyOf(kind, id), JSON.stringify(rec), 'PX', ttlMs);
      return id;
    },
    /** The live session of that kind with this id, or null (unknown, expired, malformed id). */
    async get(kind: SessionKind, id: string | undefined): Promise<SessionRecord | null> {
      if (!id || !SESSION_ID.test(id)) return null;
      const raw = await redis.get(keyOf(kind, id));
      if (!raw) return null;
      let parsed;
      try {
        parsed = sessionRecordSchema.safeParse(JSON.parse(raw));
      } catch {
        return null;
      }
      // Anything unreadable, or of the other kind, opens nothing.
      return parsed.success && parsed.data.kind === kind ? parsed.data : null;
    },
    /** Ends a session (idempotent). */
    async close(kind: SessionKind, id: string | undefined): Promise<void> {
      if (id && SESSION_ID.test(id)) await redis.del(keyOf(kind, id));
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
