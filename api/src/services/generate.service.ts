/**
 * Submitting generate jobs and waiting for them. Framework-neutral: takes plain values, returns
 * plain values, throws BridgeError.
 */
import {
  BridgeError,
  newJobId,
  HEARTBEAT_TTL_FACTOR,
  type Admission,
  type Admitted,
  type Caller,
  decodeFailure,
  GENERATE_JOB_NAME,
  generateResultSchema,
  toGenerateResponse,
  type GenerateJob,
  type GenerateJobData,
  type GenerateRequest,
  type GenerateResponse,
  type Provider,
  type StageTrace,
  type Holds,
} from '@cli-bridge/shared';
import type { ApiClients } from './clients.js';
import type { JobWaiters } from './job-waiters.js';
import { resolveModel } from './model-policy.js';
import { waitForReplicas } from './replica-wait.js';

/** How often a sync wait re-reads its provider's holds, and how long a reading is shared (ms). */
const HOLD_CACHE_MS = 1_000;

export interface GenerateServiceDeps extends Pick<ApiClients, 'config' | 'queues' | 'pricing'> {
  admission: Admission;
  waiters: JobWaiters;
  holds: Holds;
}

export interface SubmitInput {
  provider: Provider;
  request: GenerateRequest;
  /** What only the compatible routes ask for: structured output, images. */
  extras?: Pick<GenerateJobData, 'output' | 'images'>;
  /** The authenticated caller. */
  caller: Caller;
  requestId?: string;
  /** Chosen by the caller when it must know the id first (idempotency); else a new one. */
  jobId?: string;
  /** Sync routes need a live worker now (else 503); async jobs may wait for one. Default true. */
  requireWorker?: boolean;
  /** TRACE_STAGES: the request's stage marks (absent when tracing is off). */
  trace?: StageTrace;
  /** Sees the admission's outcome before the job is queued (rate-limit headers). */
  onAdmitted?: (admitted: Admitted) => void;
  /** Set by `run`: the channel the worker tells of the job's end (job-waiters.ts). */
  replyTo?: string;
}

export function createGenerateService(deps: GenerateServiceDeps) {
  const { config } = deps;

  // Whether every account of a provider is held, and until when: read for the sync requests
  // waiting on a provider at most once a second per API process, however many they are.
  const readings = new Map<Provider, { readAt: number; until: number | undefined }>();
  async function exhaustedUntil(provider: Provider, notBefore: number): Promise<number | undefined> {
    const cached = readings.get(provider);
    if (cached && cached.readAt >= notBefore) return cached.until;
    const now = Date.now();
    const until = (await deps.holds.exhausted(provider, now))?.until;
    readings.set(provider, { readAt: now, until });
    return until;
  }

  /**
   * Validates the model, checks the provider can serve, admits the request against the key's
   * limits (one atomic step that also takes the concurrency lease) and enqueues the job.
   */
  async function submit(input: SubmitInput): Promise<GenerateJob> {
    const model = resolveModel(input.provider, input.request.model, config, deps.pricing);
    const jobId = input.jobId ?? newJobId(input.provider);
    const sync = input.requireWorker !== false;
    const { keyId, keyName } = input.caller;
    const admitted = await deps.admission.admit(input.caller, input.provider, jobId, {
      workerTtlMs: sync ? config.WORKER_HEARTBEAT_MS * HEARTBEAT_TTL_FACTOR : 0,
      // A sync caller would only time out while every account is held past its wait.
      waitMs: sync ? config.SYNC_WAIT_TIMEOUT_MS : 0,
    });
    const { reservedMicros } = admitted;
    input.onAdmitted?.(admitted);
    input.trace?.mark('admitted');
    let job: GenerateJob;
    try {
      job = await deps.queues[input.provider].add(
        GENERATE_JOB_NAME,
        {
          v: 1,
          provider: input.provider,
          keyName,
          keyId,
          systemPrompt: input.request.systemPrompt,
          userPrompt: input.request.userPrompt,
          model,
          stream: input.request.stream ?? false,
          requestId: input.requestId,
          ...(input.replyTo ? { replyTo: input.replyTo } : {}),
          submittedAt: Date.now(),
          ...(reservedMicros > 0 ? { costBoundMicros: reservedMicros } : {}),
          ...input.extras,
        },
        { jobId },
      );
    } catch (err) {
      // Never enqueued: give the slot back (the request still counts, as it was admitted).
      await deps.admission.release(keyId, jobId).catch(() => {});
      throw err;
    }
    await waitForReplicas(deps.queues[input.provider], config.REDIS_WAIT_REPLICAS, jobId);
    input.trace?.mark('queued');
    return job;
  }

  /**
   * A synchronous generate: submits the job and waits for its outcome. `onQueued` sees the job as
   * soon as it is in the queue (to cancel it if the client goes away). Past `timeoutMs` → 504
   * `timeout`; when the API shuts down first → 503 `unavailable`; both carry the job id (the job
   * goes on and can be polled).
   */
  async function run(
    input: SubmitInput,
    timeoutMs: number,
    onQueued?: (job: GenerateJob) => void,
  ): Promise<GenerateResponse> {
    const jobId = input.jobId ?? newJobId(input.provider);
    // Listening starts before the job exists, so its end cannot be missed.
    const wait = deps.waiters.expect(jobId, timeoutMs);
    if (input.trace) input.trace.jobId = jobId;
    try {
      // Told of its end on this process's reply channel; its stored outcome is the fallback.
      const job = await submit({ ...input, jobId, replyTo: deps.waiters.replyTo });
      wait.queued();
      onQueued?.(job);
    } catch (err) {
      wait.cancel();
      throw err;
    }
    const exhausted = watchExhausted(input.provider, Date.now() + timeoutMs);
    const end = await Promise.race([wait.ended, exhausted.found]);
    exhausted.stop();
    input.trace?.mark('ended');
    const details = { job_id: jobId };
    if (end.status === 'exhausted') {
      wait.cancel();
      const resetsAt = new Date(end.until).toISOString();
      throw new BridgeError(
        'provider_exhausted',
        `Every ${input.provider} account is at its usage limit until ${resetsAt}; the job waits and runs then: poll GET /jobs/${jobId} for its result`,
        {
          details: { ...details, resets_at: resetsAt },
          retryAfterS: Math.max(1, Math.ceil((end.until - Date.now()) / 1000)),
        },
      );
    }
    switch (end.status) {
      case 'completed': {
        const parsed = generateResultSchema.safeParse(end.value);
        if (!parsed.success) {
          throw new BridgeError('provider_error', 'The worker returned a malformed result', { details });
        }
        return toGenerateResponse(parsed.data, jobId);
      }
      case 'failed': {
        const { type, message } = decodeFailure(end.reason);
        throw new BridgeError(type, message, { details });
      }
      case 'timeout':
        throw new BridgeError(
          'timeout',
          `The job did not finish within ${timeoutMs} ms; poll GET /jobs/${jobId} for its result`,
          { details },
        );
      case 'abandoned':
        throw new BridgeError(
          'unavailable',
          `The bridge is restarting; the job goes on: poll GET /jobs/${jobId} for its result`,
          { details, retryAfterS: 5 },
        );
      default:
        throw new Error(`unknown job end ${JSON.stringify(end satisfies never)}`);
    }
  }

  /**
   * While a sync request waits: found once every account of the provider is held until after
   * the request's deadline (it would only time out), read every HOLD_CACHE_MS.
   */
  function watchExhausted(provider: Provider, deadline: number) {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const found = new Promise<{ status: 'exhausted'; until: number }>((resolve) => {
      // Admission has just checked the holds, in the step that admitted the job: the first
      // reading comes HOLD_CACHE_MS later, and readings may be shared, up to that old (most sync
      // requests end before the first one, and make no Redis call for it).
      const check = async () => {
        const until = await exhaustedUntil(provider, Date.now() - HOLD_CACHE_MS).catch(() => undefined);
        if (stopped) return;
        if (until !== undefined && until > deadline) return resolve({ status: 'exhausted', until });
        timer = setTimeout(() => void check(), HOLD_CACHE_MS);
      };
      timer = setTimeout(() => void check(), HOLD_CACHE_MS);
    });
    return {
      found,
      stop() {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  return { submit, run };
}

export type GenerateService = ReturnType<typeof createGenerateService>;
