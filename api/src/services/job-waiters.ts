/**
 * Waiting for jobs to end, for every request of an API process at once: one `completed` and one
 * `failed` listener per provider's QueueEvents, dispatching by job id. (BullMQ's own
 * `job.waitUntilFinished` adds listeners per call, to the queue as well, which is what made
 * Node warn of a listener leak at 16 concurrent requests.)
 *
 * A sync request starts expecting its job's end BEFORE the job is added, so no event can be
 * missed; a later waiter (a cancel waiting for the worker's confirmation) checks the job's state
 * once after it starts listening.
 */
import type { GenerateJob, Provider, QueueEvents } from '@cli-bridge/shared';

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

export function createJobWaiters(queueEvents: Record<Provider, QueueEvents>) {
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
