/**
 * Worker process entry point: reads config, builds clients, serves the providers whose CLI is
 * here. `node worker/dist/main.js` (npm run start:worker).
 */
import { hostname } from 'node:os';
import {
  closeRedis,
  createLogger,
  createPricingStore,
  createRedis,
  handleShutdownSignals,
  loadConfigOrExit,
  PROVIDERS,
  redisKeys,
  resolveBin,
  type Provider,
  type RedisRole,
} from '@cli-bridge/shared';
import { createAdapters } from './adapters.js';
import { createBridgeWorker } from './bridge-worker.js';
import { buildCliEnv } from './cli/cli-env.js';
import { cliVersion } from './detect-providers.js';

/** Exit code when no CLI is there to serve (EX_CONFIG); `npm start` keeps the API up then. */
export const NO_CLI_EXIT_CODE = 78;

async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env, { role: 'worker' });
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'worker' });
  const binOf = (p: Provider) => (p === 'claude' ? config.CLAUDE_BIN : config.CODEX_BIN);

  const found = PROVIDERS.filter((p) => resolveBin(binOf(p), process.env.PATH) !== undefined);
  const providers = config.WORKER_PROVIDERS ?? found;
  const missing = providers.filter((p) => !found.includes(p));
  if (missing.length > 0) {
    logger.fatal(
      { missing },
      `CLI not found for ${missing.join(', ')}: install it or set CLAUDE_BIN / CODEX_BIN`,
    );
    process.exit(1);
  }
  if (providers.length === 0) {
    logger.fatal('no CLI found: install claude and/or codex, or set CLAUDE_BIN / CODEX_BIN');
    process.exit(NO_CLI_EXIT_CODE);
  }

  const env = buildCliEnv({
    base: process.env,
    passthrough: config.CLI_ENV_PASSTHROUGH,
  });
  const cliVersions: Record<string, string | null> = {};
  for (const p of providers) cliVersions[p] = await cliVersion(binOf(p), env);

  const client = (role: RedisRole, name: string) =>
    createRedis({ url: config.REDIS_URL, role, name, logger });
  const redis = client('producer', 'worker');
  const workerRedis = client('worker', 'worker');
  const accountingRedis = client('worker', 'worker-accounting');
  const subscriberRedis = client('subscriber', 'worker-cancel');
  const pricing = createPricingStore({
    file: config.CODEX_PRICING_FILE,
    logger,
  });
  const worker = createBridgeWorker({
    config,
    logger,
    redis,
    workerRedis,
    accountingRedis,
    subscriberRedis,
    keys: redisKeys(config.REDIS_PREFIX),
    adapters: createAdapters(providers, config, pricing),
    cliVersions,
    baseEnv: { ...process.env },
    hostname: hostname(),
  });

  handleShutdownSignals({
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS + config.KILL_GRACE_MS + 5_000,
    close: async () => {
      await worker.close({ drainMs: config.SHUTDOWN_TIMEOUT_MS });
      await closeRedis(subscriberRedis);
      await closeRedis(accountingRedis);
      await closeRedis(workerRedis);
      await closeRedis(redis);
    },
  });
  await worker.start();
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
