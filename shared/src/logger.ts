import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths never written to a log line: API keys in any header or body, the admin key, prompts. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'key',
  '*.key',
  'rawKey',
  '*.rawKey',
  'adminKey',
  '*.adminKey',
  'BRIDGE_ADMIN_KEY',
  '*.BRIDGE_ADMIN_KEY',
  'systemPrompt',
  '*.systemPrompt',
  'userPrompt',
  '*.userPrompt',
];

export interface LoggerOptions {
  level: string;
  /** Process role, e.g. `api`, `worker`, `launcher`. */
  name: string;
  /** Defaults to stdout; tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream;
}

/**
 * One root logger per process; components take `logger.child({ component })`. Without a
 * `destination` it writes to stdout asynchronously (pino's sonic-boom, flushed on exit): a
 * synchronous write per request line was the API's largest CPU cost under load.
 */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
