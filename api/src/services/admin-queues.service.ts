/**
 * The admin view of the providers' queues: job counts, paused or not, live workers, the
 * provider-wide hold (every account held) and each account's hold and credit; pause, resume and
 * lifting holds. Framework-neutral: plain values in and out.
 */
import {
  isQueuePaused,
  pauseQueue,
  PROVIDERS,
  queueCounts,
  resumeQueue,
  type AdminJobState,
  type GenerateQueue,
  type Provider,
  type WorkerRegistry,
} from '@cli-bridge/shared';
import type { AccountView, AdminHolds, Hold } from './holds.service.js';

export interface QueueEntry {
  provider: Provider;
  counts: Record<AdminJobState, number>;
  paused: boolean;
  /** Live workers serving the provider. */
  workers: number;
  /** Set while every account of the provider is held: the earliest reset. */
  hold: Hold | null;
  /** Each account served (or held), with its hold and Agent SDK credit. */
  accounts: AccountView[];
}

export interface AdminQueuesDeps {
  queues: Record<Provider, GenerateQueue>;
  registry: WorkerRegistry;
  holds: AdminHolds;
}

export function createAdminQueues(deps: AdminQueuesDeps) {
  async function entry(provider: Provider): Promise<QueueEntry> {
    const queue = deps.queues[provider];
    const [counts, paused, hold, accounts, live] = await Promise.all([
      queueCounts(queue),
      isQueuePaused(queue),
      deps.holds.read(provider),
      deps.holds.accounts(provider),
      deps.registry.liveCount(provider),
    ]);
    return { provider, counts, paused, workers: live, hold, accounts };
  }

  return {
    /** One entry per provider, whether or not a worker serves it. */
    list(): Promise<QueueEntry[]> {
      return Promise.all(PROVIDERS.map((p) => entry(p)));
    },
    async pause(provider: Provider): Promise<QueueEntry> {
      await pauseQueue(deps.queues[provider]);
      return entry(provider);
    },
    async resume(provider: Provider): Promise<QueueEntry> {
      await resumeQueue(deps.queues[provider]);
      return entry(provider);
    },
    /** Lifts one account's hold, or every account's when `account` is absent. */
    async clearHold(provider: Provider, account?: string): Promise<QueueEntry> {
      await deps.holds.clear(provider, account);
      return entry(provider);
    },
  };
}

export type AdminQueues = ReturnType<typeof createAdminQueues>;
