/**
 * Builds one worker's clients and services from config and starts it: the worker-side
 * counterpart of the API's `startApiServer`, used by `main.ts` and by tests that run a worker
 * in-process. The handle's `close()` is idempotent and ordered: stop taking jobs → let running
 * ones finish (bounded) → hand back what is left → close the Redis clients it opened.
 */
import { hostname } from 'node:os';
import {
  closeRedis,
  createPricingStore,
  createRedis,
  redisKeys,
  redisTarget,
  type Config,
  type Logger,
  type Provider,
  type RedisRole,
} from '@cli-bridge/shared';
import { createBridgeWorker } from './bridge-worker.js';
import { buildCliEnv } from './cli/cli-env.js';
import { cliBin, cliVersion, createAdapters } from './providers.js';

export interface StartWorkerOptions {
  config: Config;
  logger: Logger;
  /** The providers to serve (see `detectProviders`). */
  providers: readonly Provider[];
  /** The worker's own environment; each CLI run gets a filtered copy of it (`buildCliEnv`). */
  env: Record<string, string | undefined>;
  /** Default: the OS host name. */
  hostname?: string;
  /** Parent of the per-job scratch directories (default: the OS temp dir). */
  tmpRoot?: string;
  /** Ask each CLI for its `--version` for the worker registry (default true). */
  probeVersions?: boolean;
}

export interface WorkerHandle {
  readonly id: string;
  readonly providers: readonly Provider[];
  /** Idempotent. Running jobs get `drainMs` (default SHUTDOWN_TIMEOUT_MS) to finish. */
  close(opts?: { drainMs?: number }): Promise<void>;
}

export async function startWorker(opts: StartWorkerOptions): Promise<WorkerHandle> {
  const { config, logger } = opts;
  const cliVersions: Record<string, string | null> = {};
  if (opts.probeVersions !== false) {
    await Promise.all(
      opts.providers.map(async (p) => {
        const env = buildCliEnv({ provider: p, base: opts.env, passthrough: config.CLI_ENV_PASSTHROUGH });
        cliVersions[p] = await cliVersion(cliBin(p, config), env);
      }),
    );
  }

  const client = (role: RedisRole, name: string) =>
    createRedis({ ...redisTarget(config), prefix: config.REDIS_PREFIX, role, name, logger });
  // Fail-fast connection for heartbeats and queue holds.
  const redis = client('producer', 'worker');
  // Blocking-capable connection shared by this process's BullMQ workers.
  const workerRedis = client('worker', 'worker');
  // Settlement, leases and job events wait out a Redis blip instead of losing usage; not shared
  // with BullMQ, whose Lua command definitions ioredis copies into every MULTI.
  const accountingRedis = client('worker', 'worker-accounting');
  const subscriberRedis = client('subscriber', 'worker-cancel');
  const clients = [subscriberRedis, accountingRedis, workerRedis, redis];

  const pricing = createPricingStore({ file: config.CODEX_PRICING_FILE, logger });
  const worker = createBridgeWorker({
    config,
    logger,
    redis,
    workerRedis,
    accountingRedis,
    subscriberRedis,
    keys: redisKeys(config.REDIS_PREFIX),
    adapters: createAdapters(opts.providers, config, pricing),
    cliVersions,
    baseEnv: { ...opts.env },
    hostname: opts.hostname ?? hostname(),
    tmpRoot: opts.tmpRoot,
  });

  let closing: Promise<void> | undefined;
  const close = (o: { drainMs?: number } = {}) =>
    (closing ??= (async () => {
      await worker.close(o);
      for (const c of clients) await closeRedis(c);
    })());

  try {
    await worker.start();
  } catch (err) {
    await close({ drainMs: 0 });
    throw err;
  }
  return { id: worker.id, providers: worker.providers, close };
}
