/** API process entry point: `node api/dist/main.js` (npm run start:api). */
import { createLogger, handleShutdownSignals, loadConfigOrExit } from '@cli-bridge/shared';
import { startApiServer } from './server.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env, { role: 'api' });
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'api' });
  if (!config.BRIDGE_ADMIN_KEY)
    logger.warn('BRIDGE_ADMIN_KEY is not set: the admin API refuses every request');
  const server = await startApiServer(config, logger);
  handleShutdownSignals({
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS + 5_000,
    close: () => server.close(),
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`api failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
