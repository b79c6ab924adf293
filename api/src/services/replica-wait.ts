/**
 * REDIS_WAIT_REPLICAS: a submitted job is acknowledged only once that many replicas hold it
 * (Redis WAIT on the queue's connection, which covers every write made on it so far). Redis
 * replicates asynchronously: without this, a failover in the moment after a job was added can
 * promote a replica that never received it, and a job the client was told about is gone.
 */
import { BridgeError, type GenerateQueue } from '@cli-bridge/shared';
import { Redis } from 'ioredis';

/** How long one submission waits for its replicas (ms) before it is answered 503. */
const REPLICA_WAIT_MS = 1_000;

/** Resolves once `replicas` replicas have the job, else throws 503 naming it (no-op for 0). */
export async function waitForReplicas(queue: GenerateQueue, replicas: number, jobId: string): Promise<void> {
  if (replicas <= 0) return;
  // The queue's own connection (BullMQ uses the one it was given): WAIT covers what it sent.
  const client = await queue.getBackend().client;
  if (!(client instanceof Redis)) throw new Error('REDIS_WAIT_REPLICAS needs a plain ioredis connection');
  const acked = await client.wait(replicas, REPLICA_WAIT_MS);
  if (acked < replicas) {
    throw new BridgeError(
      'unavailable',
      `The job was queued but only ${acked} of ${replicas} Redis replicas confirmed it; it may be lost in a failover (see GET /jobs/:id)`,
      { retryAfterS: 5, details: { job_id: jobId } },
    );
  }
}
