import type { Redis } from 'ioredis';
import { microsToUsd } from '../jobs.js';
import type { RedisKeys } from '../redis-keys.js';
import type { LogEntryInput } from './settlement.js';

export interface LogEntry extends LogEntryInput {
  usage: Record<string, number>;
  cost_usd: number;
}

/** What an admin may narrow the log to (all optional; `model` matches a part of the name). */
export interface LogFilter {
  status?: string;
  provider?: string;
  model?: string;
}

export interface LogQuery {
  /** One key's log (else the global one). */
  keyId?: string;
  limit: number;
  /** Matching entries to skip, newest first (paging). */
  offset?: number;
  filter?: LogFilter;
}

/** Entries read from Redis per step while filtering. */
const SCAN_CHUNK = 500;

function parseEntry(line: string): LogEntry {
  const { cost_micros, ...rest } = JSON.parse(line) as LogEntryInput & {
    cost_micros?: number;
    usage?: Record<string, number>;
  };
  return { ...rest, usage: rest.usage ?? {}, cost_usd: microsToUsd(cost_micros ?? 0) };
}

function matches(e: LogEntry, f: LogFilter | undefined): boolean {
  if (!f) return true;
  return (
    (!f.status || e.status === f.status) &&
    (!f.provider || e.provider === f.provider) &&
    (!f.model || e.model.toLowerCase().includes(f.model.toLowerCase()))
  );
}

/**
 * Newest first: `limit` entries matching the filter, after skipping `offset` matching ones.
 * Without a filter that is one LRANGE; with one, the list (at most LOG_MAX_ENTRIES long) is read
 * in chunks until the page is full. `more`: whether older matching entries may follow.
 */
export async function findLogs(
  redis: Redis,
  keys: RedisKeys,
  q: LogQuery,
): Promise<{ logs: LogEntry[]; more: boolean }> {
  const list = q.keyId ? keys.keyLogs(q.keyId) : keys.logs;
  const offset = q.offset ?? 0;
  const filtered = q.filter && Object.values(q.filter).some(Boolean);
  if (!filtered) {
    const raw = await redis.lrange(list, offset, offset + q.limit);
    return { logs: raw.slice(0, q.limit).map(parseEntry), more: raw.length > q.limit };
  }
  const logs: LogEntry[] = [];
  let skipped = 0;
  for (let start = 0; ; start += SCAN_CHUNK) {
    const raw = await redis.lrange(list, start, start + SCAN_CHUNK - 1);
    for (const line of raw) {
      const e = parseEntry(line);
      if (!matches(e, q.filter)) continue;
      if (skipped < offset) skipped++;
      else if (logs.length < q.limit) logs.push(e);
      else return { logs, more: true };
    }
    if (raw.length < SCAN_CHUNK) return { logs, more: false };
  }
}

/** Newest first; `keyId` narrows to one key's log. */
export async function readLogs(
  redis: Redis,
  keys: RedisKeys,
  opts: { keyId?: string; limit: number },
): Promise<LogEntry[]> {
  return (await findLogs(redis, keys, opts)).logs;
}
