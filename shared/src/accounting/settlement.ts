/**
 * Settlement, the one module that closes a job's books, whatever its outcome: what it consumed
 * goes to its key's day, month and total counters; once the job is over its lease is released,
 * one log entry is written and the job is added to its day's stats rollup (`stats.ts`), all in
 * one atomic script.
 *
 * A job may run the CLI several times (transient retries, a hand-back on shutdown, a usage-limit
 * hold); each run's usage is added as it ends (`addRun`) and summed in a per-job hash, and
 * `close` ends the job: completed, failed, timed out or cancelled (by the worker that ran it),
 * removed while queued (by the API), or stalled out (its workers died; by the worker that saw
 * it). Closing a job already closed changes nothing, so a job is never billed or logged twice.
 */
import type { Redis } from 'ioredis';
import type { ErrorType } from '../errors.js';
import { CANCELLED_ERROR, jobOwner, ZERO_USAGE, type GenerateJobData, type Usage } from '../jobs.js';
import type { RedisKeys } from '../redis-keys.js';
import { redisScript } from '../redis-script.js';
import { DAY_COUNTER_TTL_S, MONTH_COUNTER_TTL_S, utcDay, utcMonth } from './periods.js';
import { STATS_DAY_TTL_S, STATS_FIELDS } from './stats.js';

// KEYS: 1 day, 2 month, 3 total, 4 leases, 5 job usage, 6 settled marker, 7 logs, 8 key logs,
//       9 key record (a revoked key's counters and log are not brought back: only the global log
//       and the job's own records are written for it), 10 the key's queued jobs, 11 the key's
//       cost reservations (the job leaves both when it is over), 12 the day's stats rollup
// ARGV: 1 job id, 2-5 input/output/cache creation/cache read tokens, 6 cost micros, 7 final,
//       8 failed, 9 log entry JSON, 10 log cap, 11 day ttl, 12 month ttl, 13 job ttl, 14 stats ttl
const SETTLE = `
local STATS_FIELDS = {${STATS_FIELDS.map((f) => `'${f}'`).join(', ')}}
local final = ARGV[7] == '1'
-- Settled already (a job delivered twice): nothing is billed or logged again, but the lease the
-- second run took is given back.
-- A job's cost reservation goes, and the reservations' sum (field '=') with it.
local function unreserve()
  local r = tonumber(redis.call('HGET', KEYS[11], ARGV[1]))
  if r then
    redis.call('HDEL', KEYS[11], ARGV[1])
    redis.call('HINCRBY', KEYS[11], '=', -r)
  end
end
if final and redis.call('EXISTS', KEYS[6]) == 1 then
  redis.call('ZREM', KEYS[4], ARGV[1])
  unreserve()
  return 0
end
local fields = {'input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'}
local tokens = 0
for i = 1, 4 do tokens = tokens + tonumber(ARGV[i + 1]) end
local cost = tonumber(ARGV[6])
local live = redis.call('EXISTS', KEYS[9]) == 1
for k = 1, (live and 3 or 0) do
  if tokens > 0 or cost > 0 then
    for i = 1, 4 do redis.call('HINCRBY', KEYS[k], fields[i], ARGV[i + 1]) end
    redis.call('HINCRBY', KEYS[k], 'tokens', tokens)
    redis.call('HINCRBY', KEYS[k], 'cost_micros', cost)
  end
  if final and ARGV[8] == '1' then redis.call('HINCRBY', KEYS[k], 'errors', 1) end
end
if live then
  redis.call('EXPIRE', KEYS[1], ARGV[11])
  redis.call('EXPIRE', KEYS[2], ARGV[12])
end
for i = 1, 4 do redis.call('HINCRBY', KEYS[5], fields[i], ARGV[i + 1]) end
redis.call('HINCRBY', KEYS[5], 'cost_micros', cost)
redis.call('EXPIRE', KEYS[5], ARGV[13])
if not final then return 1 end
redis.call('SET', KEYS[6], '1', 'EX', ARGV[13])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[10], ARGV[1])
unreserve()
local acc = redis.call('HGETALL', KEYS[5])
local usage = {}
for i = 1, #acc, 2 do usage[acc[i]] = tonumber(acc[i + 1]) end
local entry = cjson.decode(ARGV[9])
entry['cost_micros'] = usage['cost_micros'] or 0
usage['cost_micros'] = nil
entry['usage'] = usage
local line = cjson.encode(entry)
local cap = tonumber(ARGV[10]) - 1
redis.call('LPUSH', KEYS[7], line)
redis.call('LTRIM', KEYS[7], 0, cap)
if live then
  redis.call('LPUSH', KEYS[8], line)
  redis.call('LTRIM', KEYS[8], 0, cap)
end
redis.call('DEL', KEYS[5])
-- The day's rollup (/admin/stats), once per job: overall, and under 'k:<key id>:' for a live key.
local roll = {1, ARGV[8] == '1' and 1 or 0, usage['input_tokens'] or 0, usage['output_tokens'] or 0,
  (usage['cache_creation_input_tokens'] or 0) + (usage['cache_read_input_tokens'] or 0), entry['cost_micros']}
for i, f in ipairs(STATS_FIELDS) do
  redis.call('HINCRBY', KEYS[12], f, roll[i])
  if live then redis.call('HINCRBY', KEYS[12], 'k:' .. entry['key_id'] .. ':' .. f, roll[i]) end
end
redis.call('EXPIRE', KEYS[12], ARGV[14])
return 1
`;

export type JobOutcome = 'completed' | 'failed' | 'cancelled';

/** A request log entry as written (usage and cost are added by the script). */
export interface LogEntryInput {
  time: string;
  /** The key's name when the job was made (a label). */
  key: string;
  key_id: string;
  provider: string;
  model: string;
  status: JobOutcome;
  error_type?: string;
  error?: string;
  /** Wall time of the last CLI run (ms). */
  duration_ms?: number;
  /** From submission to the start of the first run (ms). */
  queue_wait_ms?: number;
  job_id: string;
  prompt_chars: number;
  /** The first LOG_PROMPT_CHARS characters of the user prompt, when that is > 0. */
  prompt?: string;
}

interface SettleInput {
  /** The owning key's id. */
  keyId: string;
  jobId: string;
  /** This run's usage (zero when nothing ran). */
  usage: Usage;
  costMicros: number;
  /** The job is over: release the lease and write the log entry. */
  final: boolean;
  /** Counted in the key's `errors` (final calls only). */
  failed?: boolean;
  /** Required when `final`. */
  log?: LogEntryInput;
}

export interface SettlementDeps {
  redis: Redis;
  keys: RedisKeys;
  /** LOG_MAX_ENTRIES: cap of the global log and of each key's log. */
  logMaxEntries: number;
  /** How long a settled marker (and an open job's usage) is kept (s); ≥ job retention. */
  jobTtlS: number;
  /** LOG_PROMPT_CHARS: how much of the user prompt a log entry keeps (0 = none). */
  logPromptChars: number;
  now?: () => number;
}

/** What settlement needs of a job (a BullMQ job has all of it). */
export interface SettledJob {
  id: string;
  data: GenerateJobData;
  /** When it was queued (epoch ms). */
  timestamp: number;
  /** When its current run started (epoch ms); unset if it never ran. */
  processedOn?: number;
}

/** What one run of the CLI consumed. */
export interface RunSpend {
  usage: Usage;
  costMicros: number;
  /** Wall time of the run (ms). */
  durationMs?: number;
}

/** How a job ended. */
export type JobEnd =
  { status: 'completed' } | { status: 'failed' | 'cancelled'; error: { type: ErrorType; message: string } };

const NOTHING_SPENT: RunSpend = { usage: ZERO_USAGE, costMicros: 0 };

export function createSettlement(deps: SettlementDeps) {
  const { redis, keys } = deps;
  const clock = deps.now ?? Date.now;
  const settleScript = redisScript(redis, SETTLE);

  /** Returns false when a final settlement had already happened (nothing was changed). */
  async function settle(input: SettleInput): Promise<boolean> {
    const now = clock();
    const u = input.usage;
    const r = await settleScript(
      [
        keys.usageDay(input.keyId, utcDay(now)),
        keys.usageMonth(input.keyId, utcMonth(now)),
        keys.usageTotal(input.keyId),
        keys.leases(input.keyId),
        keys.jobUsage(input.jobId),
        keys.settled(input.jobId),
        keys.logs,
        keys.keyLogs(input.keyId),
        keys.apiKey(input.keyId),
        keys.queuedJobs(input.keyId),
        keys.costReservations(input.keyId),
        keys.statsDay(utcDay(now)),
      ],
      [
        input.jobId,
        u.input_tokens,
        u.output_tokens,
        u.cache_creation_input_tokens,
        u.cache_read_input_tokens,
        input.costMicros,
        input.final ? '1' : '0',
        input.failed ? '1' : '0',
        JSON.stringify(input.log ?? {}),
        deps.logMaxEntries,
        DAY_COUNTER_TTL_S,
        MONTH_COUNTER_TTL_S,
        deps.jobTtlS,
        STATS_DAY_TTL_S,
      ],
    );
    return r === 1;
  }

  /** Ends `job` with `end`, adding the last run's `spent`. False if it had already been closed. */
  function close(job: SettledJob, end: JobEnd, spent: RunSpend = NOTHING_SPENT): Promise<boolean> {
    const now = clock();
    const failed = end.status !== 'completed';
    return settle({
      keyId: jobOwner(job.data),
      jobId: job.id,
      usage: spent.usage,
      costMicros: spent.costMicros,
      final: true,
      // A client's cancel is not an error of the bridge or the CLI.
      failed: end.status === 'failed',
      log: logEntryFor(
        job.data,
        job.id,
        {
          status: end.status,
          errorType: failed ? end.error.type : undefined,
          error: failed ? end.error.message : undefined,
          durationMs: spent.durationMs,
          queueWaitMs:
            job.processedOn === undefined ? undefined : Math.max(0, job.processedOn - job.timestamp),
        },
        { promptChars: deps.logPromptChars, now },
      ),
    });
  }

  return {
    /** A run ended but the job goes on (a retry, a hold, a hand-back): add what it consumed. */
    async addRun(job: SettledJob, spent: RunSpend): Promise<void> {
      await settle({
        keyId: jobOwner(job.data),
        jobId: job.id,
        usage: spent.usage,
        costMicros: spent.costMicros,
        final: false,
      });
    },

    close,

    /** A job cancelled while it waited in the queue: nothing ran, nothing is charged. */
    removedWhileQueued(job: SettledJob): Promise<boolean> {
      return close(
        { ...job, processedOn: undefined },
        { status: 'cancelled', error: { ...CANCELLED_ERROR } },
      );
    },

    /** A job BullMQ failed because its workers kept dying under it (see `queue.ts`). */
    stalled(job: SettledJob, message: string): Promise<boolean> {
      return close(job, { status: 'failed', error: { type: 'provider_error', message } });
    },
  };
}

export type Settlement = ReturnType<typeof createSettlement>;

/** The log entry of a job, from its payload and outcome. */
function logEntryFor(
  data: GenerateJobData,
  jobId: string,
  outcome: {
    status: JobOutcome;
    errorType?: string;
    error?: string;
    durationMs?: number;
    queueWaitMs?: number;
  },
  opts: { promptChars: number; now: number },
): LogEntryInput {
  const entry: LogEntryInput = {
    time: new Date(opts.now).toISOString(),
    key: data.keyName,
    key_id: jobOwner(data),
    provider: data.provider,
    model: data.model,
    status: outcome.status,
    job_id: jobId,
    prompt_chars: data.systemPrompt.length + data.userPrompt.length,
  };
  if (outcome.errorType !== undefined) entry.error_type = outcome.errorType;
  if (outcome.error !== undefined) entry.error = outcome.error.slice(0, 500);
  if (outcome.durationMs !== undefined) entry.duration_ms = outcome.durationMs;
  if (outcome.queueWaitMs !== undefined) entry.queue_wait_ms = outcome.queueWaitMs;
  if (opts.promptChars > 0) entry.prompt = data.userPrompt.slice(0, opts.promptChars);
  return entry;
}
