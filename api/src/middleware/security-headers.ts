/**
 * helmet's security headers, worked out once at start-up and set on every response as a list:
 * with these options every header helmet sets is the same on every response (no per-request
 * nonce), so running its dozen middlewares per request only repeats the same work (it was a
 * measurable share of an async submit's CPU; BENCHMARKS.md, "Submit throughput after the key
 * cache"). A test compares the headers with helmet's own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

export function securityHeaders(options: HelmetOptions): RequestHandler {
  const set: [string, string][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader: (name: string, value: unknown) => void set.push([name, String(value)]),
    removeHeader: (name: string) => void removed.push(name),
  };
  let done = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    done = true;
  });
  // helmet runs its middlewares synchronously; anything else would mean per-request headers.
  if (!done) throw new Error('helmet did not finish synchronously: its headers cannot be fixed once');
  return (_req, res, next) => {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
}
