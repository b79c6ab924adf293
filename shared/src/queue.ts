/**
 * The only module that imports BullMQ. Queue names, default job options, the factories for
 * queues and workers and the reads of BullMQ's own job records live here so the API and worker
 * agree on them.
 */
import {
  DelayedError,
  Job,
  Queue,
  UnrecoverableError,
  WaitingError,
  Worker,
  type JobsOptions,
  type Processor,
} from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { providerOfJobId, type GenerateJobData, type GenerateResult } from './jobs.js';
import type { Provider } from './providers.js';
import { redisScript } from './redis-script.js';

export { DelayedError, Job, UnrecoverableError, WaitingError, Worker };

export type GenerateJob = Job<GenerateJobData, GenerateResult>;
export type GenerateQueue = Queue<GenerateJobData, GenerateResult>;
export type GenerateWorker = Worker<GenerateJobData, GenerateResult>;
export type GenerateProcessor = Processor<GenerateJobData, GenerateResult>;

/** One queue per provider, named after it. */
function queueName(provider: Provider): string {
  return provider;
}

export const GENERATE_JOB_NAME = 'generate';

/** Retention and retry defaults for every generate job. */
export function defaultJobOptions(config: Config): JobsOptions {
  const retention = {
    age: config.JOB_RESULT_TTL_S,
    count: config.JOB_RETENTION_COUNT,
  };
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS, jitter: config.JOB_BACKOFF_JITTER },
    removeOnComplete: retention,
    removeOnFail: retention,
  };
}

export interface QueueDeps {
  connection: Redis;
  prefix: string;
}

export function createGenerateQueue(provider: Provider, deps: QueueDeps & { config: Config }): GenerateQueue {
  return new Queue<GenerateJobData, GenerateResult>(queueName(provider), {
    connection: deps.connection,
    prefix: deps.prefix,
    defaultJobOptions: defaultJobOptions(deps.config),
  });
}

/**
 * How long a worker that met a queue hold sleeps before it looks at the queue again (ms). BullMQ
 * sleeps until the hold ends, capped by this; a hold lifted by hand (`clearQueueHold`) is thus
 * seen within this time, for one cheap Redis call per worker and interval while a hold lasts.
 */
const HOLD_RECHECK_MS = 1_000;

/**
 * A hold (`queue.rateLimit`, see `queueHoldMs`) binds the workers' fetch only when the queue has a
 * rate-limit maximum: without one, BullMQ's fetch ignores it and a worker that wakes takes the
 * held job again, running the CLI into the same usage limit. The maximum is one no count of
 * started jobs reaches, and the value a hold sets: so it limits nothing but holds. Idempotent.
 */
export async function enableQueueHolds(queue: GenerateQueue): Promise<void> {
  // The window (ms) BullMQ counts started jobs in under that maximum; the count limits nothing.
  await queue.setGlobalRateLimit(Number.MAX_SAFE_INTEGER, 1_000);
}

/** BullMQ's `failedReason` for a job whose workers died under it more than `maxStalledCount` times. */
const STALLED_OUT = /stalled more than allowable limit/;

export interface WorkerOptions extends QueueDeps {
  concurrency: number;
  /** How long a job's lock lives without renewal before another worker may take it (ms). */
  lockDurationMs?: number;
  /** How often to look for stalled jobs (ms). */
  stalledIntervalMs?: number;
  /**
   * Called for a job BullMQ failed because its workers kept dying under it: such a job never
   * reaches the processor again, so this is where its books are closed.
   */
  onStalledOut?: (job: GenerateJob, reason: string) => void;
}

export function createGenerateWorker(
  provider: Provider,
  processor: GenerateProcessor,
  opts: WorkerOptions,
): GenerateWorker {
  const worker = new Worker<GenerateJobData, GenerateResult>(queueName(provider), processor, {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
    // A job whose worker died twice is failed clearly rather than retried forever.
    maxStalledCount: 1,
    maximumRateLimitDelay: HOLD_RECHECK_MS,
    autorun: false,
  });
  const onStalledOut = opts.onStalledOut;
  if (onStalledOut) {
    worker.on('failed', (job, err) => {
      if (job && STALLED_OUT.test(err.message)) onStalledOut(job, err.message);
    });
  }
  return worker;
}

/** How far into the line a position is looked for (LPOS MAXLEN): bounded work per lookup. */
const POSITION_SEARCH_MAX = 10_000;

/**
 * A waiting job's place in line (1 = next to run), or undefined when it is not in the wait list
 * or further back than POSITION_SEARCH_MAX. Reads BullMQ's own wait list (named by BullMQ), where
 * new jobs are pushed on the left and taken from the right: the search starts at the right.
 */
export async function waitListPosition(
  queue: GenerateQueue,
  redis: Redis,
  jobId: string,
): Promise<number | undefined> {
  const waitKey = queue.toKey('wait');
  const [pos, len] = await Promise.all([
    redis.lpos(waitKey, jobId, 'RANK', -1, 'MAXLEN', POSITION_SEARCH_MAX),
    redis.llen(waitKey),
  ]);
  return pos === null ? undefined : len - pos;
}

/** The job states the admin API speaks of (BullMQ's, with `prioritized` folded into `waiting`). */
export const ADMIN_JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export type AdminJobState = (typeof ADMIN_JOB_STATES)[number];

/** BullMQ's states behind each admin state (the bridge sets no priorities, but a waiting job is either). */
const BULLMQ_STATES = {
  waiting: ['waiting', 'prioritized'],
  active: ['active'],
  delayed: ['delayed'],
  failed: ['failed'],
  completed: ['completed'],
} as const;

/** Jobs per state in one queue. */
export async function queueCounts(queue: GenerateQueue): Promise<Record<AdminJobState, number>> {
  const c = await queue.getJobCounts(...ADMIN_JOB_STATES.flatMap((s) => BULLMQ_STATES[s]));
  const sum = (s: AdminJobState) => BULLMQ_STATES[s].reduce((n, t) => n + (c[t] ?? 0), 0);
  return Object.fromEntries(ADMIN_JOB_STATES.map((s) => [s, sum(s)])) as Record<AdminJobState, number>;
}

/** Stops workers from taking the queue's jobs (running ones go on); new jobs still queue. */
export const pauseQueue = (queue: GenerateQueue): Promise<void> => queue.pause();
export const resumeQueue = (queue: GenerateQueue): Promise<void> => queue.resume();
export const isQueuePaused = (queue: GenerateQueue): Promise<boolean> => queue.isPaused();

/**
 * A queue-wide hold: BullMQ's rate limit, which workers set while every account of the provider
 * is held (see holds.ts), so that none spins on the queue. How long it still lasts (ms, 0 = none),
 * and lifting it.
 */
export const queueHoldMs = (queue: GenerateQueue): Promise<number> => queue.getRateLimitTtl();
export async function clearQueueHold(queue: GenerateQueue): Promise<void> {
  await queue.removeRateLimitKey();
}

/** What a job list shows of a job, read without its prompts or its answer. */
export interface JobBrief {
  id: string;
  /** Created (epoch ms). */
  timestamp: number;
  processedOn?: number;
  finishedOn?: number;
  attemptsMade: number;
  failedReason?: string;
  keyName?: string;
  model?: string;
}

// KEYS: the jobs' hashes (BullMQ's field names). Per job: {} when it is gone, else timestamp,
// processedOn, finishedOn, attempts made, failed reason, and the key name and model of its payload
// (decoded here, so its prompts never cross the wire). Empty string = absent.
const JOB_BRIEFS = `
local function s(v) return type(v) == 'string' and v or '' end
local out = {}
for i, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, 'timestamp', 'processedOn', 'finishedOn', 'atm', 'failedReason', 'data')
  if f[1] then
    local ok, d = pcall(cjson.decode, f[6] or '')
    if not ok or type(d) ~= 'table' then d = {} end
    out[i] = {f[1], f[2] or '', f[3] or '', f[4] or '0', f[5] or '', s(d.keyName), s(d.model)}
  else
    out[i] = {}
  end
end
return out
`;

/**
 * Jobs in `state`, newest first, `count` of them from zero-based offset `start`, as briefs. A job
 * removed between the range read and its own read is undefined in its place, so offsets stay
 * exact. Prompts can be large: a page reads each job's few fields in one script.
 */
export async function jobsInState(
  queue: GenerateQueue,
  redis: Redis,
  state: AdminJobState,
  start: number,
  count: number,
): Promise<(JobBrief | undefined)[]> {
  // The ranges apply to each BullMQ state alike; `prioritized` is always empty (no priorities are
  // set), so the offsets are those of the one list that holds jobs.
  const ids = await queue.getRanges([...BULLMQ_STATES[state]], start, start + count - 1, false);
  if (ids.length === 0) return [];
  const rows = (await redisScript(redis, JOB_BRIEFS)(
    ids.map((id) => queue.toKey(id)),
    [],
  )) as string[][];
  const num = (v: string | undefined) => (v ? Number(v) : undefined);
  return ids.map((id, i) => {
    const r = rows[i];
    if (!r || r.length === 0) return undefined;
    return {
      id,
      timestamp: Number(r[0]),
      processedOn: num(r[1]),
      finishedOn: num(r[2]),
      attemptsMade: Number(r[3]),
      failedReason: r[4] || undefined,
      keyName: r[5] || undefined,
      model: r[6] || undefined,
    };
  });
}

/** The brief of a job already read whole. */
export function briefOf(job: GenerateJob): JobBrief {
  const data = (job.data ?? {}) as Partial<Record<string, unknown>>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    id: job.id!,
    timestamp: job.timestamp,
    processedOn: job.processedOn,
    finishedOn: job.finishedOn,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason,
    keyName: str(data.keyName),
    model: str(data.model),
  };
}

/**
 * Job `id`'s state in admin terms; undefined once BullMQ no longer holds it. Read it before the
 * job's record: the two reads are not one step, and a job seen finished is then read with its
 * final fields (the other order can pair a finished state with the record of the run before).
 */
export async function adminJobState(queue: GenerateQueue, id: string): Promise<AdminJobState | undefined> {
  const s = await queue.getJobState(id);
  if (s === 'prioritized' || s === 'waiting-children') return 'waiting';
  return (ADMIN_JOB_STATES as readonly string[]).includes(s) ? (s as AdminJobState) : undefined;
}

/** Moves a failed job back to the wait list, with its attempts counted from zero again. */
export function retryFailedJob(job: GenerateJob): Promise<void> {
  return job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
}

/** Removes a finished job and its data from the queue (a running one is cancelled instead). */
export function removeFinishedJob(job: GenerateJob): Promise<void> {
  return job.remove();
}

/** A job's outcome as BullMQ stored it: ended, or gone (removed, by a cancel or retention). */
export type StoredJobEnd =
  { status: 'completed'; value: unknown } | { status: 'failed'; reason: string } | { status: 'gone' };

/**
 * The stored outcome of each job (undefined while it has not ended, or for an id of no known
 * provider), read in one pipeline: BullMQ writes `finishedOn` when a job completes or fails for
 * good (not when it fails an attempt and waits to retry), with `returnvalue` or `failedReason`.
 */
export async function storedJobEnds(
  queues: Record<Provider, GenerateQueue>,
  redis: Redis,
  jobIds: string[],
): Promise<(StoredJobEnd | undefined)[]> {
  const pipeline = redis.pipeline();
  const known = jobIds.map((id) => {
    const provider = providerOfJobId(id);
    if (provider)
      pipeline.hmget(queues[provider].toKey(id), 'timestamp', 'finishedOn', 'returnvalue', 'failedReason');
    return provider !== undefined;
  });
  const rows = (await pipeline.exec()) ?? [];
  let next = 0;
  return known.map((isKnown): StoredJobEnd | undefined => {
    if (!isKnown) return undefined;
    const [err, fields] = rows[next++] ?? [];
    if (err || !Array.isArray(fields)) return undefined;
    const [timestamp, finishedOn, returnvalue, failedReason] = fields as (string | null)[];
    if (timestamp === null) return { status: 'gone' };
    if (finishedOn === null) return undefined;
    if (returnvalue !== null && returnvalue !== undefined) {
      try {
        return { status: 'completed', value: JSON.parse(returnvalue) };
      } catch {
        return { status: 'completed', value: undefined };
      }
    }
    return { status: 'failed', reason: failedReason ?? '' };
  });
}
