/**
 * Names of the bridge's own Redis keys (BullMQ names its own under `<prefix>:<queue>:`). Every key
 * starts with the configured prefix so tests and several installs can share one server.
 */
export function redisKeys(prefix: string) {
  return {
    prefix,
    /** Hash: one API key's record (name, hash, limits, created_at, ...). */
    apiKey: (name: string) => `${prefix}:key:${name}`,
    /** Sorted set: key names by creation time (ms). */
    apiKeyNames: `${prefix}:keys`,
    /** Hash: SHA-256 hex of a raw key → key name. */
    apiKeyByHash: `${prefix}:keys:byhash`,
    /** Sorted set: worker id → last heartbeat (ms). */
    workers: `${prefix}:workers`,
    /** String (JSON, with a TTL): one worker's heartbeat record. */
    worker: (id: string) => `${prefix}:worker:${id}`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
