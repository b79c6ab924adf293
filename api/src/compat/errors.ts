/**
 * The error bodies of the compatible API, one renderer per dialect, both built from the same
 * BridgeError (so the status, Retry-After and the type → status mapping stay the bridge's own):
 * - OpenAI: `{"error": {"message", "type", "param", "code"}}`;
 * - Anthropic: `{"type": "error", "error": {"type", "message"}}`.
 * The app's one error handler picks the dialect from the request (`dialectOf`).
 */
import { BridgeError, isErrorType, type ErrorType, type Usage } from '@cli-bridge/shared';
import type { Request } from 'express';

export type Dialect = 'bridge' | 'openai' | 'anthropic';

/** /v1/messages* speak Anthropic; /v1/chat/* and /v1/responses OpenAI; other /v1 routes OpenAI, or Anthropic for an `anthropic-version` caller. */
export function dialectOf(req: Request): Dialect {
  const path = (req.originalUrl || req.url).split('?')[0]!;
  if (path !== '/v1' && !path.startsWith('/v1/')) return 'bridge';
  if (path === '/v1/messages' || path.startsWith('/v1/messages/')) return 'anthropic';
  if (path.startsWith('/v1/chat/') || path === '/v1/responses' || path.startsWith('/v1/responses/'))
    return 'openai';
  return req.get('anthropic-version') ? 'anthropic' : 'openai';
}

function openaiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

export function openaiErrorBody(be: BridgeError) {
  const d = be.details;
  const param = typeof d.param === 'string' ? d.param : typeof d.field === 'string' ? d.field : null;
  const code = typeof d.code === 'string' ? d.code : be.status === 401 ? 'invalid_api_key' : be.type;
  return {
    error: {
      message: be.message,
      type: openaiType(be.status),
      param,
      code,
      ...(typeof d.job_id === 'string' ? { job_id: d.job_id } : {}),
    },
  };
}

function anthropicType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

export function anthropicErrorBody(be: BridgeError) {
  return { type: 'error' as const, error: { type: anthropicType(be.status), message: be.message } };
}

/** What a job event's data holds (a `text` delta, the `usage` of a completed job, an `error`). */
export interface JobEventPayload {
  text?: string;
  usage?: Usage;
  error?: { type: string; message: string };
}

/** The BridgeError of a job `error` event, so a stream reports it in the caller's dialect. */
export function jobEventError(
  e: JobEventPayload['error'],
  details: Record<string, unknown> = {},
): BridgeError {
  const type: ErrorType = isErrorType(e?.type) ? e.type : 'provider_error';
  return new BridgeError(type, e?.message ?? 'The job failed', { details });
}
