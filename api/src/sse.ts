/**
 * Relays a job's event stream (Redis Stream) to an HTTP client as Server-Sent Events. Each event
 * carries its stream entry id as `id:`, so a client reconnecting with Last-Event-ID (to any API
 * instance) gets exactly the events after it; a stream opened after the job finished replays
 * them all. An idle stream gets a `: heartbeat` comment every `heartbeatMs`.
 */
import { parseStreamEntries, type Config, type Logger } from '@cli-bridge/shared';
import type { Response } from 'express';
import type { Redis } from 'ioredis';
import type { ApiServices } from './services/index.js';

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

interface RelayOptions {
  res: Response;
  /** A blocking-capable connection of its own (XREAD BLOCK); disconnected at the end. */
  conn: Redis;
  streamKey: string;
  /** Resume after this event id ('0-0' = from the start). */
  after: string;
  heartbeatMs: number;
  logger: Logger;
}

/** Resolves when the job's `done` event was sent or the client went away. */
async function relayJobEvents(o: RelayOptions): Promise<'done' | 'closed'> {
  let open = true;
  const onClose = () => {
    open = false;
    o.conn.disconnect(); // ends a pending XREAD BLOCK at once
  };
  o.res.on('close', onClose);
  let last = o.after;
  try {
    while (open) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await o.conn.xread(
          'COUNT',
          100,
          'BLOCK',
          o.heartbeatMs,
          'STREAMS',
          o.streamKey,
          last,
        )) as typeof reply;
      } catch (err) {
        if (open) o.logger.warn({ err }, 'event stream read failed');
        return 'closed';
      }
      if (!open) return 'closed';
      if (reply === null) {
        o.res.write(': heartbeat\n\n');
        continue;
      }
      for (const ev of parseStreamEntries(reply[0]![1])) {
        o.res.write(`id: ${ev.id}\nevent: ${ev.type}\ndata: ${ev.data}\n\n`);
        last = ev.id;
        if (ev.type === 'done') {
          o.res.end();
          return 'done';
        }
      }
    }
    return 'closed';
  } finally {
    o.res.off('close', onClose);
    o.conn.disconnect();
  }
}

/** Relays job `jobId`'s events after event id `after` on a connection of its own. */
export function relayJob(
  deps: { services: ApiServices; config: Config; logger: Logger },
  res: Response,
  jobId: string,
  after: string,
): Promise<'done' | 'closed'> {
  return relayJobEvents({
    res,
    conn: deps.services.sse.connect(),
    streamKey: deps.services.sse.streamKey(jobId),
    after,
    heartbeatMs: deps.config.SSE_HEARTBEAT_MS,
    logger: deps.logger,
  });
}
