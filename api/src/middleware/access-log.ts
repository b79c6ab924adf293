/**
 * The request id and the access log: one line per answered request (component `http`), as
 * pino-http wrote it before: `req` {id, method, url}, `jobId` (the job the request made, so the
 * line joins the worker's), `res` {statusCode}, `responseTime` (ms), "request completed", or
 * "request errored" with `err` for a 5xx. Refusals (4xx) and expected outages (503, 504) are
 * logged at info, other 5xx at error; GET /health is not logged.
 *
 * Written here rather than with pino-http because pino-http builds two or three child loggers per
 * request (serializing the request into each): 32-45 µs of CPU per request against 15-20 µs for
 * this, which builds none (BENCHMARKS.md, "Submit throughput after the key cache"). Headers and
 * bodies are never logged: they hold prompts and keys.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '@cli-bridge/shared';
import type { Request, RequestHandler } from 'express';

declare module 'node:http' {
  interface IncomingMessage {
    /** This request's id: the caller's sane `x-request-id`, else a fresh UUID (echoed back). */
    id?: string;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's `x-request-id` when it is sane, else a fresh UUID. */
function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** How a request appears in a log line: its id, method and URL as received (never headers or body). */
export function requestLine(req: Request): { id?: string; method: string; url: string } {
  return { id: req.id, method: req.method, url: req.originalUrl };
}

export function accessLog(logger: Logger): RequestHandler {
  // Without the root logger's redaction: these lines have one fixed shape, built below, in which
  // no redacted path can occur (no headers, no body, no key), and checking its 16 paths (six of
  // them wildcards) on every line cost about 10 µs of CPU a line, two thirds of the line's cost
  // (BENCHMARKS.md, "Submit throughput, interleaved").
  const log = logger.child({ component: 'http' }, { redact: [] });
  return (req, res, next) => {
    const id = requestId(req);
    req.id = id;
    res.setHeader('X-Request-Id', id);
    if (req.url === '/health') return next();
    const started = Date.now();
    // Taken now: the URL as received (routers mounted on a path rewrite req.url while they run).
    const line = requestLine(req);
    const done = () => {
      res.removeListener('close', done);
      res.removeListener('finish', done);
      const status = res.statusCode;
      const entry = {
        req: line,
        ...(res.bridgeJob ? { jobId: res.bridgeJob.id } : {}),
        res: { statusCode: status },
        responseTime: Date.now() - started,
      };
      if (status < 500) return log.info(entry, 'request completed');
      const err = { type: 'Error', message: `failed with status code ${status}` };
      if (status === 503 || status === 504) log.info({ ...entry, err }, 'request errored');
      else log.error({ ...entry, err }, 'request errored');
    };
    res.on('close', done);
    res.on('finish', done);
    next();
  };
}
