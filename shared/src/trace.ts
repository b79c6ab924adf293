/**
 * Per-stage timing of one request or job, for measuring where the time of a sync /generate goes
 * (TRACE_STAGES; off by default). A mark is a wall-clock time in epoch milliseconds with
 * sub-millisecond resolution (`performance.timeOrigin + performance.now()`), so marks taken in
 * the API and in a worker on the same machine can be subtracted from each other.
 *
 * When tracing is off no trace object exists: callers hold `undefined` and `trace?.mark(...)`
 * does nothing.
 */
export interface StageTrace {
  /** The job this trace belongs to, once known (the API sets it when it picks the job id). */
  jobId?: string;
  /** Records `name` now; a name marked twice keeps its first time. */
  mark(name: string): void;
  /** The marks so far, in the order they were taken: { name: epoch ms (3 decimals) }. */
  stages(): Record<string, number>;
}

/** Epoch milliseconds with sub-millisecond resolution. */
export const traceNow = (): number => performance.timeOrigin + performance.now();

export function createStageTrace(): StageTrace {
  const marks: [string, number][] = [];
  return {
    mark(name) {
      const t = traceNow();
      if (!marks.some(([n]) => n === name)) marks.push([name, t]);
    },
    stages() {
      return Object.fromEntries(marks.map(([n, t]) => [n, Math.round(t * 1000) / 1000]));
    },
  };
}

/** The `msg` of the log line that carries a trace (API: per request; worker: per job). */
export const STAGE_TRACE_MSG = 'stage trace';

/** Mark names in the order a sync /generate takes them, API side. */
export const API_TRACE_STAGES = [
  'received',
  'routed',
  'authed',
  'bodyRead',
  'validated',
  'admitted',
  'queued',
  'ended',
  'responded',
] as const;

/** Mark names in the order a completed job takes them, worker side. */
export const WORKER_TRACE_STAGES = [
  'picked',
  'scratch',
  'leased',
  'spawned',
  'exited',
  'parsed',
  'settled',
  'published',
  'cleaned',
] as const;
