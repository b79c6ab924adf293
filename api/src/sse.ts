/**
 * Relays a job's event stream (Redis Stream) to an HTTP client as Server-Sent Events, through the
 * process's event hub (services/event-hub.ts). Each event carries its stream entry id as `id:`,
 * so a client reconnecting with Last-Event-ID (to any API instance) gets exactly the events after
 * it; a stream opened after the job finished replays them all. An idle stream gets a
 * `: heartbeat` comment every `heartbeatMs`.
 */
import type { JobEvent } from '@cli-bridge/shared';
import type { Response } from 'express';
import type { EventHub } from './services/event-hub.js';

/** `1732771234567-0`: a Redis stream entry id. */
export const EVENT_ID = /^\d{1,20}-\d{1,20}$/;

export function startSse(res: Response, headers: Record<string, string> = {}): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no'); // nginx: do not buffer
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.flushHeaders();
}

/** Turns one job event into the SSE text written for it ('' writes nothing). */
export type EventRenderer = (ev: JobEvent) => string;

/** The bridge's own SSE dialect: each event as it is, with its stream id. */
export const bridgeEvent: EventRenderer = (ev) => `id: ${ev.id}\nevent: ${ev.type}\ndata: ${ev.data}\n\n`;

export interface FollowedJob {
  /**
   * Writes the SSE response: buffered events first, then live ones, until `done` or the client
   * leaves. `render` writes each event in another dialect (default: the bridge's own).
   */
  relay(res: Response, heartbeatMs: number, render?: EventRenderer): Promise<'done' | 'closed'>;
  /** Stops following without relaying (the request failed before the stream began). */
  cancel(): void;
}

/**
 * Starts following job `jobId`'s events after `after`, before any response is written, so a
 * refusal (429: too many open streams) is still a JSON error. Events that arrive before `relay`
 * are kept for it.
 */
export async function followJob(
  hub: EventHub,
  o: { jobId: string; keyId: string; after: string },
): Promise<FollowedJob> {
  const buffered: JobEvent[] = [];
  let ended: 'done' | 'closed' | undefined;
  let sink: { onEvents(e: JobEvent[]): void; onEnd(r: 'done' | 'closed'): void } | undefined;
  const sub = await hub.subscribe({
    ...o,
    onEvents: (events) => (sink ? sink.onEvents(events) : buffered.push(...events)),
    onEnd: (reason) => (sink ? sink.onEnd(reason) : (ended = reason)),
  });
  return {
    cancel: () => sub.close(),
    relay: (res, heartbeatMs, render = bridgeEvent) =>
      new Promise((resolve) => {
        const write = (events: JobEvent[]) => {
          for (const ev of events) {
            const text = render(ev);
            if (text) res.write(text);
          }
        };
        let heartbeat: NodeJS.Timeout | undefined;
        const beat = () => {
          clearTimeout(heartbeat);
          heartbeat = setTimeout(() => {
            res.write(': heartbeat\n\n');
            beat();
          }, heartbeatMs);
        };
        const finish = (reason: 'done' | 'closed') => {
          clearTimeout(heartbeat);
          res.off('close', onClose);
          if (!res.writableEnded) res.end();
          resolve(reason);
        };
        const onClose = () => sub.close();
        write(buffered.splice(0));
        if (ended) return finish(ended);
        sink = {
          onEvents: (events) => {
            write(events);
            beat();
          },
          onEnd: finish,
        };
        res.on('close', onClose);
        // A client that left between following and relaying: its 'close' has already fired.
        if (res.destroyed) return sub.close();
        beat();
      }),
  };
}
