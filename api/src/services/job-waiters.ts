/**
 * Waiting for jobs to end, for every request of an API process at once, dispatching by job id:
 * - the process's reply channel (shared/src/job-replies.ts): one Pub/Sub subscription, opened at
 *   start-up, on which the workers publish the end of each job a sync request of this process
 *   waits for (its `replyTo`) as soon as it is settled. This is the fast path: it saves BullMQ's
 *   completion and the QueueEvents read (about 1.2 ms p50 in the stage trace, BENCHMARKS.md);
 * - one `completed` and one `failed` listener per provider's QueueEvents: every other job (async
 *   ones a cancel waits for), and the fallback for a reply missed while the subscriber
 *   reconnected. Whichever comes first settles the wait; the later one finds no waiter.
 * (BullMQ's own `job.waitUntilFinished` adds listeners per call, to the queue as well, which is
 * what made Node warn of a listener leak at 16 concurrent requests.)
 *
 * A sync request starts expecting its job's end BEFORE the job is added, so no event can be
 * missed; a later waiter (a cancel waiting for the worker's confirmation) checks the job's state
 * once after it starts listening.
 */
import { parseJobReply, type GenerateJob, type Provider, type QueueEvents } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';

export type JobEnd =
  | { status: 'completed'; value: unknown }
  | { status: 'failed'; reason: string }
  | { status: 'timeout' }
  /** The API is shutting down and stopped waiting (the job goes on). */
  | { status: 'abandoned' };

export interface JobWait {
  readonly ended: Promise<JobEnd>;
  /** Stops waiting (the promise resolves `abandoned`). */
  cancel(): void;
}

/** This process's reply channel and the subscriber connection it is heard on (its own). */
export interface ReplyChannel {
  subscriber: Redis;
  channel: string;
}

export function createJobWaiters(queueEvents: Record<Provider, QueueEvents>, replies?: ReplyChannel) {
  const waiting = new Map<string, Set<(end: JobEnd) => void>>();
  const dispatch = (jobId: string, end: JobEnd) => {
    const set = waiting.get(jobId);
    if (!set) return;
    waiting.delete(jobId);
    for (const settle of set) settle(end);
  };
  for (const qe of Object.values(queueEvents)) {
    qe.on('completed', ({ jobId, returnvalue }) =>
      dispatch(jobId, { status: 'completed', value: returnvalue }),
    );
    qe.on('failed', ({ jobId, failedReason }) => dispatch(jobId, { status: 'failed', reason: failedReason }));
  }
  replies?.subscriber.on('message', (channel: string, message: string) => {
    if (channel !== replies.channel) return;
    const r = parseJobReply(message);
    if (!r) return;
    dispatch(
      r.jobId,
      r.status === 'completed'
        ? { status: 'completed', value: r.value }
        : { status: 'failed', reason: r.reason },
    );
  });
  // ioredis subscribes again by itself after a reconnect; until then QueueEvents serves.
  const subscribed = replies
    ? replies.subscriber.subscribe(replies.channel).then(
        () => {},
        () => {},
      )
    : Promise.resolve();

  /** Starts listening for the end of job `jobId`; `timeoutMs` later it resolves `timeout`. */
  function expect(jobId: string, timeoutMs: number): JobWait {
    let settle!: (end: JobEnd) => void;
    const ended = new Promise<JobEnd>((resolve) => {
      const timer = setTimeout(() => settle({ status: 'timeout' }), timeoutMs);
      settle = (end) => {
        clearTimeout(timer);
        const set = waiting.get(jobId);
        set?.delete(settle);
        if (set?.size === 0) waiting.delete(jobId);
        resolve(end);
      };
    });
    let set = waiting.get(jobId);
    if (!set) waiting.set(jobId, (set = new Set()));
    set.add(settle);
    return { ended, cancel: () => settle({ status: 'abandoned' }) };
  }

  return {
    expect,

    /** What a sync job names as its `replyTo` (undefined: no reply channel, QueueEvents only). */
    replyTo: replies?.channel,

    /** Resolves once the reply channel is subscribed (start-up waits for it, bounded). */
    ready: (): Promise<void> => subscribed,

    /** Waits for a job that may already have ended (its state is read once after listening). */
    async untilEnded(job: GenerateJob, timeoutMs: number): Promise<JobEnd> {
      const wait = expect(job.id!, timeoutMs);
      const state = await job.getState().catch(() => 'unknown');
      // Ended, or gone altogether (removed while queued): nothing more will come.
      if (state === 'completed' || state === 'failed' || state === 'unknown') wait.cancel();
      return wait.ended;
    },

    /** Every wait in progress resolves `abandoned` (shutdown). */
    abandonAll(): void {
      for (const [, set] of waiting) for (const settle of [...set]) settle({ status: 'abandoned' });
    },

    /** Requests waiting now (for tests and shutdown logs). */
    get size(): number {
      let n = 0;
      for (const set of waiting.values()) n += set.size;
      return n;
    },
  };
}

export type JobWaiters = ReturnType<typeof createJobWaiters>;
