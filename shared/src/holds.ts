/**
 * Account holds: the one model of "this CLI account cannot serve now". A usage-limit reply, an
 * exhausted Agent SDK credit, or an account past its credit stop share puts that account (of one
 * provider) on hold until a time; every worker serving the same account, on any box, reads the
 * same hold from Redis and stops taking jobs on it. The provider as a whole is held ("exhausted")
 * only when every live account of it is held: that is what admission, `/ready`, job views and
 * the admin queue view report.
 *
 * A hold whose time has passed stays in Redis until a worker's probe (one cheap request on that
 * account) succeeds or an admin clears it; meanwhile it no longer counts as holding the provider,
 * so callers are not turned away while the probe runs.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { HEARTBEAT_TTL_FACTOR } from './worker-registry.js';
import type { Provider } from './providers.js';
import type { RedisKeys } from './redis-keys.js';

/** The account name of a worker that serves its own login (no `*_ACCOUNTS` set). */
export const DEFAULT_ACCOUNT = 'default';

export const HOLD_REASONS = [
  /** The subscription's usage window is spent (session, weekly, ...): until the CLI's reset time. */
  'usage_limit',
  /** Claude's "You're out of extra usage": the month's Agent SDK credit is spent. */
  'extra_usage_exhausted',
  /** The account's spend reached CLAUDE_ACCOUNT_CREDIT_STOP_SHARE of its credit. */
  'credit_stop',
] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];

const holdSchema = z.object({
  /** Epoch ms the hold lasts until (the reset; then a probe confirms it). */
  until: z.number().int(),
  reason: z.enum(HOLD_REASONS),
  /** What the CLI said, when it said something. */
  message: z.string().optional(),
  /** Epoch ms the hold was set. */
  setAt: z.number().int(),
});
export type Hold = z.infer<typeof holdSchema>;

/** A hold as the HTTP API shows it. */
export interface HoldView {
  until: string;
  reason: HoldReason;
  message?: string;
}

export function holdView(h: Hold): HoldView {
  return {
    until: new Date(h.until).toISOString(),
    reason: h.reason,
    ...(h.message ? { message: h.message } : {}),
  };
}

/** The first instant of the next UTC month (when an Agent SDK credit renews). */
export function nextMonthStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

export interface HoldsDeps {
  redis: Redis;
  keys: RedisKeys;
  /** The workers' heartbeat interval (ms): an account not announced for 3× this is gone. */
  heartbeatMs: number;
  now?: () => number;
}

export function createHolds(deps: HoldsDeps) {
  const { redis, keys } = deps;
  const clock = deps.now ?? Date.now;
  const accountTtlMs = deps.heartbeatMs * HEARTBEAT_TTL_FACTOR;

  function parse(raw: string | null | undefined): Hold | undefined {
    if (!raw) return undefined;
    try {
      const p = holdSchema.safeParse(JSON.parse(raw));
      return p.success ? p.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every hold of the provider's accounts, active or waiting for its probe. */
  async function list(provider: Provider): Promise<Map<string, Hold>> {
    const raw = await redis.hgetall(keys.holds(provider));
    const out = new Map<string, Hold>();
    for (const [name, value] of Object.entries(raw)) {
      const h = parse(value);
      if (h) out.set(name, h);
    }
    return out;
  }

  /** Accounts some live worker serves now (announced within the heartbeat TTL). */
  async function liveAccounts(provider: Provider, now = clock()): Promise<string[]> {
    return redis.zrangebyscore(keys.accounts(provider), now - accountTtlMs, '+inf');
  }

  return {
    list,
    liveAccounts,

    async get(provider: Provider, account: string): Promise<Hold | undefined> {
      return parse(await redis.hget(keys.holds(provider), account));
    },

    /** Puts an account on hold (replacing any hold it had). */
    async set(provider: Provider, account: string, hold: Omit<Hold, 'setAt'> & { setAt?: number }) {
      const h: Hold = { ...hold, setAt: hold.setAt ?? clock() };
      await redis.hset(keys.holds(provider), account, JSON.stringify(h));
      return h;
    },

    /**
     * Lifts the hold of one account, or of every account of the provider when `account` is
     * absent. Returns how many holds were lifted.
     */
    async clear(provider: Provider, account?: string): Promise<number> {
      if (account !== undefined) return redis.hdel(keys.holds(provider), account);
      const n = await redis.hlen(keys.holds(provider));
      await redis.del(keys.holds(provider));
      return n;
    },

    /** Lifts one hold only if it is still the one read (a newer hold set meanwhile stays). */
    async clearIf(provider: Provider, account: string, seen: Hold): Promise<boolean> {
      const key = keys.holds(provider);
      const now = await redis.hget(key, account);
      const h = parse(now);
      if (!h || h.setAt !== seen.setAt || h.until !== seen.until) return false;
      return (await redis.hdel(key, account)) === 1;
    },

    /** A worker's heartbeat: these accounts of the provider are served now. */
    async announce(provider: Provider, accounts: readonly string[], now = clock()): Promise<void> {
      if (accounts.length === 0) return;
      const key = keys.accounts(provider);
      const m = redis.multi().zremrangebyscore(key, '-inf', now - accountTtlMs);
      for (const a of accounts) m.zadd(key, now, a);
      await m.exec();
    },

    /**
     * Whether every live account of the provider is on an active hold, and if so the earliest
     * time one of them resets. Undefined when some account can serve (or none is live: that is
     * "no worker", not "exhausted").
     */
    async exhausted(provider: Provider, now = clock()): Promise<{ until: number } | undefined> {
      const [live, holds] = await Promise.all([liveAccounts(provider, now), list(provider)]);
      if (live.length === 0) return undefined;
      let until = Infinity;
      for (const a of live) {
        const h = holds.get(a);
        if (!h || h.until <= now) return undefined;
        until = Math.min(until, h.until);
      }
      return { until };
    },

    /** Each live or held account of the provider with its active hold (null when it can serve). */
    async accounts(provider: Provider, now = clock()): Promise<{ name: string; hold: Hold | null }[]> {
      const [live, holds] = await Promise.all([liveAccounts(provider, now), list(provider)]);
      const names = [...new Set([...live, ...holds.keys()])].sort();
      return names.map((name) => {
        const h = holds.get(name);
        return { name, hold: h ?? null };
      });
    },
  };
}

export type Holds = ReturnType<typeof createHolds>;
