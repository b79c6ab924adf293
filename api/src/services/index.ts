import {
  admissionSettings,
  createAccountCredit,
  createAdmission,
  createHolds,
  createJobEvents,
  createLeases,
  createSettlement,
  createWorkerRegistry,
  readLogs,
  storedJobEnds,
  findLogs,
  type LogQuery,
} from '@cli-bridge/shared';
import { createAdminJobs } from './admin-jobs.service.js';
import { createAdminQueues } from './admin-queues.service.js';
import { createAdminStats } from './admin-stats.service.js';
import { createAdminWorkers } from './admin-workers.service.js';
import type { ApiClients } from './clients.js';
import { createEventHub } from './event-hub.js';
import { createGenerateService } from './generate.service.js';
import { createHealthService } from './health.service.js';
import { createAdminHolds } from './holds.service.js';
import { createIdempotency } from './idempotency.service.js';
import { createJobWaiters } from './job-waiters.js';
import { createJobsService } from './jobs.service.js';
import { createKeyCache } from './key-cache.js';
import { createKeyStore } from './key-store.js';
import { createMetricsService } from './metrics.service.js';
import { createSessionStore } from './session-store.js';

/** Builds the API's services from its clients: the one place they are wired together. */
export type { ApiClients };

export function createApiServices(c: ApiClients) {
  const { redis, keys, config } = c;
  const registry = createWorkerRegistry({ redis, keys, heartbeatMs: config.WORKER_HEARTBEAT_MS });
  const admission = createAdmission({
    ...admissionSettings(config),
    redis,
    keys,
    waitListKey: (p) => c.queues[p].toKey('wait'),
  });
  const settlement = createSettlement({
    redis,
    keys,
    logMaxEntries: config.LOG_MAX_ENTRIES,
    jobTtlS: config.JOB_RESULT_TTL_S,
    logPromptChars: config.LOG_PROMPT_CHARS,
  });
  const events = createJobEvents({ redis, keys, ttlS: config.JOB_RESULT_TTL_S });
  const waiters = createJobWaiters({
    replies: c.replies,
    storedEnds: (ids) => storedJobEnds(c.queues, redis, ids),
  });
  const holds = createHolds({ redis, keys, heartbeatMs: config.WORKER_HEARTBEAT_MS });
  const generate = createGenerateService({ ...c, admission, waiters, holds });
  const sessions = createSessionStore({ redis, keys, ttlMs: config.DASHBOARD_SESSION_TTL_MS });
  const jobs = createJobsService({
    ...c,
    generate,
    settlement,
    events,
    idempotency: createIdempotency({ redis, keys }),
    waiters,
    holds,
  });
  const adminHolds = createAdminHolds({
    holds,
    credit: createAccountCredit({ redis, keys }),
    queues: c.queues,
    config,
  });
  return {
    keyStore: createKeyStore({ redis, keys }),
    generate,
    jobs,
    health: createHealthService({ redis, registry, holds }),
    /** Account holds (usage limits, spent credits) per provider. */
    holds,
    leases: createLeases({ redis, keys }),
    logs: {
      read: (opts: { keyId?: string; limit: number }) => readLogs(redis, keys, opts),
      find: (q: LogQuery) => findLogs(redis, keys, q),
    },
    registry,
    /** The admin API beyond keys and logs: queues, any key's jobs, workers, stats. */
    adminQueues: createAdminQueues({ queues: c.queues, registry, holds: adminHolds }),
    adminJobs: createAdminJobs({ ...c, admission, jobs, waiters }),
    adminWorkers: createAdminWorkers({ registry, heartbeatMs: config.WORKER_HEARTBEAT_MS }),
    adminStats: createAdminStats({ redis, keys }),
    metrics: createMetricsService({
      redis,
      keys,
      queues: c.queues,
      registry,
      accounts: (p) => adminHolds.accounts(p),
    }),
    /** The Codex price table (the /v1 model list offers priced models). */
    pricing: c.pricing,
    waiters,
    events: createEventHub({
      redis,
      blockingClient: c.blockingClient,
      keys,
      logger: c.logger,
      maxStreams: config.SSE_MAX_STREAMS,
      maxStreamsPerKey: config.SSE_MAX_STREAMS_PER_KEY,
    }),
    /** Dashboard sessions (cookies opened with the admin key or a user key). */
    sessions,
    /**
     * What the auth middleware needs: the failed-authentication guard, the key index, sessions,
     * and the cache of successful lookups (per process; see key-cache.ts).
     */
    auth: { config, redis, keys, sessions, keyCache: createKeyCache({ ttlMs: config.KEY_CACHE_TTL_MS }) },
  };
}

export type ApiServices = ReturnType<typeof createApiServices>;
