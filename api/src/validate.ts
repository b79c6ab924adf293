import { BridgeError } from '@cli-bridge/shared';
import type { z } from 'zod';

/** Parses a request body; the 400 names the first offending field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BridgeError(
      'invalid_request',
      'Request body must be a JSON object (Content-Type: application/json)',
    );
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    // zod reports unknown fields at their parent's path: name the first one itself.
    const field = [...issue.path, issue.keys[0]].join('.');
    throw new BridgeError('invalid_request', `Unknown field: ${field}`, { details: { field } });
  }
  const field = issue.path.join('.');
  const message =
    issue.code === 'invalid_type' && issue.message.includes('received undefined')
      ? `${field} is required`
      : issue.message.startsWith(field)
        ? issue.message
        : `${field}: ${issue.message}`;
  throw new BridgeError('invalid_request', message, { details: { field } });
}

/** Parses a query string object; the 400 names the offending parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  return parseBody(schema, { ...(query as object) });
}
