/**
 * Waiting for jobs to end, for every request of an API process at once, dispatching by job id:
 * - the process's reply channel (shared/src/job-replies.ts): one Pub/Sub subscription, opened at
 *   start-up, on which the workers publish the end of each job a sync request of this process
 *   waits for (its `replyTo`), right after its settlement. This is the path every answer takes
 *   normally: one hop, where BullMQ's completion and a QueueEvents read took about 1.2 ms p50 in
 *   the stage trace (BENCHMARKS.md), and without reading every event of every job (QueueEvents,
 *   which this process no longer runs, read about 0.4 events per async submit);
 * - the jobs' stored outcomes (`storedJobEnds`), the fallback for an end no reply told: read for
 *   every wait still unanswered after `fallbackMs`, then every `fallbackMs`, in one pipeline; and
 *   for every wait at once after the subscriber reconnects (a reply published meanwhile is lost).
 *   A job that ends without a reply (it stalled out, or failed outside the CLI's run) is heard
 *   this way, within about a second.
 * A cancel waiting for the worker's confirmation (`untilEnded`) reads its job's outcome every
 * `confirmPollMs` instead: an async job names no reply channel.
 *
 * A sync request starts expecting its job's end BEFORE the job is added, so no reply can be
 * missed; its stored outcome is read only once the job is in the queue (`queued()`), so a job not
 * added yet is never taken for one removed.
 */
import { encodeFailure, parseJobReply, type GenerateJob, type StoredJobEnd } from '@cli-bridge/shared';
import type { Redis } from 'ioredis';

export type JobEnd =
  | { status: 'completed'; value: unknown }
  | { status: 'failed'; reason: string }
  | { status: 'timeout' }
  /** The API is shutting down and stopped waiting (the job goes on). */
  | { status: 'abandoned' };

export interface JobWait {
  readonly ended: Promise<JobEnd>;
  /** The job is in the queue: from now on its stored outcome is read when no reply comes. */
  queued(): void;
  /** Stops waiting (the promise resolves `abandoned`). */
  cancel(): void;
}

/** This process's reply channel and the subscriber connection it is heard on (its own). */
export interface ReplyChannel {
  subscriber: Redis;
  channel: string;
}

export interface JobWaitersDeps {
  replies: ReplyChannel;
  /** The jobs' stored outcomes, in order (undefined: not ended yet, or unreadable now). */
  storedEnds: (jobIds: string[]) => Promise<(StoredJobEnd | undefined)[]>;
  /** How long a queued wait goes unanswered before its job's outcome is read, and how often (ms). */
  fallbackMs?: number;
  /** How often a cancel's confirmation is read (ms). */
  confirmPollMs?: number;
}

/**
 * What a job removed from its queue ended as, for whoever waited for it: removal is a cancel (a
 * queued job deleted, its key revoked). Retention removes finished jobs too, but only the oldest
 * past JOB_RETENTION_COUNT per queue: a job that ended a second ago only if that many ended since.
 */
const REMOVED_REASON = encodeFailure('cancelled', 'The job was removed before it finished');

function fromStored(end: StoredJobEnd): Exclude<JobEnd, { status: 'timeout' | 'abandoned' }> {
  return end.status === 'gone' ? { status: 'failed', reason: REMOVED_REASON } : end;
}

interface Waiter {
  settle: (end: JobEnd) => void;
  /** Since when its job is in the queue (epoch ms); undefined before. */
  queuedAt?: number;
}

export function createJobWaiters(deps: JobWaitersDeps) {
  const { replies } = deps;
  const fallbackMs = deps.fallbackMs ?? 1_000;
  const confirmPollMs = deps.confirmPollMs ?? 50;
  const waiting = new Map<string, Set<Waiter>>();
  const dispatch = (jobId: string, end: JobEnd) => {
    const set = waiting.get(jobId);
    if (!set) return;
    waiting.delete(jobId);
    for (const w of set) w.settle(end);
  };

  replies.subscriber.on('message', (channel: string, message: string) => {
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

  /** Reads the stored outcome of every queued wait older than `minAgeMs`, and settles the ended. */
  let sweeping = false;
  async function sweep(minAgeMs: number): Promise<void> {
    if (sweeping) return;
    sweeping = true;
    try {
      const now = Date.now();
      const ids = [...waiting]
        .filter(([, set]) => [...set].some((w) => w.queuedAt !== undefined && now - w.queuedAt >= minAgeMs))
        .map(([id]) => id);
      if (ids.length === 0) return;
      const ends = await deps.storedEnds(ids).catch(() => []);
      ends.forEach((end, i) => {
        if (end) dispatch(ids[i]!, fromStored(end));
      });
    } finally {
      sweeping = false;
    }
  }
  const sweeper = setInterval(() => void sweep(fallbackMs), fallbackMs);
  sweeper.unref();
  // ioredis subscribes again by itself after a reconnect; what was published meanwhile is lost.
  let connectedBefore = false;
  const onReady = () => {
    if (connectedBefore) void sweep(0);
    connectedBefore = true;
  };
  replies.subscriber.on('ready', onReady);
  const subscribed = replies.subscriber.subscribe(replies.channel).then(
    () => {},
    () => {},
  );

  /** Starts listening for the end of job `jobId`; `timeoutMs` later it resolves `timeout`. */
  function expect(jobId: string, timeoutMs: number): JobWait {
    const waiter: Waiter = { settle: () => {} };
    const ended = new Promise<JobEnd>((resolve) => {
      const timer = setTimeout(() => waiter.settle({ status: 'timeout' }), timeoutMs);
      waiter.settle = (end) => {
        clearTimeout(timer);
        const set = waiting.get(jobId);
        set?.delete(waiter);
        if (set?.size === 0) waiting.delete(jobId);
        resolve(end);
      };
    });
    let set = waiting.get(jobId);
    if (!set) waiting.set(jobId, (set = new Set()));
    set.add(waiter);
    return {
      ended,
      queued: () => {
        waiter.queuedAt ??= Date.now();
      },
      cancel: () => waiter.settle({ status: 'abandoned' }),
    };
  }

  return {
    expect,

    /** What a sync job names as its `replyTo`. */
    replyTo: replies.channel,

    /** Resolves once the reply channel is subscribed (start-up waits for it, bounded). */
    ready: (): Promise<void> => subscribed,

    /** Waits for a job that may already have ended, reading its outcome every `confirmPollMs`. */
    async untilEnded(job: GenerateJob, timeoutMs: number): Promise<JobEnd> {
      const jobId = job.id!;
      const wait = expect(jobId, timeoutMs);
      wait.queued();
      let over = false;
      void wait.ended.finally(() => (over = true));
      while (!over) {
        const [end] = await deps.storedEnds([jobId]).catch(() => [undefined]);
        if (end) {
          dispatch(jobId, fromStored(end));
          break;
        }
        await new Promise((r) => setTimeout(r, confirmPollMs));
      }
      return wait.ended;
    },

    /** Every wait in progress resolves `abandoned` (shutdown); the fallback stops. */
    abandonAll(): void {
      clearInterval(sweeper);
      for (const [, set] of waiting) for (const w of [...set]) w.settle({ status: 'abandoned' });
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
