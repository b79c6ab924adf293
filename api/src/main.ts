/** API process entry point: `node api/dist/main.js` (npm run start:api). */
import { createLogger, handleShutdownSignals, loadConfigOrExit, type Config } from '@cli-bridge/shared';
import { startApiServer } from './server.js';

/** One line for a port that cannot be had, instead of a stack trace. */
function listenProblem(err: unknown, config: Config): string | undefined {
  const where = `${config.HOST}:${config.PORT}`;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return `${where} is already in use: stop what uses it, or set PORT`;
  if (code === 'EACCES') return `no permission to listen on ${where}: set PORT above 1023`;
  if (code === 'EADDRNOTAVAIL') return `${config.HOST} is not an address of this machine: set HOST`;
  return undefined;
}

async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env, { role: 'api' });
  const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name: 'api' });
  if (!config.BRIDGE_ADMIN_KEY)
    logger.warn('BRIDGE_ADMIN_KEY is not set: the admin API refuses every request');
  const server = await startApiServer(config, logger).catch((err: unknown) => {
    const problem = listenProblem(err, config);
    if (!problem) throw err;
    process.stderr.write(`api failed to start: ${problem}\n`);
    process.exit(1);
  });
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
