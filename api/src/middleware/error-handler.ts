import { BridgeError, errorBody, toBridgeError, type Logger } from '@cli-bridge/shared';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { anthropicErrorBody, dialectOf, openaiErrorBody } from '../compat/errors.js';
import { requestLine } from './access-log.js';

/**
 * Errors raised by Express itself and its body parser (http-errors: `status`, `expose`, `type`):
 * each is the client's mistake, so it becomes the matching 4xx, never a 500.
 */
function fromHttpError(err: unknown): BridgeError | undefined {
  const e = err as { status?: unknown; expose?: unknown; type?: unknown; limit?: unknown; code?: unknown };
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500) return undefined;
  if (e.type === 'entity.too.large') {
    return new BridgeError('payload_too_large', `Request body is larger than ${String(e.limit)} bytes`);
  }
  if (e.type === 'entity.parse.failed')
    return new BridgeError('invalid_request', 'Request body is not valid JSON');
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') {
    return new BridgeError('unsupported_media_type', (err as Error).message.replace(/^u/, 'U'));
  }
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
    return new BridgeError('invalid_request', 'Request body does not match its Content-Encoding');
  }
  if (err instanceof URIError) {
    return new BridgeError('invalid_request', 'The URL has malformed percent-encoding');
  }
  if (typeof e.type === 'string' && e.type.startsWith('encoding.')) {
    return new BridgeError('invalid_request', 'Unsupported request body encoding');
  }
  return e.expose === true ? new BridgeError('invalid_request', (err as Error).message) : undefined;
}

/**
 * The one place an error becomes a response: the status and headers are the bridge's; the body
 * is in the caller's dialect (the bridge's own, or OpenAI's or Anthropic's on /v1, see
 * compat/errors.ts).
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const be = fromHttpError(err) ?? toBridgeError(err);
    // Only the unexpected is logged here; the access log (access-log.ts) has every response.
    if (be.type === 'internal_error') {
      logger.error({ component: 'http', req: requestLine(req), err: be.cause ?? be }, 'unhandled error');
    }
    if (be.retryAfterS !== undefined) res.setHeader('Retry-After', String(be.retryAfterS));
    // Refused before its body was read (no key, too large, ...): close the connection with the
    // answer instead of waiting for a body nobody will read.
    if (!req.complete) res.setHeader('Connection', 'close');
    const dialect = dialectOf(req);
    res
      .status(be.status)
      .json(
        dialect === 'openai'
          ? openaiErrorBody(be)
          : dialect === 'anthropic'
            ? anthropicErrorBody(be)
            : errorBody(be),
      );
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new BridgeError('not_found', `No route for ${req.method} ${req.path}`));
};
