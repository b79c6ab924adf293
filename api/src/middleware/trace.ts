/**
 * TRACE_STAGES: per-request stage marks (see shared/src/trace.ts). Mounted only when tracing is
 * on, so a default deployment runs none of this.
 */
import { createStageTrace, STAGE_TRACE_MSG, type Logger, type StageTrace } from '@cli-bridge/shared';
import type { RequestHandler } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    /** Stage marks of this request; only when TRACE_STAGES is on. */
    trace?: StageTrace;
  }
}

/**
 * First middleware: starts the request's trace; when the answer has been handed to the socket,
 * logs the marks of a request that ran a job (one line, with the job id).
 */
export function startTrace(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const trace = createStageTrace();
    trace.mark('received');
    req.trace = trace;
    res.on('finish', () => {
      trace.mark('responded');
      if (trace.jobId)
        logger.info(
          { jobId: trace.jobId, requestId: String(req.id), stages: trace.stages() },
          STAGE_TRACE_MSG,
        );
    });
    next();
  };
}

/** A middleware that only marks `name` on the request's trace. */
export const markStage =
  (name: string): RequestHandler =>
  (req, _res, next) => {
    req.trace?.mark(name);
    next();
  };
