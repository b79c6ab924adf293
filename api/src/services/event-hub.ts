/**
 * Every SSE stream of an API process, served from ONE blocking Redis connection: a single
 * `XREAD BLOCK` over the event streams of all jobs being followed, its replies dispatched to
 * their subscribers. A new subscription interrupts the pending read (`CLIENT UNBLOCK` from the
 * fail-fast connection) so the next read includes it. Open streams are capped per process and
 * per key (429 past either), so thousands of streams cost one Redis client, not thousands.
 */
import {
  BridgeError,
  parseStreamEntries,
  type JobEvent,
  type Logger,
  type RedisKeys,
} from '@cli-bridge/shared';
import type { Redis } from 'ioredis';

export interface EventHubDeps {
  /** Fail-fast connection: CLIENT UNBLOCK and the last-event check. */
  redis: Redis;
  /** A new blocking-capable connection (role `subscriber`); the hub opens one and keeps it. */
  blockingClient: () => Redis;
  keys: RedisKeys;
  logger: Logger;
  /** SSE_MAX_STREAMS: open streams per API process. */
  maxStreams: number;
  /** SSE_MAX_STREAMS_PER_KEY: open streams of one API key per API process. */
  maxStreamsPerKey: number;
  /** How long one XREAD blocks before it is re-issued (ms). */
  blockMs?: number;
}

export interface Subscriber {
  jobId: string;
  /** The id of the API key that follows the job (for the per-key cap). */
  keyId: string;
  /** Deliver events after this id ('0-0' = from the start). */
  after: string;
  /** Events in order; the subscription ends itself after a `done` event. */
  onEvents(events: JobEvent[]): void;
  /** The stream is over: its `done` was delivered, or the hub closed. */
  onEnd(reason: 'done' | 'closed'): void;
}

export interface Subscription {
  close(): void;
}

/** Compares two stream entry ids (`ms-seq`). */
function idAfter(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am > bm || (am === bm && as > bs);
}

export function createEventHub(deps: EventHubDeps) {
  const log = deps.logger.child({ component: 'event-hub' });
  const blockMs = deps.blockMs ?? 5_000;
  const subs = new Map<string, Set<Subscriber & { last: string }>>();
  const perKey = new Map<string, number>();
  let count = 0;
  let reader: Redis | undefined;
  let readerId: number | undefined;
  let reading = false;
  /** Counts the XREADs issued, so an interrupt knows whether the read it targets is still on. */
  let generation = 0;
  let closed = false;
  let wake: (() => void) | undefined;

  const end = (sub: Subscriber & { last: string }, reason: 'done' | 'closed') => {
    const set = subs.get(sub.jobId);
    if (!set?.delete(sub)) return;
    if (set.size === 0) subs.delete(sub.jobId);
    count--;
    const n = (perKey.get(sub.keyId) ?? 1) - 1;
    if (n > 0) perKey.set(sub.keyId, n);
    else perKey.delete(sub.keyId);
    sub.onEnd(reason);
  };

  /**
   * Interrupts the pending XREAD so the next one covers the current subscriptions. The UNBLOCK
   * travels on another connection and may arrive before the XREAD it is meant for: it is
   * repeated (briefly) until it finds the read blocked, or that read has returned anyway.
   */
  async function interrupt(): Promise<void> {
    if (wake) return wake();
    const read = generation;
    for (let i = 0; i < 50 && reading && read === generation; i++) {
      const unblocked =
        readerId === undefined ? 0 : await deps.redis.client('UNBLOCK', readerId).catch(() => 0);
      if (unblocked === 1) return;
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  async function loop(): Promise<void> {
    reader = deps.blockingClient();
    reader.on('ready', () => {
      readerId = undefined; // a reconnected client has a new id
    });
    while (!closed) {
      if (subs.size === 0) {
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      // From here until the read returns, a new subscription interrupts it (see `interrupt`).
      generation++;
      reading = true;
      const jobIds = [...subs.keys()];
      const from = jobIds.map((id) => {
        let min: string | undefined;
        for (const s of subs.get(id)!) if (min === undefined || idAfter(min, s.last)) min = s.last;
        return min!;
      });
      let reply: [string, [string, string[]][]][] | null;
      try {
        readerId ??= Number(await reader.client('ID'));
        reply = (await reader.xread(
          'COUNT',
          100,
          'BLOCK',
          blockMs,
          'STREAMS',
          ...jobIds.map((id) => deps.keys.jobEvents(id)),
          ...from,
        )) as typeof reply;
      } catch (err) {
        reading = false;
        if (closed) break;
        log.warn({ err }, 'event stream read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      } finally {
        reading = false;
      }
      for (const [streamKey, entries] of reply ?? []) {
        const jobId = streamKey.slice(deps.keys.jobEvents('').length);
        const events = parseStreamEntries(entries);
        for (const sub of [...(subs.get(jobId) ?? [])]) {
          const fresh = events.filter((e) => idAfter(e.id, sub.last));
          if (fresh.length === 0) continue;
          const upTo = fresh.findIndex((e) => e.type === 'done');
          const deliver = upTo < 0 ? fresh : fresh.slice(0, upTo + 1);
          sub.last = deliver.at(-1)!.id;
          sub.onEvents(deliver);
          if (upTo >= 0) end(sub, 'done');
        }
      }
    }
  }
  const running = loop().catch((err: unknown) => log.error({ err }, 'event hub stopped'));

  return {
    /**
     * Follows job `jobId`'s events after `after`. Throws 429 past the per-process or per-key cap.
     * A stream whose last event is a `done` at or before `after` ends at once (a browser's
     * EventSource reconnecting after the end).
     */
    async subscribe(sub: Subscriber): Promise<Subscription> {
      if (count >= deps.maxStreams) {
        throw new BridgeError(
          'rate_limited',
          'Too many open event streams on this server; try again shortly',
          {
            retryAfterS: 5,
          },
        );
      }
      if ((perKey.get(sub.keyId) ?? 0) >= deps.maxStreamsPerKey) {
        throw new BridgeError(
          'rate_limited',
          `Too many open event streams for this key (${deps.maxStreamsPerKey}); close one first`,
          { retryAfterS: 5 },
        );
      }
      const [last] = (await deps.redis.xrevrange(deps.keys.jobEvents(sub.jobId), '+', '-', 'COUNT', 1)) as [
        string,
        string[],
      ][];
      if (last) {
        const [lastEvent] = parseStreamEntries([last]);
        if (lastEvent!.type === 'done' && !idAfter(lastEvent!.id, sub.after)) {
          sub.onEnd('done');
          return { close: () => {} };
        }
      }
      const entry = { ...sub, last: sub.after };
      let set = subs.get(sub.jobId);
      if (!set) subs.set(sub.jobId, (set = new Set()));
      set.add(entry);
      count++;
      perKey.set(sub.keyId, (perKey.get(sub.keyId) ?? 0) + 1);
      void interrupt();
      return { close: () => end(entry, 'closed') };
    },

    /** Open streams now. */
    get size(): number {
      return count;
    },

    /** Ends every stream (`closed`) and stops reading; idempotent. */
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const set of [...subs.values()]) for (const sub of [...set]) end(sub, 'closed');
      wake?.();
      reader?.disconnect();
      await running;
    },
  };
}

export type EventHub = ReturnType<typeof createEventHub>;
