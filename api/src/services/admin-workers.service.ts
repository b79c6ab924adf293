/**
 * The live workers as the admin sees them, from their heartbeat records. A worker is `stale` when
 * its last beat is older than two heartbeat intervals while its record (kept three intervals) has
 * not expired yet: it is probably gone, or its event loop or Redis is struggling.
 */
import type { WorkerInfo, WorkerRegistry } from '@cli-bridge/shared';

/** Beats a worker may miss before it is called stale. */
const STALE_AFTER_BEATS = 2;

export interface WorkerView {
  id: string;
  host: string;
  pid: number;
  providers: string[];
  concurrency: Record<string, number>;
  active: number;
  active_jobs: string[];
  cli_versions: Record<string, string | null>;
  /** Per provider: each account's name, concurrency and auth mode (`subscription`, `api_key`, `unknown`). */
  accounts: NonNullable<WorkerInfo['accounts']>;
  started_at: string;
  last_beat: string;
  stale: boolean;
}

export function createAdminWorkers(deps: {
  registry: WorkerRegistry;
  /** WORKER_HEARTBEAT_MS (ms). */
  heartbeatMs: number;
  now?: () => number;
}) {
  const clock = deps.now ?? Date.now;
  return {
    /** Oldest-started first. */
    async list(): Promise<WorkerView[]> {
      const now = clock();
      const workers = await deps.registry.list(now);
      return workers
        .sort((a, b) => a.startedAt - b.startedAt)
        .map((w) => ({
          id: w.id,
          host: w.host,
          pid: w.pid,
          providers: w.providers,
          concurrency: w.concurrency,
          active: w.active,
          active_jobs: w.activeJobs,
          cli_versions: w.cliVersions,
          accounts: w.accounts ?? {},
          started_at: new Date(w.startedAt).toISOString(),
          last_beat: new Date(w.lastBeat).toISOString(),
          stale: now - w.lastBeat > STALE_AFTER_BEATS * deps.heartbeatMs,
        }));
    },
  };
}

export type AdminWorkers = ReturnType<typeof createAdminWorkers>;
