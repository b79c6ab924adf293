import { BridgeError, errorBody, toBridgeError, type Logger } from '@cli-bridge/shared';
import type { ErrorRequestHandler, RequestHandler } from 'express';

/** Errors thrown by body-parser carry `type` and `status`. */
function fromBodyParser(err: unknown): BridgeError | undefined {
  const e = err as { type?: unknown; status?: unknown; limit?: unknown };
  if (e?.type === 'entity.too.large') {
    return new BridgeError('payload_too_large', `Request body is larger than ${String(e.limit)} bytes`);
  }
  if (e?.type === 'entity.parse.failed')
    return new BridgeError('invalid_request', 'Request body is not valid JSON');
  if (typeof e?.type === 'string' && e.type.startsWith('encoding.')) {
    return new BridgeError('invalid_request', 'Unsupported request body encoding');
  }
  return undefined;
}

/** The one place an error becomes a response. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const be = fromBodyParser(err) ?? toBridgeError(err);
    const log = (req as { log?: Logger }).log ?? logger;
    // Only the unexpected is logged here; pino-http logs every response with its status.
    if (be.type === 'internal_error') log.error({ err: be.cause ?? be }, 'unhandled error');
    if (be.retryAfterS !== undefined) res.setHeader('Retry-After', String(be.retryAfterS));
    res.status(be.status).json(errorBody(be));
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new BridgeError('not_found', `No route for ${req.method} ${req.path}`));
};
