/**
 * Submitting generate jobs and waiting for them. Framework-neutral: takes plain values, returns
 * plain values, throws BridgeError.
 */
import type { Redis } from 'ioredis';
import {
  BridgeError,
  newJobId,
  type Admission,
  type RedisKeys,
  decodeFailure,
  GENERATE_JOB_NAME,
  generateResultSchema,
  toGenerateResponse,
  type Config,
  type GenerateJob,
  type GenerateQueue,
  type GenerateRequest,
  type GenerateResponse,
  type Logger,
  type PricingStore,
  type Provider,
  type QueueEvents,
  type WorkerRegistry,
} from '@cli-bridge/shared';
import { resolveModel } from './model-policy.js';

export interface GenerateServiceDeps {
  config: Config;
  logger: Logger;
  queues: Record<Provider, GenerateQueue>;
  queueEvents: Record<Provider, QueueEvents>;
  registry: WorkerRegistry;
  pricing: PricingStore;
  admission: Admission;
  redis: Redis;
  keys: RedisKeys;
}

export interface SubmitInput {
  provider: Provider;
  request: GenerateRequest;
  keyName: string;
  requestId?: string;
  /** Chosen by the caller when it must know the id first (idempotency); else a new one. */
  jobId?: string;
  /** Sync routes need a live worker now (else 503); async jobs may wait for one. Default true. */
  requireWorker?: boolean;
}

export function createGenerateService(deps: GenerateServiceDeps) {
  const { config } = deps;

  /** 503 when no live worker serves the provider; 429 while its subscription is exhausted. */
  async function assertServable(provider: Provider): Promise<void> {
    const live = await deps.registry.liveProviders();
    if (live[provider] === 0) {
      throw new BridgeError('unavailable', `No worker is serving ${provider} right now`, { retryAfterS: 10 });
    }
    const heldMs = await deps.queues[provider].getRateLimitTtl();
    if (heldMs > 0) {
      throw new BridgeError(
        'provider_exhausted',
        `The ${provider} subscription's usage limit is reached; jobs resume when it resets`,
        {
          retryAfterS: Math.ceil(heldMs / 1000),
        },
      );
    }
  }

  /**
   * Validates the model, checks the provider can serve, admits the request against the key's
   * limits (one atomic step that also takes the concurrency lease) and enqueues the job.
   */
  async function submit(input: SubmitInput): Promise<GenerateJob> {
    const model = resolveModel(input.provider, input.request.model, config, deps.pricing);
    if (input.requireWorker !== false) await assertServable(input.provider);
    const jobId = input.jobId ?? newJobId(input.provider);
    await deps.admission.admit(input.keyName, input.provider, jobId);
    let job: GenerateJob;
    try {
      job = await deps.queues[input.provider].add(
        GENERATE_JOB_NAME,
        {
          v: 1,
          provider: input.provider,
          keyName: input.keyName,
          systemPrompt: input.request.systemPrompt,
          userPrompt: input.request.userPrompt,
          model,
          stream: input.request.stream ?? false,
          requestId: input.requestId,
          submittedAt: Date.now(),
        },
        { jobId },
      );
    } catch (err) {
      // Never enqueued: give the slot back (the request still counts, as it was admitted).
      await deps.admission.release(input.keyName, jobId).catch(() => {});
      throw err;
    }
    // The key's own job list (GET /jobs).
    await deps.redis.zadd(deps.keys.keyJobs(input.keyName), job.timestamp, jobId);
    return job;
  }

  /**
   * Waits for the job's outcome. Past `timeoutMs` → 504 `timeout` carrying the job id (the job
   * keeps running and can be polled).
   */
  async function waitForResult(
    provider: Provider,
    job: GenerateJob,
    timeoutMs: number,
  ): Promise<GenerateResponse> {
    const jobId = job.id!;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BridgeError(
              'timeout',
              `The job did not finish within ${timeoutMs} ms; poll GET /jobs/${jobId} for its result`,
              {
                details: { job_id: jobId },
              },
            ),
          ),
        timeoutMs,
      );
    });
    // BullMQ's own ttl, a little later than ours, removes its listeners if nothing arrives.
    const finished = job.waitUntilFinished(deps.queueEvents[provider], timeoutMs + 1_000);
    finished.catch(() => {});
    try {
      const value = await Promise.race([finished, timedOut]);
      const parsed = generateResultSchema.safeParse(value);
      if (!parsed.success) {
        throw new BridgeError('provider_error', 'The worker returned a malformed result', {
          details: { job_id: jobId },
        });
      }
      return toGenerateResponse(parsed.data, jobId);
    } catch (err) {
      if (err instanceof BridgeError) throw err;
      const { type, message } = decodeFailure(err instanceof Error ? err.message : String(err));
      throw new BridgeError(type, message, {
        details: { job_id: jobId },
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  return { assertServable, submit, waitForResult };
}

export type GenerateService = ReturnType<typeof createGenerateService>;
