/**
 * A provider's hold, as the admin API shows and lifts it. Today a hold is queue-wide (BullMQ's
 * rate limit, set by a worker that met the subscription's usage limit); this is the one place
 * that knows it, so per-account holds change only this file.
 */
import { clearQueueHold, queueHoldMs, type GenerateQueue, type Provider } from '@cli-bridge/shared';

export interface Hold {
  /** When it ends (ISO). */
  until: string;
  reason: string;
}

/** BullMQ keeps no reason with a rate limit; a worker sets one only for this. */
const HOLD_REASON = 'subscription usage limit reached';

export function createHolds(queues: Record<Provider, GenerateQueue>, now: () => number = Date.now) {
  return {
    async read(provider: Provider): Promise<Hold | null> {
      const ms = await queueHoldMs(queues[provider]);
      return ms > 0 ? { until: new Date(now() + ms).toISOString(), reason: HOLD_REASON } : null;
    },
    /** Lifts the hold: the queue's jobs may run at once (and meet the limit again if it holds). */
    async clear(provider: Provider): Promise<void> {
      await clearQueueHold(queues[provider]);
    },
  };
}

export type Holds = ReturnType<typeof createHolds>;
