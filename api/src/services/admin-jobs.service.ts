/**
 * Jobs as the admin sees them: any key's, by state, with retry and removal. Reads go through the
 * queue helpers of `shared/src/queue.ts`; cancelling reuses the client's cancel path and a retry
 * is admitted again like a new request of the job's key.
 */
import {
  ADMIN_JOB_STATES,
  adminJobState,
  BridgeError,
  briefOf,
  decodeFailure,
  generateJobDataSchema,
  generateResultSchema,
  jobOwner,
  jobsInState,
  microsToUsd,
  PROVIDERS,
  providerOfJobId,
  removeFinishedJob,
  retryFailedJob,
  type Admission,
  type AdminJobState,
  type GenerateJob,
  type JobBrief,
  type Provider,
} from '@cli-bridge/shared';
import { mergePage, type PageSource } from './admin-job-pages.js';
import type { ApiClients } from './clients.js';
import type { JobsService } from './jobs.service.js';
import type { JobWaiters } from './job-waiters.js';

export interface JobSummary {
  id: string;
  provider: Provider;
  state: AdminJobState;
  /** The key's name when the job was made. */
  key: string | null;
  model: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  wait_ms: number | null;
  run_ms: number | null;
  attempts: number;
  error: { type: string; message: string } | null;
}

export interface JobDetail extends JobSummary {
  result_preview: string | null;
  usage: Record<string, number> | null;
}

export interface AdminJobsDeps extends Pick<ApiClients, 'redis' | 'keys' | 'queues'> {
  admission: Admission;
  jobs: JobsService;
  waiters: JobWaiters;
}

/** A key-filtered page reads up to this many times `limit` of each list. */
const KEY_SCAN_FACTOR = 5;
/** How long DELETE waits for a running job's worker to confirm the kill (ms). */
const CANCEL_CONFIRM_MS = 5_000;
const PREVIEW_CHARS = 500;

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

function summarize(job: JobBrief, provider: Provider, state: AdminJobState): JobSummary {
  const { timestamp, processedOn, finishedOn } = job;
  return {
    id: job.id,
    provider,
    state,
    key: job.keyName ?? null,
    model: job.model ?? null,
    created_at: iso(timestamp)!,
    started_at: iso(processedOn),
    finished_at: iso(finishedOn),
    wait_ms: processedOn ? Math.max(0, processedOn - timestamp) : null,
    run_ms: processedOn && finishedOn ? Math.max(0, finishedOn - processedOn) : null,
    attempts: job.attemptsMade,
    error: state === 'failed' ? decodeFailure(job.failedReason) : null,
  };
}

export function createAdminJobs(deps: AdminJobsDeps) {
  const { redis, keys } = deps;
  const notFound = (id: string) => new BridgeError('not_found', `No job ${id} in the queues`);

  /** The job and its state; 404 when BullMQ no longer holds it (or never did). */
  async function load(id: string): Promise<{ job: GenerateJob; provider: Provider; state: AdminJobState }> {
    const provider = providerOfJobId(id);
    const state = provider && (await adminJobState(deps.queues[provider], id));
    const job = state && (await deps.queues[provider].getJob(id));
    if (!provider || !job || !state) throw notFound(id);
    return { job, provider, state };
  }

  async function reread(id: string): Promise<JobSummary> {
    const { job, provider, state } = await load(id);
    return summarize(briefOf(job), provider, state);
  }

  return {
    /** Newest first, over the chosen providers and states; `next_cursor` null at the end. */
    async list(q: {
      state?: AdminJobState;
      provider?: Provider;
      key?: string;
      limit: number;
      cursor?: string;
    }): Promise<{ jobs: JobSummary[]; next_cursor: string | null }> {
      const states = q.state ? [q.state] : ADMIN_JOB_STATES;
      const providers = q.provider ? [q.provider] : PROVIDERS;
      const sources: PageSource<JobSummary>[] = providers.flatMap((p) =>
        states.map((s) => ({
          id: `${p}:${s}`,
          read: async (start: number, count: number) =>
            (await jobsInState(deps.queues[p], redis, s, start, count)).map((j) => j && summarize(j, p, s)),
        })),
      );
      const page = await mergePage({
        sources,
        query: JSON.stringify([q.state ?? null, q.provider ?? null, q.key ?? null]),
        cursor: q.cursor,
        limit: q.limit,
        window: q.key ? q.limit * KEY_SCAN_FACTOR : q.limit,
        // Finished jobs by their end, running ones by their start, the others by their creation.
        time: (j) => Date.parse(j.finished_at ?? j.started_at ?? j.created_at),
        keep: (j) => q.key === undefined || j.key === q.key,
      });
      return { jobs: page.items, next_cursor: page.next_cursor };
    },

    /** One job, with the start of its answer and its usage when it completed. */
    async get(id: string): Promise<JobDetail> {
      const { job, provider, state } = await load(id);
      const result = state === 'completed' ? generateResultSchema.safeParse(job.returnvalue) : undefined;
      const done = result?.success ? result.data : undefined;
      return {
        ...summarize(briefOf(job), provider, state),
        result_preview: done ? done.text.slice(0, PREVIEW_CHARS) : null,
        usage: done ? { ...done.usage, cost_usd: microsToUsd(done.cost_micros) } : null,
      };
    },

    /**
     * Runs a failed job again under its id, admitted again like a new request of its key (limits,
     * lease, reservation). 409 when it is not failed or its key was revoked.
     */
    async retry(id: string): Promise<JobSummary> {
      const { job, provider, state } = await load(id);
      if (state !== 'failed')
        throw new BridgeError('conflict', `Job ${id} is ${state}: only a failed job is retried`);
      const parsed = generateJobDataSchema.safeParse(job.data);
      if (!parsed.success) throw new BridgeError('conflict', `Job ${id} has a malformed payload`);
      const caller = { keyId: jobOwner(parsed.data), keyName: parsed.data.keyName };
      let reservedMicros: number;
      try {
        ({ reservedMicros } = await deps.admission.admit(caller, provider, id));
      } catch (err) {
        if (err instanceof BridgeError && err.type === 'unauthorized')
          throw new BridgeError('conflict', `The key of job ${id} was revoked`);
        throw err;
      }
      try {
        // The last run was settled and may have been cancelled: the new run starts clean, with
        // an event stream of its own.
        await redis.del(keys.settled(id), keys.cancelRequested(id), keys.jobEvents(id));
        // The run's cost bound is what admission reserved now (the key's dollar limits may have
        // changed since the job was made).
        if ((parsed.data.costBoundMicros ?? 0) !== reservedMicros) {
          const { costBoundMicros: _old, ...data } = parsed.data;
          await job.updateData(reservedMicros > 0 ? { ...data, costBoundMicros: reservedMicros } : data);
        }
        await retryFailedJob(job);
      } catch (err) {
        await deps.admission.release(caller.keyId, id).catch(() => {});
        // BullMQ refuses a job that left the failed state meanwhile (retried or removed).
        if (err instanceof Error && /not in the failed state|Missing key/i.test(err.message))
          throw new BridgeError('conflict', `Job ${id} is no longer failed`, { cause: err });
        throw err;
      }
      return reread(id);
    },

    /**
     * Cancels a queued or running job through the client's cancel path (settled as cancelled),
     * removes a finished one.
     */
    async remove(id: string): Promise<{ id: string; removed: true; state_before: AdminJobState }> {
      const { job, provider, state } = await load(id);
      const live = state === 'waiting' || state === 'delayed' || state === 'active';
      if (live && (await deps.jobs.cancelJob(job, provider))) {
        await deps.waiters.untilEnded(job, CANCEL_CONFIRM_MS);
      } else {
        await removeFinishedJob(job);
        await redis.del(keys.jobEvents(id));
      }
      return { id, removed: true, state_before: state };
    },
  };
}

export type AdminJobs = ReturnType<typeof createAdminJobs>;
