/**
 * Jobs as a client sees them: submit (idempotent), look up, list, cancel. A job is visible only to
 * the key that made it: any other key gets 404, never 403, so job ids reveal nothing.
 */
import {
  BridgeError,
  CANCELLED_ERROR,
  decodeFailure,
  jobOwner,
  generateResultSchema,
  newJobId,
  providerOfJobId,
  toGenerateResponse,
  waitListPosition,
  type Caller,
  type GenerateJob,
  type GenerateRequest,
  type GenerateResponse,
  type Holds,
  type JobEvents,
  type Provider,
  type Settlement,
} from '@cli-bridge/shared';
import type { ApiClients } from './clients.js';
import type { GenerateService } from './generate.service.js';
import type { Idempotency } from './idempotency.service.js';
import type { JobWaiters } from './job-waiters.js';

export type JobStatus = 'queued' | 'running' | 'waiting_for_reset' | 'completed' | 'failed' | 'cancelled';
export const JOB_STATUSES: readonly JobStatus[] = [
  'queued',
  'running',
  'waiting_for_reset',
  'completed',
  'failed',
  'cancelled',
];

export interface JobView {
  id: string;
  status: JobStatus;
  provider: Provider;
  model: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** 1 = next to run; only while queued (or waiting for a reset). */
  queue_position?: number;
  /** `waiting_for_reset`: when the first of the provider's held accounts resets (ISO time). */
  resets_at?: string;
  result?: GenerateResponse;
  error?: { type: string; message: string };
}

interface Tombstone {
  id: string;
  /** The owning key's id (absent in tombstones written before key ids: then `keyName` is it). */
  keyId?: string;
  keyName: string;
  provider: Provider;
  model: string;
  created_at: string;
  finished_at: string;
}

export interface JobsServiceDeps extends Pick<ApiClients, 'config' | 'redis' | 'keys' | 'queues'> {
  generate: GenerateService;
  settlement: Settlement;
  events: JobEvents;
  idempotency: Idempotency;
  waiters: JobWaiters;
  holds: Holds;
}

/** A status-filtered page reads at most this many times `limit` of the key's jobs. */
const LIST_SCAN_FACTOR = 5;

/** How long DELETE waits for a running job's worker to confirm the kill (ms). */
const CANCEL_CONFIRM_MS = 5_000;

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

export function createJobsService(deps: JobsServiceDeps) {
  const { redis, keys, config } = deps;
  const notFound = (id: string) =>
    new BridgeError(
      'not_found',
      `No job ${id} for this key (finished jobs are kept for ${config.JOB_RESULT_TTL_S} s, then removed)`,
    );

  /** The job, if it exists and belongs to key `keyId`. */
  async function load(
    keyId: string,
    id: string,
  ): Promise<{ job?: GenerateJob; tomb?: Tombstone; provider: Provider }> {
    const provider = providerOfJobId(id);
    if (!provider) throw notFound(id);
    const job = await deps.queues[provider].getJob(id);
    if (job) {
      if (!job.data || jobOwner(job.data) !== keyId) throw notFound(id);
      return { job, provider };
    }
    const raw = await redis.get(keys.jobTombstone(id));
    const tomb = raw ? (JSON.parse(raw) as Tombstone) : undefined;
    if (!tomb || jobOwner(tomb) !== keyId) throw notFound(id);
    return { tomb, provider };
  }

  /** A job as its owner sees it; `position` also reads its place in line (a queued job). */
  async function viewOf(
    loaded: GenerateJob,
    provider: Provider,
    opts: { position: boolean; exhausted?: Holds['exhausted'] } = { position: true },
  ): Promise<JobView> {
    const id = loaded.id!;
    const state = await loaded.getState();
    // The job may have finished between its read and its state's: then read it again, so its
    // result (or error) and finish time go with the state.
    const finished = state === 'completed' || state === 'failed';
    const job =
      finished && loaded.finishedOn === undefined
        ? ((await deps.queues[provider].getJob(id)) ?? loaded)
        : loaded;
    const base = {
      id,
      provider,
      model: job.data.model,
      created_at: iso(job.timestamp)!,
      started_at: iso(job.processedOn),
      finished_at: iso(job.finishedOn),
    };
    if (state === 'completed') {
      const parsed = generateResultSchema.safeParse(job.returnvalue);
      return parsed.success
        ? { ...base, status: 'completed', result: toGenerateResponse(parsed.data, id) }
        : { ...base, status: 'failed', error: { type: 'provider_error', message: 'malformed result' } };
    }
    if (state === 'failed') {
      const error = decodeFailure(job.failedReason);
      return { ...base, status: error.type === 'cancelled' ? 'cancelled' : 'failed', error };
    }
    if (state === 'active') return { ...base, status: 'running' };
    const view: JobView = { ...base, status: 'queued', started_at: null, finished_at: null };
    if (state === 'waiting' || state === 'prioritized') {
      // Every account of the provider is held: the job runs after the first reset.
      const exhausted = await (opts.exhausted ?? deps.holds.exhausted)(provider);
      if (exhausted) {
        view.status = 'waiting_for_reset';
        view.resets_at = new Date(exhausted.until).toISOString();
      }
      const position = opts.position ? await waitListPosition(deps.queues[provider], redis, id) : undefined;
      if (position !== undefined) view.queue_position = position;
    }
    return view;
  }

  function tombView(t: Tombstone): JobView {
    return {
      id: t.id,
      status: 'cancelled',
      provider: t.provider,
      model: t.model,
      created_at: t.created_at,
      started_at: null,
      finished_at: t.finished_at,
      error: { ...CANCELLED_ERROR },
    };
  }

  async function view(keyId: string, id: string): Promise<JobView> {
    const { job, tomb, provider } = await load(keyId, id);
    return job ? viewOf(job, provider) : tombView(tomb!);
  }

  /**
   * Cancels a job: a queued one is removed, a running one's CLI is killed on whichever worker runs
   * it (published through Redis; a flag covers a worker that picks the job up a moment later).
   * Usage is settled once either way. Returns false when the job had already finished.
   */
  async function cancelJob(job: GenerateJob, provider: Provider): Promise<boolean> {
    const id = job.id!;
    await redis.set(keys.cancelRequested(id), '1', 'EX', config.JOB_RESULT_TTL_S);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return false;
    if (state !== 'active' && (await deps.queues[provider].remove(id)) === 1) {
      const now = Date.now();
      const tomb: Tombstone = {
        id,
        keyId: jobOwner(job.data),
        keyName: job.data.keyName,
        provider,
        model: job.data.model,
        created_at: new Date(job.timestamp).toISOString(),
        finished_at: new Date(now).toISOString(),
      };
      await redis.set(keys.jobTombstone(id), JSON.stringify(tomb), 'EX', config.JOB_RESULT_TTL_S);
      await deps.settlement.removedWhileQueued({ id, data: job.data, timestamp: job.timestamp });
      await deps.events.failed(id, { ...CANCELLED_ERROR });
      return true;
    }
    await redis.publish(keys.cancelChannel, JSON.stringify({ jobId: id }));
    return true;
  }

  return {
    view,
    cancelJob,

    /** DELETE /jobs/:id: the job's view once cancelled; 409 if it had already finished. */
    async cancel(keyId: string, id: string): Promise<JobView> {
      const { job, tomb, provider } = await load(keyId, id);
      if (!job) throw new BridgeError('conflict', `Job ${tomb!.id} was already cancelled`);
      if (!(await cancelJob(job, provider)))
        throw new BridgeError('conflict', `Job ${id} has already finished`);
      // Wait (bounded) for the worker to confirm; the view then says `cancelled`.
      await deps.waiters.untilEnded(job, CANCEL_CONFIRM_MS);
      return view(keyId, id);
    },

    /**
     * A revoked key's jobs: those still queued are removed (never run), running ones are killed.
     * Its records are gone already, so nothing is looked up by owner.
     */
    async cancelAll(jobIds: string[]): Promise<void> {
      for (const id of jobIds) {
        const provider = providerOfJobId(id);
        const job = provider && (await deps.queues[provider].getJob(id));
        if (job) await cancelJob(job, provider).catch(() => false);
      }
    },

    /**
     * The caller's jobs, newest first, a page at a time: the work is bounded by the page, not the
     * key's history. It reads at most `limit × LIST_SCAN_FACTOR` of the key's most recent jobs
     * after `cursor` (in parallel), keeps those with `status`, and says where to go on from
     * (`next_cursor`, absent at the end), so a rare status costs several short pages, never one
     * long one.
     */
    async list(
      keyId: string,
      opts: { status?: JobStatus; limit: number; cursor?: number },
    ): Promise<{ jobs: JobView[]; next_cursor?: number }> {
      const idx = keys.keyJobs(keyId);
      const start = opts.cursor ?? 0;
      const scan = opts.status ? opts.limit * LIST_SCAN_FACTOR : opts.limit;
      const ids = await redis.zrevrange(idx, start, start + scan - 1);
      // Whether a provider's accounts are all held is read once per page, not once per job.
      const readings = new Map<Provider, ReturnType<Holds['exhausted']>>();
      const exhausted = (p: Provider) => {
        if (!readings.has(p)) readings.set(p, deps.holds.exhausted(p));
        return readings.get(p)!;
      };
      const views = await Promise.all(
        ids.map(async (id) => {
          const provider = providerOfJobId(id);
          const job = provider && (await deps.queues[provider].getJob(id));
          if (job && provider) return viewOf(job, provider, { position: false, exhausted });
          const raw = await redis.get(keys.jobTombstone(id));
          return raw ? tombView(JSON.parse(raw) as Tombstone) : undefined; // expired: skipped
        }),
      );
      const jobs: JobView[] = [];
      let used = 0;
      for (const v of views) {
        used++;
        if (v && (!opts.status || v.status === opts.status)) jobs.push(v);
        if (jobs.length === opts.limit) break;
      }
      const more = ids.length === scan || used < ids.length;
      return more ? { jobs, next_cursor: start + used } : { jobs };
    },

    /**
     * POST /jobs. With an Idempotency-Key, a repeat of the same request gives the same job
     * (created: false); see idempotency.service.ts.
     */
    async submit(
      caller: Caller,
      provider: Provider,
      request: GenerateRequest,
      opts: { idempotencyKey?: string; requestId?: string },
    ): Promise<{ view: JobView; created: boolean }> {
      // The answer describes the job as submitted: a worker may already have it, but the
      // client learns that by polling.
      const submitNew = async (jobId: string) => {
        const job = await deps.generate.submit({
          provider,
          request: { ...request, stream: true },
          caller,
          requestId: opts.requestId,
          jobId,
          requireWorker: false,
        });
        const view: JobView = {
          id: jobId,
          status: 'queued',
          provider,
          model: job.data.model,
          created_at: new Date(job.timestamp).toISOString(),
          started_at: null,
          finished_at: null,
        };
        return { view, created: true };
      };
      if (!opts.idempotencyKey) return submitNew(newJobId(provider));
      const { value } = await deps.idempotency.once(
        caller.keyId,
        opts.idempotencyKey,
        [provider, request.systemPrompt, request.userPrompt, request.model ?? null],
        () => newJobId(provider),
        submitNew,
        async (jobId) => ({ view: await view(caller.keyId, jobId), created: false }),
      );
      return value;
    },
  };
}

export type JobsService = ReturnType<typeof createJobsService>;
