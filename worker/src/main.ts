/**
 * Worker process entry point: reads config, finds the CLIs to serve, starts the worker and stops
 * it on SIGTERM/SIGINT. `node worker/dist/main.js` (npm run start:worker).
 */
import {
  createLogger,
  EXIT_NO_CLI,
  handleShutdownSignals,
  loadConfigOrExit,
  type Provider,
} from '@cli-bridge/shared';
import { detectProviders, ProviderDetectionError } from './providers.js';
import { startWorker, type WorkerHandle } from './start-worker.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env, { role: 'worker' });
  const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name: 'worker' });
  let providers: Provider[];
  try {
    providers = detectProviders(config, process.env.PATH);
  } catch (err) {
    if (!(err instanceof ProviderDetectionError)) throw err;
    logger.fatal(err.message);
    // No CLI at all is a configuration state `npm start` knows how to live with (EX_CONFIG).
    process.exit(err.noneFound ? EXIT_NO_CLI : 1);
  }
  // Signals are handled from here on: a worker still waiting for Redis also stops cleanly.
  const started: { worker?: WorkerHandle } = {};
  handleShutdownSignals({
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS + config.KILL_GRACE_MS + 5_000,
    close: async () => started.worker?.close({ drainMs: config.SHUTDOWN_TIMEOUT_MS }),
  });
  started.worker = await startWorker({ config, logger, providers, env: process.env });
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
