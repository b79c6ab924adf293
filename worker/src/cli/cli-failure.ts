import type { ErrorType, HoldReason, Usage } from '@cli-bridge/shared';
import type { CliRun } from './run-cli.js';

/**
 * - `usage_limit`: the account is exhausted until `resetAt`; the job goes back to the queue (for
 *   another account, or after the reset) and the account is held.
 * - `transient`: overloaded, rate-limited, a dropped stream: retried with backoff, bounded.
 * - `fatal`: anything else; the job fails at once with the CLI's message.
 */
export type FailureKind = 'usage_limit' | 'transient' | 'fatal';

export interface CliFailureOptions {
  /** The error type clients see if the job finally fails (default `provider_error`). */
  type?: ErrorType;
  /** Epoch ms when the subscription's limit resets, if the CLI said. */
  resetAt?: number;
  /** `usage_limit`: why the account is held (default `usage_limit`). */
  holdReason?: HoldReason;
  /** Whatever the run consumed before failing, for settlement. */
  usage?: Usage;
  costMicros?: number;
}

export class CliFailure extends Error {
  override name = 'CliFailure';
  readonly type: ErrorType;
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly opts: CliFailureOptions = {},
  ) {
    super(message);
    this.type = opts.type ?? 'provider_error';
  }
}

/**
 * Failures that do not depend on what the CLI printed: it could not start, timed out, was
 * cancelled or printed too much. Returns undefined when the run ended on its own.
 */
export function runFailure(
  run: CliRun,
  name: string,
  limits: { timeoutMs: number; maxBufferBytes: number },
): CliFailure | undefined {
  switch (run.end) {
    case 'spawn_failed':
      return new CliFailure(
        'fatal',
        `${name} could not be started: ${run.spawnError?.message ?? 'unknown error'}`,
        { type: 'unavailable' },
      );
    case 'timeout':
      return new CliFailure('fatal', `${name} did not answer within ${limits.timeoutMs} ms`, {
        type: 'timeout',
      });
    case 'oversize':
      return new CliFailure('fatal', `${name} printed more than ${limits.maxBufferBytes} bytes`);
    case 'aborted':
      return new CliFailure('fatal', `${name} run was stopped (${String(run.abortReason ?? 'aborted')})`);
    case 'exited':
      return undefined;
  }
}

/** One readable line of stderr for an error message (the last non-empty one). */
export function stderrTail(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines.at(-1) ?? '').slice(0, 500);
}
