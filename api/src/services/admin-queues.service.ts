/**
 * The admin view of the providers' queues: job counts, paused or not, live workers and the hold;
 * pause, resume and lifting a hold. Framework-neutral: plain values in and out.
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
import type { Hold, Holds } from './holds.service.js';

export interface QueueEntry {
  provider: Provider;
  counts: Record<AdminJobState, number>;
  paused: boolean;
  /** Live workers serving the provider. */
  workers: number;
  hold: Hold | null;
}

export interface AdminQueuesDeps {
  queues: Record<Provider, GenerateQueue>;
  registry: WorkerRegistry;
  holds: Holds;
}

export function createAdminQueues(deps: AdminQueuesDeps) {
  async function entry(provider: Provider): Promise<QueueEntry> {
    const queue = deps.queues[provider];
    const [counts, paused, hold, live] = await Promise.all([
      queueCounts(queue),
      isQueuePaused(queue),
      deps.holds.read(provider),
      deps.registry.liveCount(provider),
    ]);
    return { provider, counts, paused, workers: live, hold };
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
    async clearHold(provider: Provider): Promise<QueueEntry> {
      await deps.holds.clear(provider);
      return entry(provider);
    },
  };
}

export type AdminQueues = ReturnType<typeof createAdminQueues>;
