/**
 * Builds the API's clients and services from config and listens. Used by `main.ts` and by tests
 * that run an API in-process. `close()` is idempotent and ordered: stop accepting → let requests
 * finish (bounded) → close queue clients → close Redis.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  closeRedis,
  closeWithin,
  createGenerateQueue,
  createPricingStore,
  createQueueEvents,
  createRedis,
  PROVIDERS,
  redisKeys,
  redisReady,
  type Config,
  type GenerateQueue,
  type Logger,
  type Provider,
  type QueueEvents,
} from '@cli-bridge/shared';
import { createApp } from './app.js';
import { createApiServices, type ApiServices } from './services/index.js';

/** Longest wait for one BullMQ client to close (ms); Redis may be gone. */
const CLOSE_STEP_MS = 2_000;
/** How long start-up waits for Redis before listening anyway (ms). */
const REDIS_STARTUP_WAIT_MS = 5_000;

export interface ApiServer {
  url: string;
  port: number;
  services: ApiServices;
  close(opts?: { graceMs?: number }): Promise<void>;
}

export async function startApiServer(config: Config, logger: Logger): Promise<ApiServer> {
  const keys = redisKeys(config.REDIS_PREFIX);
  const redis = createRedis({
    url: config.REDIS_URL,
    role: 'producer',
    name: 'api',
    logger,
  });
  // BullMQ defines its Lua commands on the client it is given, and ioredis copies them into every
  // MULTI/pipeline built on that client: our own commands get a client BullMQ never touches.
  const queueRedis = createRedis({ url: config.REDIS_URL, role: 'producer', name: 'api-queue', logger });
  const subscribers: ReturnType<typeof createRedis>[] = [];
  const queues = {} as Record<Provider, GenerateQueue>;
  const queueEvents = {} as Record<Provider, QueueEvents>;
  for (const p of PROVIDERS) {
    queues[p] = createGenerateQueue(p, {
      connection: queueRedis,
      prefix: keys.prefix,
      config,
    });
    queues[p].on('error', (err) => logger.warn({ err, provider: p }, 'queue error'));
    const sub = createRedis({
      url: config.REDIS_URL,
      role: 'subscriber',
      name: `api-events-${p}`,
      logger,
    });
    subscribers.push(sub);
    queueEvents[p] = createQueueEvents(p, {
      connection: sub,
      prefix: keys.prefix,
    });
    queueEvents[p].on('error', (err) => logger.warn({ err, provider: p }, 'queue events error'));
  }
  // Normally Redis is there: wait for it so the first request is not a needless 503. During an
  // outage the API still comes up (liveness) and answers 503 until Redis is back.
  try {
    await Promise.all([
      redisReady(redis, REDIS_STARTUP_WAIT_MS),
      redisReady(queueRedis, REDIS_STARTUP_WAIT_MS),
    ]);
  } catch {
    logger.warn({ waitedMs: REDIS_STARTUP_WAIT_MS }, 'Redis not reachable yet; answering 503 until it is');
  }
  const pricing = createPricingStore({
    file: config.CODEX_PRICING_FILE,
    logger,
  });
  // Each SSE stream reads with XREAD BLOCK on a connection of its own.
  const blockingClient = () =>
    createRedis({ url: config.REDIS_URL, role: 'subscriber', name: 'api-sse', logger });
  const services = createApiServices({
    config,
    logger,
    redis,
    keys,
    queues,
    queueEvents,
    pricing,
    blockingClient,
  });
  const app = createApp({ config, logger, services, redis });

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.PORT, config.HOST, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  // Sync waits can be long; the server's own timeouts must not cut them short.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  const port = (server.address() as AddressInfo).port;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url }, 'api listening');

  let closing: Promise<void> | undefined;
  const close = (opts: { graceMs?: number } = {}) =>
    (closing ??= (async () => {
      const graceMs = opts.graceMs ?? config.SHUTDOWN_TIMEOUT_MS;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      server.closeAllConnections();
      const warn = (err: unknown) => logger.warn({ err }, 'close failed');
      await Promise.all(
        PROVIDERS.flatMap((p) => [
          closeWithin(() => queueEvents[p].close(), CLOSE_STEP_MS, warn),
          closeWithin(() => queues[p].close(), CLOSE_STEP_MS, warn),
        ]),
      );
      for (const c of [...subscribers, queueRedis, redis]) await closeRedis(c);
    })());

  return { url, port, services, close };
}
