/** The shapes the bridge answers with (README: admin API, GET /me). */

// Type-only imports from the server's own packages (erased from the bundle): the page reads the
// shapes the routes are typed with, so the two cannot drift apart.
import type { KeyLimits as Limits, LogEntry, Provider, StatsRow, UsageTotals } from '@cli-bridge/shared';
export type { KeyLimits as Limits, LogEntry, Provider, UsageTotals } from '@cli-bridge/shared';
export type { JobDetail, JobSummary, QueueEntry as QueueView, WorkerView } from '@cli-bridge/api';
export type DayRow = StatsRow;

export const PROVIDERS: Provider[] = ['claude', 'codex'];

export interface KeyView extends Limits {
  id: string;
  name: string;
  created_at: string;
  usage: { today: UsageTotals; month: UsageTotals; total?: UsageTotals };
  active: number;
}

export interface MeView {
  name: string;
  created_at: string;
  limits: Limits;
  usage: { today: UsageTotals; month: UsageTotals };
  active: number;
  logs: LogEntry[];
}

export type JobState = 'waiting' | 'active' | 'delayed' | 'failed' | 'completed';
export const JOB_STATES: JobState[] = ['waiting', 'active', 'delayed', 'failed', 'completed'];

export interface Stats {
  days: DayRow[];
  keys: Record<string, DayRow[]>;
}
