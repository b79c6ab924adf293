/**
 * The one place the bridge's own Redis key names are built (BullMQ names its own under
 * `<prefix>:<queue>:`, and `queue.ts` reads them through BullMQ). Every key starts with the
 * configured prefix so tests and several installs can share one server.
 * Lua scripts receive every key they touch through KEYS, built here.
 */

export function redisKeys(prefix: string) {
  const keys = {
    prefix,
    /** Hash: one API key's record (name, hash, limits, created_at, ...). */
    apiKey: (name: string) => `${prefix}:key:${name}`,
    /** Sorted set: key names by creation time (ms). */
    apiKeyNames: `${prefix}:keys`,
    /** Hash: SHA-256 hex of a raw key → key name. */
    apiKeyByHash: `${prefix}:keys:byhash`,
    /** Hash: a key's usage in one UTC day (`YYYY-MM-DD`). Fields: USAGE_FIELDS. */
    usageDay: (name: string, day: string) => `${prefix}:usage:${name}:d:${day}`,
    /** Hash: a key's usage in one UTC month (`YYYY-MM`). */
    usageMonth: (name: string, month: string) => `${prefix}:usage:${name}:m:${month}`,
    /** Hash: a key's usage since creation (or the last reset). */
    usageTotal: (name: string) => `${prefix}:usage:${name}:total`,
    /** Pattern matching every usage hash of a key. */
    usagePattern: (name: string) => `${prefix}:usage:${name}:*`,
    /** Counter: a key's admitted requests in one epoch minute. */
    rpm: (name: string, minute: number) => `${prefix}:rpm:${name}:${minute}`,
    rpmPattern: (name: string) => `${prefix}:rpm:${name}:*`,
    /** Sorted set: a key's concurrency leases, job id → expiry (ms). */
    leases: (name: string) => `${prefix}:leases:${name}`,
    /** Hash: usage accumulated by one job over its runs, until it is settled. */
    jobUsage: (jobId: string) => `${prefix}:job-usage:${jobId}`,
    /** String: set once a job is settled, so it is never settled twice. */
    settled: (jobId: string) => `${prefix}:settled:${jobId}`,
    /** List: request log, newest first, capped. */
    logs: `${prefix}:logs`,
    /** List: one key's request log, newest first, capped. */
    keyLogs: (name: string) => `${prefix}:logs:key:${name}`,
    /** Stream: one job's events (text, usage, error, done); expires with the job's result. */
    jobEvents: (jobId: string) => `${prefix}:events:${jobId}`,
    /** Pub/sub channel: cancel requests for running jobs, to whichever worker runs them. */
    cancelChannel: `${prefix}:cancel`,
    /** String: a cancel was requested for the job (seen by a worker that starts it later). */
    cancelRequested: (jobId: string) => `${prefix}:cancel-requested:${jobId}`,
    /** String (JSON): a job cancelled while queued; BullMQ no longer holds it. */
    jobTombstone: (jobId: string) => `${prefix}:job-cancelled:${jobId}`,
    /** Sorted set: a key's jobs, job id → created (ms); for GET /jobs. */
    keyJobs: (name: string) => `${prefix}:jobs:key:${name}`,
    /** String (JSON): an Idempotency-Key of one API key → its job and body hash. */
    idempotency: (name: string, idemHash: string) => `${prefix}:idem:${name}:${idemHash}`,
    /** Sorted set: worker id → last heartbeat (ms). */
    workers: `${prefix}:workers`,
    /** Sorted set: worker id → last heartbeat (ms), of the workers serving one provider. */
    providerWorkers: (provider: string) => `${prefix}:workers:${provider}`,
    /** String (JSON, with a TTL): one worker's heartbeat record. */
    worker: (id: string) => `${prefix}:worker:${id}`,
    /** Counter prefix of one express-rate-limit limiter (`anonymous`, `admin`); the client id follows. */
    rateLimit: (limiter: string) => `${prefix}:rl:${limiter}:`,
    /** Counter: failed authentications from one client address in the current window. */
    authFailures: (client: string) => `${prefix}:rl:authfail:${client}`,
  };
  return keys;
}

export type RedisKeys = ReturnType<typeof redisKeys>;
