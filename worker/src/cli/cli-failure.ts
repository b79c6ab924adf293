import type { ErrorType, Usage } from '@cli-bridge/shared';

/**
 * - `usage_limit`: the subscription is exhausted until `resetAt`; the job goes back to the queue
 *   and the provider's queue is held.
 * - `transient`: overloaded, rate-limited, a dropped stream: retried with backoff, bounded.
 * - `fatal`: anything else; the job fails at once with the CLI's message.
 */
export type FailureKind = 'usage_limit' | 'transient' | 'fatal';

export interface CliFailureOptions {
  /** The error type clients see if the job finally fails (default `provider_error`). */
  type?: ErrorType;
  /** Epoch ms when the subscription's limit resets, if the CLI said. */
  resetAt?: number;
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
