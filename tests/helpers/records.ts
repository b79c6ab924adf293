/** Reading what the fake CLIs recorded (see tests/fixtures/README.md); the ttft bench too. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasExited, procStat } from './procfs.js';

export interface FakeRecord {
  provider: 'claude' | 'codex';
  argv: string[];
  cwd: string;
  cwdEntriesAtStart: string[];
  env: Record<string, string>;
  stdin: string;
  systemPrompt: string | null;
  systemPromptFileMode: string | null;
  pid: number;
  ppid: number;
  pgid: number;
  grandchildPid: number | null;
  mode: string;
  startedAt: number;
  /** claude stream-json: just before the first text delta was written. */
  firstDeltaAt?: number;
  /** When SIGTERM arrived (also in `ignore-term` mode). */
  sigtermAt?: number;
  /** Set at exit; absent while running or after SIGKILL. */
  endedAt?: number;
  exitCode?: number | null;
  signal?: string | null;
}

export function readRecords(dir: string): FakeRecord[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as FakeRecord)
    .sort((a, b) => a.startedAt - b.startedAt);
}

/**
 * Whether `pid` is a running process. A zombie (dead, not yet reaped: a killed grandchild waits
 * for PID 1 to reap it, which can take seconds in a container) counts as dead.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !hasExited(procStat(pid));
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (no fixed sleeps). */
type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<Truthy<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as Truthy<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Largest number of runs alive at one instant among `recs` (a run still going counts as alive). */
export function maxOverlap(recs: FakeRecord[]): number {
  const edges = recs.flatMap((r) => [
    { t: r.startedAt, d: 1 },
    { t: r.endedAt ?? Infinity, d: -1 },
  ]);
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let cur = 0;
  let max = 0;
  for (const e of edges) max = Math.max(max, (cur += e.d));
  return max;
}

/** Waits for the fake CLI run whose stdin holds `marker`, recorded in `dir`. */
export function recordWith(dir: string, marker: string, timeoutMs = 5_000): Promise<FakeRecord> {
  return waitFor(() => readRecords(dir).find((r) => r.stdin.includes(marker)), timeoutMs, `record ${marker}`);
}
