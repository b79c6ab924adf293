/**
 * Counts every HTTP request of this process once its answer ends (or its client leaves): route
 * (the route's pattern, never the raw path; `unknown` for a request answered before a route
 * matched), method, status (`499` when the client left before any answer), and, for generate
 * requests, provider, model and key name (`noteJob`). Never a job id or a raw key: label sets
 * stay bounded.
 */
import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { MetricsService } from '../services/metrics.service.js';

/** The job a request made, noted on its response for the access log line and the metrics. */
export interface NotedJob {
  id: string;
  provider: string;
  model: string;
}

declare module 'node:http' {
  interface ServerResponse {
    bridgeJob?: NotedJob;
  }
}

export function noteJob(
  res: ServerResponse,
  job: { id?: string; data: { provider: string; model: string } },
): void {
  res.bridgeJob = { id: job.id ?? '', provider: job.data.provider, model: job.data.model };
}

export function requestMetrics(metrics: MetricsService): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      // req.route is the matched route's own pattern; its router's mount path is in baseUrl.
      const path = (req.route as { path?: unknown } | undefined)?.path;
      metrics.observeRequest({
        route: typeof path === 'string' ? `${req.baseUrl}${path}` : 'unknown',
        method: req.method,
        status: res.headersSent ? String(res.statusCode) : '499',
        provider: res.bridgeJob?.provider ?? '',
        model: res.bridgeJob?.model ?? '',
        key: req.keyName ?? '',
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    });
    next();
  };
}
