/**
 * Runs one generate job: parse the payload, prepare a scratch directory, run the provider's CLI,
 * read its answer. Every way out is mapped onto BullMQ's outcomes:
 * - answer → return value; fatal failure → UnrecoverableError (no retry);
 * - transient failure → plain Error (BullMQ retries with backoff, bounded by `attempts`);
 * - subscription exhausted → the provider's queue is held and the job goes back to wait;
 * - worker shutting down → the job goes back to wait for another worker.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeFailure,
  generateJobDataSchema,
  UnrecoverableError,
  WaitingError,
  Worker,
  type Config,
  type GenerateJob,
  type GenerateProcessor,
  type Logger,
  type Provider,
} from '@cli-bridge/shared';
import type { CliAdapter } from './cli/adapter.js';
import { CliFailure } from './cli/cli-failure.js';
import { buildCliEnv } from './cli/cli-env.js';
import { runCli } from './cli/run-cli.js';

/** The abort reason a worker uses when it is shutting down (the job is handed back). */
export const SHUTDOWN_REASON = 'worker shutdown';

export interface ProcessorDeps {
  adapters: Partial<Record<Provider, CliAdapter>>;
  config: Pick<Config, 'KILL_GRACE_MS' | 'CLI_ENV_PASSTHROUGH' | 'USAGE_LIMIT_COOLDOWN_MS'>;
  /** The worker's environment, filtered per run by `buildCliEnv`. */
  baseEnv: Record<string, string | undefined>;
  logger: Logger;
  /** Holds the provider's queue for `ms` (subscription exhausted). */
  holdQueue(provider: Provider, ms: number): Promise<void>;
  /** Parent of the per-job scratch directories (default: the OS temp dir). */
  tmpRoot?: string;
  now?: () => number;
}

export function createGenerateProcessor(deps: ProcessorDeps): GenerateProcessor {
  const now = deps.now ?? Date.now;

  return async (job: GenerateJob, token?: string, signal?: AbortSignal) => {
    const parsed = generateJobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(
        encodeFailure(
          'invalid_request',
          `malformed job payload: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
        ),
      );
    }
    const data = parsed.data;
    const adapter = deps.adapters[data.provider];
    if (!adapter)
      throw new UnrecoverableError(
        encodeFailure('unavailable', `this worker does not serve ${data.provider}`),
      );
    const log = deps.logger.child({
      jobId: job.id,
      provider: data.provider,
      attempt: job.attemptsMade + 1,
    });

    const privateDir = await mkdtemp(join(deps.tmpRoot ?? tmpdir(), 'cli-bridge-'));
    try {
      const workDir = join(privateDir, 'work');
      await mkdir(workDir, { mode: 0o700 });
      const inv = await adapter.prepare(data, { workDir, privateDir });
      log.debug({ model: data.model }, 'cli starting');
      const run = await runCli({
        bin: inv.bin,
        args: inv.args,
        stdin: inv.stdin,
        cwd: workDir,
        env: buildCliEnv({
          base: deps.baseEnv,
          passthrough: deps.config.CLI_ENV_PASSTHROUGH,
          extra: inv.env,
        }),
        timeoutMs: inv.timeoutMs,
        maxBufferBytes: inv.maxBufferBytes,
        killGraceMs: deps.config.KILL_GRACE_MS,
        signal,
      });
      if (run.end === 'aborted' && run.abortReason === SHUTDOWN_REASON) {
        await job.moveToWait(token);
        log.info('job handed back to the queue (worker shutdown)');
        throw new WaitingError();
      }
      const result = adapter.parse(run, data);
      log.info(
        {
          durationMs: run.durationMs,
          usage: result.usage,
          costMicros: result.cost_micros,
        },
        'job completed',
      );
      return result;
    } catch (err) {
      if (!(err instanceof CliFailure)) throw err;
      if (err.kind === 'usage_limit') {
        const holdMs = Math.max(
          1_000,
          (err.opts.resetAt ?? now() + deps.config.USAGE_LIMIT_COOLDOWN_MS) - now(),
        );
        log.warn({ holdMs }, 'subscription usage limit reached; holding the queue');
        await deps.holdQueue(data.provider, holdMs);
        throw Worker.RateLimitError();
      }
      log.warn({ kind: err.kind, type: err.type, err: { message: err.message } }, 'cli failed');
      const reason = encodeFailure(err.type, err.message);
      throw err.kind === 'transient' ? new Error(reason) : new UnrecoverableError(reason);
    } finally {
      await rm(privateDir, { recursive: true, force: true });
    }
  };
}
