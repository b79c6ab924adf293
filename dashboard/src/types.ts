/** The shapes the bridge answers with (README: admin API, GET /me). */

export type Provider = 'claude' | 'codex';
export const PROVIDERS: Provider[] = ['claude', 'codex'];

export interface UsageTotals {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  tokens: number;
  cost_usd: number;
}

export interface Limits {
  maxRequestsPerDay: number;
  maxRequestsPerMonth: number;
  maxTokensPerMonth: number;
  maxCostPerDay: number;
  maxCostPerMonth: number;
  maxConcurrent: number;
  maxQueued: number | null;
  maxRequestsPerMinute: number;
  allowedProviders: Provider[];
}

export interface KeyView extends Limits {
  id: string;
  name: string;
  created_at: string;
  usage: { today: UsageTotals; month: UsageTotals; total?: UsageTotals };
  active: number;
}

export interface LogEntry {
  time: string;
  key?: string;
  provider: string;
  model: string;
  status: string;
  error_type?: string;
  error?: string;
  duration_ms?: number;
  queue_wait_ms?: number;
  job_id: string;
  prompt_chars: number;
  usage: Record<string, number>;
  cost_usd: number;
}

export interface MeView {
  name: string;
  created_at: string;
  limits: Limits;
  usage: { today: UsageTotals; month: UsageTotals };
  active: number;
  logs: LogEntry[];
}

export interface Hold {
  until: string;
  reason: string;
}

export interface QueueView {
  provider: Provider;
  counts: { waiting: number; active: number; delayed: number; failed: number; completed: number };
  paused: boolean;
  workers: number;
  hold: Hold | null;
}

export type JobState = 'waiting' | 'active' | 'delayed' | 'failed' | 'completed';
export const JOB_STATES: JobState[] = ['waiting', 'active', 'delayed', 'failed', 'completed'];

export interface JobSummary {
  id: string;
  provider: Provider;
  state: string;
  key: string;
  model: string;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  wait_ms: number | null;
  run_ms: number | null;
  attempts: number;
  error: { type: string; message: string } | null;
}

export interface JobDetail extends JobSummary {
  result_preview: string | null;
  usage: (Record<string, number> & { cost_usd?: number }) | null;
}

export interface WorkerView {
  id: string;
  host: string;
  pid: number;
  providers: Provider[];
  concurrency: Record<string, number> | number;
  active: number;
  active_jobs: string[];
  cli_versions: Record<string, string | null>;
  started_at: string;
  last_beat: string;
  stale: boolean;
}

export interface DayRow {
  date: string;
  requests: number;
  failures: number;
  input_tokens: number;
  output_tokens: number;
  cache_tokens: number;
  cost_usd: number;
}

export interface Stats {
  days: DayRow[];
  keys: Record<string, DayRow[]>;
}
