/**
 * Runs one generate job: parse the payload, renew the key's concurrency lease, prepare a scratch
 * directory, run the provider's CLI, read its answer, settle what it consumed. Every way out is
 * mapped onto BullMQ's outcomes:
 * - answer → return value; fatal failure → UnrecoverableError (no retry);
 * - transient failure → plain Error (BullMQ retries with backoff, bounded by `attempts`);
 * - account exhausted (usage limit, spent credit) → the account is held (account-gate.ts) and the
 *   job goes back to wait, for another account or after the reset (it uses no attempt);
 * - the account is held already (a job fetched just as it was held) → back to wait, unrun;
 * - key at its concurrency limit → the job waits a second (delayed);
 * - worker shutting down → the job goes back to wait for another worker.
 * The job is settled once, when it is over (answer, fatal failure, last attempt); runs before
 * that only add their usage.
 */
import {
  CANCELLED_ERROR,
  createStageTrace,
  DelayedError,
  encodeFailure,
  generateJobDataSchema,
  jobOwner,
  KEY_REVOKED_ERROR,
  STAGE_TRACE_MSG,
  UnrecoverableError,
  WaitingError,
  ZERO_USAGE,
  type Config,
  type ErrorType,
  type GenerateJob,
  type GenerateProcessor,
  type HoldReason,
  type JobEnd,
  type JobEvents,
  type Leases,
  type Logger,
  type Provider,
  type RunSpend,
  type SettledJob,
  type Settlement,
} from '@cli-bridge/shared';
import type { WorkerAccount } from './accounts.js';
import type { CliAdapter } from './cli/adapter.js';
import { CliFailure } from './cli/cli-failure.js';
import type { CliSpawner } from './cli/cli-spawner.js';
import { checkStructuredAnswer } from './cli/structured-answer.js';

/** The abort reason a worker uses when it is shutting down (the job is handed back). */
export const SHUTDOWN_REASON = 'worker shutdown';
/** The abort reason of a client's cancel (DELETE /jobs/:id, a disconnect). */
export const CANCEL_REASON = 'cancelled';

/** How long a job waits before trying again when its key is at maxConcurrent (ms). */
const CONCURRENCY_RETRY_MS = 1_000;

export interface ProcessorDeps {
  adapters: Partial<Record<Provider, CliAdapter>>;
  config: Pick<Config, 'KILL_GRACE_MS' | 'USAGE_LIMIT_COOLDOWN_MS'>;
  /** Gives each job its CLI process: a warm one from the pool, or a cold spawn. */
  spawner: CliSpawner;
  logger: Logger;
  settlement: Settlement;
  leases: Leases;
  events: JobEvents;
  /** The account whose CLI login this processor runs (its config directory goes in the env). */
  account: WorkerAccount;
  /** That account's hold state and spend (see account-gate.ts). */
  gate: AccountGateHandle;
  now?: () => number;
  /** TRACE_STAGES: log each job's stage marks (one info line, in the job's log context). */
  trace?: boolean;
}

/** What the processor needs of its account's gate. */
export interface AccountGateHandle {
  /** The account is on hold now (its jobs go back to the queue unrun). */
  isHeld(): boolean;
  /** Puts the account on hold (shared through Redis) and stops this worker taking jobs on it. */
  hold(h: { until: number; reason: HoldReason; message?: string }): Promise<void>;
  /** Adds a run's cost to the account's month (the Agent SDK credit). Never throws. */
  spent(costMicros: number): Promise<void>;
}

export function createGenerateProcessor(deps: ProcessorDeps): GenerateProcessor {
  const now = deps.now ?? Date.now;

  /**
   * Settlement never fails a job: an answer already given must not be run (and billed) again.
   * `end` closes the job; without it the run's usage is added and the job goes on.
   */
  async function settle(job: SettledJob, spent: RunSpend, log: Logger, end?: JobEnd): Promise<void> {
    try {
      if (end) await deps.settlement.close(job, end, spent);
      else await deps.settlement.addRun(job, spent);
    } catch (err) {
      log.error({ err, usage: spent.usage }, 'settlement failed');
    }
  }

  /** Events never fail a job either; a missing event is better than a second run. */
  async function publish(what: string, fn: () => Promise<void>, log: Logger): Promise<void> {
    try {
      await fn();
    } catch (err) {
      log.warn({ err }, `could not publish ${what} event`);
    }
  }

  /**
   * Ends a job for good with an error: settle, publish, throw (never retried). Callers inside a
   * try/finally must `return await` it: a bare `return` leaves the rejection unobserved while the
   * finally block runs, and Node ends the process on an unhandled rejection.
   */
  async function finishFailed(
    job: SettledJob,
    spent: RunSpend,
    error: { type: ErrorType; message: string },
    log: Logger,
  ): Promise<never> {
    const status = error.type === 'cancelled' ? 'cancelled' : 'failed';
    await settle(job, spent, log, { status, error });
    await publish('error', () => deps.events.failed(job.id, error, { replyTo: job.data.replyTo }), log);
    throw new UnrecoverableError(encodeFailure(error.type, error.message));
  }

  return async (job: GenerateJob, token?: string, signal?: AbortSignal) => {
    const trace = deps.trace ? createStageTrace() : undefined;
    trace?.mark('picked');
    const parsed = generateJobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UnrecoverableError(
        encodeFailure(
          'invalid_request',
          `malformed job payload: ${issue?.path.join('.')} ${issue?.message ?? ''}`,
        ),
      );
    }
    const data = parsed.data;
    const settled: SettledJob = {
      id: job.id!,
      data,
      timestamp: job.timestamp,
      processedOn: job.processedOn ?? now(),
    };
    // The request id the API logged, so one request's API and worker lines join up.
    const log = deps.logger.child({
      jobId: job.id,
      requestId: data.requestId,
      provider: data.provider,
      account: deps.account.name,
      attempt: job.attemptsMade + 1,
    });
    const adapter = deps.adapters[data.provider];
    if (!adapter) {
      throw new UnrecoverableError(
        encodeFailure('unavailable', `this worker does not serve ${data.provider}`),
      );
    }
    if (deps.gate.isHeld()) {
      // Fetched just as its account was held: another account, or the reset, will run it.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const nothingSpent = { usage: ZERO_USAGE, costMicros: 0 };

    // The lease must cover the whole run: the CLI's timeout plus the time to kill it. It is
    // renewed while the CLI's process is readied (the scratch directory, its files): the two wait
    // on different things (Redis, the disk), so neither waits for the other.
    const leaseMs = adapter.timeoutMs + 2 * deps.config.KILL_GRACE_MS + 1_000;
    const leasing = deps.leases.acquireForRun(jobOwner(data), job.id!, leaseMs);
    // The account's config directory goes to the CLI as data: it reads that login (and config).
    const opening = deps.spawner.open(adapter, data, deps.account);
    const [leased, opened] = await Promise.allSettled([leasing, opening]);
    if (opened.status === 'rejected') throw opened.reason;
    const cli = opened.value;
    try {
      trace?.mark('scratch');
      if (leased.status === 'rejected') throw leased.reason;
      const start = leased.value;
      trace?.mark('leased');
      if (start === 'revoked') {
        return await finishFailed(settled, nothingSpent, { ...KEY_REVOKED_ERROR }, log);
      }
      if (start === 'cancelled') {
        return await finishFailed(settled, nothingSpent, { ...CANCELLED_ERROR }, log);
      }
      if (start === 'wait') {
        log.debug('key at its concurrency limit; the job waits');
        await job.moveToDelayed(now() + CONCURRENCY_RETRY_MS, token);
        throw new DelayedError();
      }

      // Streaming: publish text deltas as they arrive, coalescing the lines of one stdout chunk
      // into one event, in order.
      let streamed = false;
      let firstTextAt: number | undefined;
      let pending = '';
      let chain = Promise.resolve();
      const flush = () => {
        const text = pending;
        pending = '';
        if (text) chain = chain.then(() => publish('text', () => deps.events.text(job.id!, text), log));
      };
      // A structured answer is sent whole once checked: text the model wrote around it is not it.
      const onStdoutLine =
        data.stream && !data.output && adapter.textDelta
          ? (line: string) => {
              const delta = adapter.textDelta!(line);
              if (!delta) return;
              streamed = true;
              firstTextAt ??= now();
              if (!pending) setImmediate(flush);
              pending += delta;
            }
          : undefined;

      const run = await cli.run({
        killGraceMs: deps.config.KILL_GRACE_MS,
        signal,
        onStdoutLine,
        onSpawn: () => trace?.mark('spawned'),
      });
      trace?.mark('exited');
      flush();
      await chain;
      // Time to first token, from the request's acceptance (fleet metrics; streamed runs only).
      const firstTokenMs = firstTextAt === undefined ? undefined : firstTextAt - data.submittedAt;
      const ran = { ...nothingSpent, durationMs: run.durationMs, firstTokenMs };
      if (run.end === 'aborted' && run.abortReason === CANCEL_REASON) {
        log.info('job cancelled while running');
        return await finishFailed(settled, ran, { ...CANCELLED_ERROR }, log);
      }
      if (run.end === 'aborted' && run.abortReason === SHUTDOWN_REASON) {
        // A stream already under way cannot restart elsewhere without repeating its text.
        if (streamed) {
          return await finishFailed(
            settled,
            ran,
            { type: 'unavailable', message: 'The worker shut down mid-stream' },
            log,
          );
        }
        await job.moveToWait(token);
        log.info('job handed back to the queue (worker shutdown)');
        throw new WaitingError();
      }

      let result;
      try {
        result = adapter.parse(run, data);
        checkStructuredAnswer(data, result);
        trace?.mark('parsed');
      } catch (err) {
        if (!(err instanceof CliFailure)) throw err;
        const spent = {
          usage: err.opts.usage ?? ZERO_USAGE,
          costMicros: err.opts.costMicros ?? 0,
          durationMs: run.durationMs,
          firstTokenMs,
        };
        await deps.gate.spent(spent.costMicros);
        if (err.kind === 'usage_limit') {
          // Not the caller's failure: the run's usage (none, as a rule) is added, the job waits.
          await settle(settled, spent, log);
          const until = Math.max(
            now() + 1_000,
            err.opts.resetAt ?? now() + deps.config.USAGE_LIMIT_COOLDOWN_MS,
          );
          const reason = err.opts.holdReason ?? 'usage_limit';
          log.warn(
            { until: new Date(until).toISOString(), reason },
            'account usage limit reached; holding the account, the job goes back to the queue',
          );
          await deps.gate.hold({ until, reason, message: err.message });
          await job.moveToWait(token);
          throw new WaitingError();
        }
        log.warn({ kind: err.kind, type: err.type, err }, 'cli failed');
        // A retry after streamed text would repeat it: once text went out, a failure is final.
        if (err.kind === 'fatal' || lastAttempt || streamed) {
          return await finishFailed(settled, spent, { type: err.type, message: err.message }, log);
        }
        await settle(settled, spent, log);
        throw new Error(encodeFailure(err.type, err.message));
      }

      // Settlement, then the final events (with the reply a sync request's API process waits
      // for, before BullMQ's own completion), sent back to back without waiting in between: both
      // go out on the worker's one accounting connection (bridge-worker.ts), and Redis runs a
      // connection's commands in order, so a client that hears `done` finds its usage counted,
      // one round trip sooner. (Only a settlement script missing from Redis, NOSCRIPT after a
      // restart or flush, is sent again after the events.)
      const settling = settle(
        settled,
        { usage: result.usage, costMicros: result.cost_micros, durationMs: run.durationMs, firstTokenMs },
        log,
        { status: 'completed' },
      );
      const publishing = publish(
        'usage',
        () => deps.events.completed(job.id!, result, { textStreamed: streamed, replyTo: data.replyTo }),
        log,
      );
      await settling;
      trace?.mark('settled');
      await publishing;
      trace?.mark('published');
      // The account's spend (its Agent SDK credit) is not the caller's business: after the answer.
      await deps.gate.spent(result.cost_micros);
      log.info(
        { durationMs: run.durationMs, usage: result.usage, costMicros: result.cost_micros, warm: cli.warm },
        'job completed',
      );
      return result;
    } finally {
      await cli.release();
      if (trace) {
        trace.mark('cleaned');
        log.info({ stages: trace.stages() }, STAGE_TRACE_MSG);
      }
    }
  };
}
