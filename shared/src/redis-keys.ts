/**
 * The one place the bridge's own Redis key names are built (BullMQ names its own under
 * `<prefix>:<queue>:`, and `queue.ts` reads them through BullMQ). Every key starts with the
 * configured prefix so tests and several installs can share one server.
 * Lua scripts receive every key they touch through KEYS, built here.
 *
 * An API key's own data is named after its immutable id (`keyId`), never its name: a name is a
 * label, and a new key given a revoked key's name starts with nothing of the old one. (Keys made
 * before ids existed have their name as their id.)
 */

export function redisKeys(prefix: string) {
  const keys = {
    prefix,
    /** Hash: one API key's record (id, name, hash, limits, created_at, ...). */
    apiKey: (keyId: string) => `${prefix}:key:${keyId}`,
    /** Sorted set: key ids by creation time (ms). */
    apiKeyIds: `${prefix}:keys`,
    /** Hash: SHA-256 hex of a raw key → key id. */
    apiKeyByHash: `${prefix}:keys:byhash`,
    /** Hash: key name → key id, for the live keys. */
    apiKeyByName: `${prefix}:keys:byname`,
    /** Hash: a key's usage in one UTC day (`YYYY-MM-DD`). Fields: USAGE_FIELDS. */
    usageDay: (keyId: string, day: string) => `${prefix}:usage:${keyId}:d:${day}`,
    /** Hash: a key's usage in one UTC month (`YYYY-MM`). */
    usageMonth: (keyId: string, month: string) => `${prefix}:usage:${keyId}:m:${month}`,
    /** Hash: a key's usage since creation (or the last reset). */
    usageTotal: (keyId: string) => `${prefix}:usage:${keyId}:total`,
    /** Pattern matching every usage hash of a key. */
    usagePattern: (keyId: string) => `${prefix}:usage:${keyId}:*`,
    /**
     * Hash: one UTC day's (`YYYY-MM-DD`) rollup of settled jobs, for /admin/stats. Fields:
     * STATS_FIELDS overall, and `k:<key id>:<field>` per key.
     */
    statsDay: (day: string) => `${prefix}:stats:d:${day}`,
    /** Counter: a key's admitted requests in one epoch minute. */
    rpm: (keyId: string, minute: number) => `${prefix}:rpm:${keyId}:${minute}`,
    rpmPattern: (keyId: string) => `${prefix}:rpm:${keyId}:*`,
    /** Sorted set: a key's jobs admitted and not yet started, job id → admitted at (ms). */
    queuedJobs: (keyId: string) => `${prefix}:queued:${keyId}`,
    /** Hash: a key's cost reservations, job id → micro-dollars (until the job is settled). */
    costReservations: (keyId: string) => `${prefix}:reserved:${keyId}`,
    /** Sorted set: a key's concurrency leases, job id → expiry (ms). */
    leases: (keyId: string) => `${prefix}:leases:${keyId}`,
    /** Hash: usage accumulated by one job over its runs, until it is settled. */
    jobUsage: (jobId: string) => `${prefix}:job-usage:${jobId}`,
    /** String: set once a job is settled, so it is never settled twice. */
    settled: (jobId: string) => `${prefix}:settled:${jobId}`,
    /** List: request log, newest first, capped. */
    logs: `${prefix}:logs`,
    /** List: one key's request log, newest first, capped. */
    keyLogs: (keyId: string) => `${prefix}:logs:key:${keyId}`,
    /** Stream: one job's events (text, usage, error, done); expires with the job's result. */
    jobEvents: (jobId: string) => `${prefix}:events:${jobId}`,
    /** Pub/sub channel: cancel requests for running jobs, to whichever worker runs them. */
    cancelChannel: `${prefix}:cancel`,
    /**
     * Pub/Sub channel of one API process: the workers tell it directly when a job it waits for
     * synchronously ends (`job-replies.ts`), one hop before BullMQ's completion event.
     */
    replyChannel: (instanceId: string) => `${prefix}:reply:${instanceId}`,
    /** String: a cancel was requested for the job (seen by a worker that starts it later). */
    cancelRequested: (jobId: string) => `${prefix}:cancel-requested:${jobId}`,
    /** String (JSON): a job cancelled while queued; BullMQ no longer holds it. */
    jobTombstone: (jobId: string) => `${prefix}:job-cancelled:${jobId}`,
    /** Sorted set: a key's jobs, job id → created (ms); for GET /jobs. */
    keyJobs: (keyId: string) => `${prefix}:jobs:key:${keyId}`,
    /** String (JSON): an Idempotency-Key of one API key → its job and body hash. */
    idempotency: (keyId: string, idemHash: string) => `${prefix}:idem:${keyId}:${idemHash}`,
    /** Sorted set: worker id → last heartbeat (ms). */
    workers: `${prefix}:workers`,
    /** Sorted set: worker id → last heartbeat (ms), of the workers serving one provider. */
    providerWorkers: (provider: string) => `${prefix}:workers:${provider}`,
    /** String (JSON, with a TTL): one worker's heartbeat record. */
    worker: (id: string) => `${prefix}:worker:${id}`,
    /** Hash: fleet-wide metric counters written by settlement (see accounting/fleet-metrics.ts). */
    fleetMetrics: `${prefix}:metrics`,
    /** Hash: a provider's account holds, account name → JSON `{until, reason, message, setAt}`. */
    holds: (provider: string) => `${prefix}:holds:${provider}`,
    /** Sorted set: account name → last heartbeat (ms) of a worker serving it, per provider. */
    accounts: (provider: string) => `${prefix}:accounts:${provider}`,
    /** String (with a TTL): one worker is probing the held account now (or did lately). */
    probeLock: (provider: string, account: string) => `${prefix}:probe:${provider}:${account}`,
    /** Hash: what one account's CLI runs cost in one UTC month (`YYYY-MM`): cost_micros, runs. */
    accountSpend: (provider: string, account: string, month: string) =>
      `${prefix}:account-spend:${provider}:${account}:${month}`,
    /** Counter prefix of one express-rate-limit limiter (`anonymous`, `admin`); the client id follows. */
    rateLimit: (limiter: string) => `${prefix}:rl:${limiter}:`,
    /**
     * String (JSON, with a TTL): one dashboard session, named by the SHA-256 hex of its cookie
     * value (so a Redis dump holds no usable cookie). `kind` is `admin` or `me` (a key holder).
     */
    session: (kind: 'admin' | 'me', idHash: string) => `${prefix}:session:${kind}:${idHash}`,
    /** Counter: failed authentications from one client address in the current window. */
    authFailures: (client: string) => `${prefix}:rl:authfail:${client}`,
  };
  return keys;
}

export type RedisKeys = ReturnType<typeof redisKeys>;
