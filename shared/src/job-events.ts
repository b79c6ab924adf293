/**
 * A job's events, in a Redis Stream per job: `text` deltas, then `usage` and `done`, or `error`
 * and `done`. The stream entry id is the SSE event id, so a client can resume with Last-Event-ID
 * on any API instance and get exactly the events after it. The stream is capped and expires with
 * the job's result.
 */
import type { Redis } from 'ioredis';
import type { ErrorType } from './errors.js';
import { completedReply, failedReply } from './job-replies.js';
import { microsToUsd, type GenerateResult } from './jobs.js';
import type { RedisKeys } from './redis-keys.js';

export type JobEventType = 'text' | 'usage' | 'error' | 'done';

export interface JobEvent {
  /** Redis stream entry id, e.g. `1732771234567-0`. */
  id: string;
  type: JobEventType;
  /** JSON text of the event's data. */
  data: string;
}

/** Most events kept per job stream (deltas are coalesced per stdout chunk, so this is plenty). */
const JOB_EVENTS_MAX = 10_000;

export interface JobEventsDeps {
  redis: Redis;
  keys: RedisKeys;
  /** Life of a job's stream after its last event (s): JOB_RESULT_TTL_S. */
  ttlS: number;
}

export function createJobEvents({ redis, keys, ttlS }: JobEventsDeps) {
  /** MULTI resolves with per-command errors instead of throwing them: throw the first. */
  const run = async (m: ReturnType<Redis['multi']>) => {
    for (const [err] of (await m.exec()) ?? []) if (err) throw err;
  };
  const add = (m: ReturnType<Redis['multi']>, jobId: string, type: JobEventType, data: unknown) =>
    m.xadd(
      keys.jobEvents(jobId),
      'MAXLEN',
      '~',
      String(JOB_EVENTS_MAX),
      '*',
      'type',
      type,
      'data',
      JSON.stringify(data),
    );

  return {
    async text(jobId: string, text: string): Promise<void> {
      const m = redis.multi();
      add(m, jobId, 'text', { text });
      m.expire(keys.jobEvents(jobId), ttlS);
      await run(m);
    },

    /**
     * The end of a completed job: its text (when it was not streamed), usage, done; and, for a
     * sync request, the result published to its waiting API process (`replyTo`, job-replies.ts).
     */
    async completed(
      jobId: string,
      result: GenerateResult,
      opts: { textStreamed: boolean; replyTo?: string },
    ): Promise<void> {
      const m = redis.multi();
      if (!opts.textStreamed) add(m, jobId, 'text', { text: result.text });
      add(m, jobId, 'usage', {
        usage: result.usage,
        cost_usd: microsToUsd(result.cost_micros),
        duration_ms: result.duration_ms,
        job_id: jobId,
      });
      add(m, jobId, 'done', {});
      m.expire(keys.jobEvents(jobId), ttlS);
      if (opts.replyTo) m.publish(opts.replyTo, completedReply(jobId, result));
      await run(m);
    },

    /** The end of a failed or cancelled job (published to `replyTo` too, as above). */
    async failed(
      jobId: string,
      error: { type: ErrorType; message: string },
      opts: { replyTo?: string } = {},
    ): Promise<void> {
      const m = redis.multi();
      add(m, jobId, 'error', { error });
      add(m, jobId, 'done', {});
      m.expire(keys.jobEvents(jobId), ttlS);
      if (opts.replyTo) m.publish(opts.replyTo, failedReply(jobId, error));
      await run(m);
    },
  };
}

export type JobEvents = ReturnType<typeof createJobEvents>;

/** Parses XREAD/XRANGE entries (`[id, [field, value, ...]]`) into events. */
export function parseStreamEntries(entries: [string, string[]][]): JobEvent[] {
  return entries.map(([id, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    return { id, type: (f.type ?? 'text') as JobEventType, data: f.data ?? '{}' };
  });
}
