/**
 * Builds the API's clients and services from config and listens. Used by `main.ts` and by tests
 * that run an API in-process. `close()` is idempotent and ordered: stop accepting → let requests
 * finish (bounded) → close queue clients → close Redis.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  closeRedis,
  closeWithin,
  createGenerateQueue,
  createPricingStore,
  createRedis,
  PROVIDERS,
  redisKeys,
  redisReady,
  redisTarget,
  type Config,
  type GenerateQueue,
  type Logger,
  type Provider,
  type RedisRole,
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
  const client = (role: RedisRole, name: string) =>
    createRedis({ ...redisTarget(config), prefix: config.REDIS_PREFIX, role, name, logger });
  const redis = client('producer', 'api');
  // BullMQ defines its Lua commands on the client it is given, and ioredis copies them into every
  // MULTI/pipeline built on that client: our own commands get a client BullMQ never touches.
  const queueRedis = client('producer', 'api-queue');
  const queues = {} as Record<Provider, GenerateQueue>;
  for (const p of PROVIDERS) {
    queues[p] = createGenerateQueue(p, {
      connection: queueRedis,
      prefix: keys.prefix,
      config,
    });
    queues[p].on('error', (err) => logger.warn({ err, provider: p }, 'queue error'));
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
  // The event hub's one blocking connection (XREAD BLOCK over every followed job).
  const blockingClient = () => client('subscriber', 'api-sse');
  // Where the workers tell this process of its sync jobs' ends: a channel of its own.
  const replySubscriber = client('subscriber', 'api-replies');
  const replies = { subscriber: replySubscriber, channel: keys.replyChannel(randomUUID()) };
  const services = createApiServices({
    config,
    logger,
    redis,
    keys,
    queues,
    pricing,
    blockingClient,
    replies,
  });
  // Keys made before keys had ids get one (their name), once; harmless to repeat.
  const adopted = await services.keyStore.adoptLegacyKeys().catch((err: unknown) => {
    logger.warn({ err }, 'could not check for keys without an id');
    return 0;
  });
  if (adopted > 0) logger.info({ adopted }, 'gave keys made before key ids their name as id');
  const app = createApp({ config, logger, services, redis });

  // Sync results are heard on the reply channel: be subscribed before the first request (bounded,
  // as above).
  await closeWithin(() => services.waiters.ready(), REDIS_STARTUP_WAIT_MS);

  let shuttingDown = false;
  // Receiving a whole request (headers and body) must take at most REQUEST_TIMEOUT_MS: a stalled
  // upload is dropped with 408 (checked every second, not Node's default 30 s). Node's
  // requestTimeout ends once the request is in, so long sync waits and SSE responses are not cut.
  const server = createServer(
    {
      requestTimeout: config.REQUEST_TIMEOUT_MS,
      headersTimeout: Math.min(config.REQUEST_TIMEOUT_MS, 10_000),
      connectionsCheckingInterval: Math.min(1_000, config.REQUEST_TIMEOUT_MS),
      keepAliveTimeout: 65_000,
    },
    app,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Past this many open connections new ones are refused, well before the process runs out of
  // file descriptors (for Redis, the CLIs' pipes, /health).
  server.maxConnections = config.MAX_CONNECTIONS;
  // While shutting down, every answer closes its connection: keep-alive clients do not hold the
  // shutdown open.
  const inFlight = new Set<ServerResponse>();
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (shuttingDown) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url, dashboard: `${url}/dashboard` }, 'api listening');

  let closing: Promise<void> | undefined;
  const close = (opts: { graceMs?: number } = {}) =>
    (closing ??= (async () => {
      const graceMs = opts.graceMs ?? config.SHUTDOWN_TIMEOUT_MS;
      shuttingDown = true;
      for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const reap = setInterval(() => server.closeIdleConnections(), 100);
      // Requests in flight get until shortly before the deadline to finish; then every one still
      // waiting is answered (503 with its job id: the job goes on, or stays queued) and every
      // event stream is ended (the client resumes with Last-Event-ID), so no request is left
      // without an answer when the connections close.
      const answerMs = Math.min(2_000, Math.floor(graceMs / 2));
      const waited = (ms: number) => {
        let timer: NodeJS.Timeout | undefined;
        return Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() =>
          clearTimeout(timer),
        );
      };
      await waited(graceMs - answerMs);
      services.waiters.abandonAll();
      await services.events.close();
      await waited(answerMs);
      clearInterval(reap);
      server.closeAllConnections();
      const warn = (err: unknown) => logger.warn({ err }, 'close failed');
      await Promise.all(PROVIDERS.map((p) => closeWithin(() => queues[p].close(), CLOSE_STEP_MS, warn)));
      for (const c of [replySubscriber, queueRedis, redis]) await closeRedis(c);
    })());

  return { url, port, services, close };
}
