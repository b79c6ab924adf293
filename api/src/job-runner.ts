/**
 * Running a generate job for an HTTP request, synchronously or as an SSE stream: the one path
 * that /generate, /generate-codex and the OpenAI- and Anthropic-compatible routes share, so all
 * of them go through the same admission, limits, settlement, request logs, job ids and
 * cancel-on-disconnect (services.generate.run / submit, and followJob).
 */
import { newJobId, type GenerateJob, type GenerateResponse } from '@cli-bridge/shared';
import type { Response } from 'express';
import type { AppDeps } from './deps.js';
import { noteJob } from './middleware/request-metrics.js';
import type { SubmitInput } from './services/generate.service.js';
import { followJob, startSse, type EventRenderer } from './sse.js';

export interface StreamOptions {
  /** Renders each job event in the caller's dialect (default: the bridge's own events). */
  render?: EventRenderer;
  /** Written right after the SSE headers, before any event (a dialect's opening events). */
  prelude?: (jobId: string) => string;
}

export function createJobRunner({
  config,
  services,
  logger,
}: Pick<AppDeps, 'config' | 'services' | 'logger'>) {
  /** 'close' on the response fires for a finished answer and a vanished client alike. */
  const cancelOnDisconnect = (res: Response, job: GenerateJob) => {
    if (!config.CANCEL_ON_DISCONNECT) return;
    const cancel = () =>
      services.jobs
        .cancelJob(job, job.data.provider)
        .catch((err: unknown) => logger.warn({ jobId: job.id, err }, 'cancel on disconnect failed'));
    // Gone already, while its job was being queued: its 'close' has fired.
    if (res.destroyed) return void cancel();
    res.on('close', () => {
      if (!res.writableFinished) void cancel();
    });
  };

  /** Submits the job and waits for its outcome (errors are thrown as BridgeError). */
  function sync(input: SubmitInput, res: Response): Promise<GenerateResponse> {
    return services.generate.run(input, config.SYNC_WAIT_TIMEOUT_MS, (job) => {
      noteJob(res, job);
      cancelOnDisconnect(res, job);
    });
  }

  /**
   * Follows first (a 429 for too many streams comes before the job exists, as a JSON error),
   * then submits, then streams the job's events until `done` or the client leaves.
   */
  async function stream(input: SubmitInput, res: Response, opts: StreamOptions = {}): Promise<void> {
    const jobId = input.jobId ?? newJobId(input.provider);
    const keyId = input.caller.keyId;
    const followed = await followJob(services.events, { jobId, keyId, after: '0-0' });
    let job: GenerateJob;
    try {
      job = await services.generate.submit({ ...input, jobId });
    } catch (err) {
      followed.cancel();
      throw err;
    }
    noteJob(res, job);
    cancelOnDisconnect(res, job);
    startSse(res, { 'X-Job-Id': jobId });
    if (opts.prelude) res.write(opts.prelude(jobId));
    await followed.relay(res, config.SSE_HEARTBEAT_MS, opts.render);
  }

  return { sync, stream };
}

export type JobRunner = ReturnType<typeof createJobRunner>;
