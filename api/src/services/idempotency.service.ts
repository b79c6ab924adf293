/**
 * Idempotent submission (`Idempotency-Key`): the same key and body from the same API key give the
 * same job for 24 h; the same Idempotency-Key with another body is 409. A concurrent duplicate
 * waits (bounded) for the first submission to be queued, so 20 concurrent submits make one job.
 */
import { createHash } from 'node:crypto';
import { BridgeError, type RedisKeys } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';

/** How long a duplicate submit waits for the first one's job to be queued (ms). */
const IDEMPOTENCY_WAIT_MS = 5_000;
const IDEMPOTENCY_TTL_S = 86_400;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Slot {
  jobId: string;
  bodyHash: string;
  /** The job is in the queue (false while its submission is under way). */
  queued: boolean;
}

export function createIdempotency(deps: { redis: Redis; keys: RedisKeys }) {
  const { redis, keys } = deps;
  return {
    /**
     * Runs `submit(jobId)` once per (API key, Idempotency-Key): returns its result and
     * `created: true`, or, for a repeat, `existing(jobId)` and `created: false`. A refused
     * submission frees the Idempotency-Key for another try.
     */
    async once<T>(
      keyId: string,
      idempotencyKey: string,
      body: unknown,
      newJobId: () => string,
      submit: (jobId: string) => Promise<T>,
      existing: (jobId: string) => Promise<T>,
    ): Promise<{ value: T; created: boolean }> {
      const slot = keys.idempotency(keyId, sha256(idempotencyKey));
      const bodyHash = sha256(JSON.stringify(body));
      const until = Date.now() + IDEMPOTENCY_WAIT_MS;
      for (;;) {
        const jobId = newJobId();
        const record = (queued: boolean) => JSON.stringify({ jobId, bodyHash, queued } satisfies Slot);
        if (await redis.set(slot, record(false), 'EX', IDEMPOTENCY_TTL_S, 'NX')) {
          try {
            const value = await submit(jobId);
            await redis.set(slot, record(true), 'EX', IDEMPOTENCY_TTL_S);
            return { value, created: true };
          } catch (err) {
            await redis.del(slot); // refused (limits, validation): the key may be used again
            throw err;
          }
        }
        const raw = await redis.get(slot);
        if (raw) {
          const rec = JSON.parse(raw) as Slot;
          if (rec.bodyHash !== bodyHash) {
            throw new BridgeError('conflict', 'This Idempotency-Key was used with a different request body');
          }
          if (rec.queued) return { value: await existing(rec.jobId), created: false };
        }
        if (Date.now() > until)
          throw new BridgeError('conflict', 'A request with this Idempotency-Key is still being submitted');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

export type Idempotency = ReturnType<typeof createIdempotency>;
