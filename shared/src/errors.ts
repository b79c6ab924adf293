/**
 * Typed errors. Anything thrown inside the bridge that a client should see is a `BridgeError`;
 * one builder (`errorBody`) turns it into the JSON envelope `{"error": {"type", "message", ...}}`,
 * so no handler writes an error body by hand. Anything else is coerced to a 500 that reveals
 * nothing.
 */

const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  /** A job cancelled by its client (DELETE /jobs/:id or a disconnect). */
  cancelled: 409,
  payload_too_large: 413,
  /** A request body in a charset or Content-Encoding the API does not read. */
  unsupported_media_type: 415,
  rate_limited: 429,
  limit_exceeded: 429,
  provider_exhausted: 429,
  internal_error: 500,
  provider_error: 502,
  unavailable: 503,
  timeout: 504,
} as const;

export type ErrorType = keyof typeof ERROR_STATUS;

export function isErrorType(v: unknown): v is ErrorType {
  return typeof v === 'string' && Object.hasOwn(ERROR_STATUS, v);
}

export interface BridgeErrorOptions {
  /** Extra fields merged into the `error` object of the body (e.g. `job_id`, `field`). */
  details?: Record<string, unknown>;
  /** Seconds; sent as the `Retry-After` header. */
  retryAfterS?: number;
  cause?: unknown;
}

export class BridgeError extends Error {
  override name = 'BridgeError';
  readonly status: number;
  readonly details: Record<string, unknown>;
  readonly retryAfterS: number | undefined;

  constructor(
    readonly type: ErrorType,
    message: string,
    opts: BridgeErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = ERROR_STATUS[type];
    this.details = opts.details ?? {};
    this.retryAfterS = opts.retryAfterS;
  }
}

export interface ErrorBody {
  error: { type: ErrorType; message: string; [k: string]: unknown };
}

export function errorBody(err: BridgeError): ErrorBody {
  return { error: { ...err.details, type: err.type, message: err.message } };
}

/**
 * 429 for a client address past its failed-authentication limit; `pttlMs` is how long the
 * address stays blocked (the counter's remaining life).
 */
export function tooManyFailedAuthentications(pttlMs: number): BridgeError {
  return new BridgeError(
    'rate_limited',
    'Too many failed authentications from this address; try again later',
    {
      retryAfterS: Math.max(1, Math.ceil(pttlMs / 1000)),
    },
  );
}

/** Anything caught → a BridgeError; unknown errors become an opaque 500. */
export function toBridgeError(err: unknown): BridgeError {
  if (err instanceof BridgeError) return err;
  if (err instanceof Error && err.message.startsWith('OOM ')) {
    // Redis at its maxmemory with noeviction refuses writes: a full store, not a bridge bug.
    return new BridgeError('unavailable', "The bridge's Redis is full; try again later", {
      cause: err,
      retryAfterS: 30,
    });
  }
  if (isRedisUnavailable(err)) {
    return new BridgeError('unavailable', 'The bridge cannot reach Redis; try again shortly', {
      cause: err,
      retryAfterS: 5,
    });
  }
  return new BridgeError('internal_error', 'Internal error', { cause: err });
}

/**
 * ioredis's ways of saying the server is unreachable (fail-fast producer connections), and the
 * server's own while it fails over or starts: a replica refusing writes (READONLY), a master
 * fenced off without its replicas (NOREPLICAS), a dataset still loading (LOADING), a replica
 * without its master (MASTERDOWN).
 */
function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /enableOfflineQueue|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Redis is unavailable/.test(
      err.message,
    ) ||
    /^(READONLY|NOREPLICAS|LOADING|MASTERDOWN) /.test(err.message)
  );
}
