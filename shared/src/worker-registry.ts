/**
 * Live workers, as seen through their heartbeats. Each worker writes its record with a TTL of
 * `HEARTBEAT_TTL_FACTOR` × its interval; a worker that stops beating drops out on its own.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { PROVIDERS, type Provider } from './providers.js';
import type { RedisKeys } from './redis-keys.js';

export const HEARTBEAT_TTL_FACTOR = 3;

/** How a CLI account is billed: its subscription login, or an API key (API prices). */
export const AUTH_MODES = ['subscription', 'api_key', 'unknown'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

const workerInfoSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  providers: z.array(z.enum(PROVIDERS)),
  concurrency: z.record(z.string(), z.number().int()),
  /** Jobs running now. */
  active: z.number().int().nonnegative(),
  /** Their ids (absent from the records of workers older than this field: none known). */
  activeJobs: z.array(z.string()).default([]),
  /** The warm pool (worker/src/cli/warm-pool.ts): processes waiting now, and counts since start. */
  warmPool: z
    .object({
      size: z.number().int().nonnegative(),
      starting: z.number().int().nonnegative(),
      hits: z.number().int().nonnegative(),
      misses: z.number().int().nonnegative(),
      evictions: z.number().int().nonnegative(),
      discarded: z.number().int().nonnegative(),
      /** Resident memory of the waiting processes (MiB). */
      rssMb: z.number().nonnegative(),
    })
    .optional(),
  /** `--version` output of each CLI, or null when it could not be read. */
  cliVersions: z.record(z.string(), z.string().nullable()),
  /**
   * The accounts served per provider: name, concurrency on this worker, and how its CLI is
   * billed (`subscription` login, `api_key`, or `unknown` when neither is found).
   */
  accounts: z
    .record(
      z.string(),
      z.array(
        z.object({
          name: z.string(),
          concurrency: z.number().int(),
          authMode: z.enum(AUTH_MODES),
        }),
      ),
    )
    .optional(),
  startedAt: z.number().int(),
  lastBeat: z.number().int(),
});
export type WorkerInfo = z.infer<typeof workerInfoSchema>;
/** What a worker writes (`activeJobs` may be left out). */
export type WorkerBeat = z.input<typeof workerInfoSchema>;

export interface WorkerRegistryDeps {
  redis: Redis;
  keys: RedisKeys;
  /** The workers' heartbeat interval (ms); records live `HEARTBEAT_TTL_FACTOR` times as long. */
  heartbeatMs: number;
}

export function createWorkerRegistry(deps: WorkerRegistryDeps) {
  const { redis, keys } = deps;
  const ttlMs = deps.heartbeatMs * HEARTBEAT_TTL_FACTOR;

  async function beat(info: WorkerBeat): Promise<void> {
    const m = redis
      .multi()
      .set(keys.worker(info.id), JSON.stringify(info), 'PX', ttlMs)
      .zadd(keys.workers, info.lastBeat, info.id);
    for (const p of info.providers) {
      // Dead workers' entries go as live ones beat, so the sets never grow across restarts.
      m.zremrangebyscore(keys.providerWorkers(p), '-inf', info.lastBeat - ttlMs);
      m.zadd(keys.providerWorkers(p), info.lastBeat, info.id);
    }
    await m.exec();
  }

  async function remove(id: string): Promise<void> {
    const m = redis.multi().del(keys.worker(id)).zrem(keys.workers, id);
    for (const p of PROVIDERS) m.zrem(keys.providerWorkers(p), id);
    await m.exec();
  }

  /** Live workers serving `provider`: one ZCOUNT, cheap enough for every request. */
  async function liveCount(provider: Provider, now = Date.now()): Promise<number> {
    return redis.zcount(keys.providerWorkers(provider), now - ttlMs, '+inf');
  }

  /** Workers whose last beat is recent enough; stale entries are pruned on the way. */
  async function list(now = Date.now()): Promise<WorkerInfo[]> {
    await redis.zremrangebyscore(keys.workers, '-inf', now - ttlMs);
    const ids = await redis.zrange(keys.workers, 0, -1);
    if (ids.length === 0) return [];
    const raw = await redis.mget(ids.map((id) => keys.worker(id)));
    const out: WorkerInfo[] = [];
    for (const r of raw) {
      if (r === null) continue;
      const parsed = workerInfoSchema.safeParse(JSON.parse(r));
      if (parsed.success) out.push(parsed.data);
    }
    return out;
  }

  /** Number of live workers serving each provider. */
  async function liveProviders(): Promise<Record<Provider, number>> {
    const counts = Object.fromEntries(PROVIDERS.map((p) => [p, 0])) as Record<Provider, number>;
    for (const w of await list()) for (const p of w.providers) counts[p] += 1;
    return counts;
  }

  return { beat, remove, list, liveProviders, liveCount };
}

export type WorkerRegistry = ReturnType<typeof createWorkerRegistry>;
