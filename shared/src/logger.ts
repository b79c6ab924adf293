import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

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

/** LOG_FORMAT: `json` lines, `pretty` lines for people, or `auto` (pretty when stdout is a terminal). */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  level: string;
  /** Process role, e.g. `api`, `worker`, `launcher`. */
  name: string;
  /** Default `json`. */
  format?: LogFormat;
  /** Defaults to stdout; tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream;
}

/**
 * One root logger per process; components take `logger.child({ component })`. Without a
 * `destination` it writes JSON to stdout asynchronously (pino's sonic-boom, flushed on exit): a
 * synchronous write per request line was the API's largest CPU cost under load. The pretty form
 * (pino-pretty, in-process) is for a person at a terminal, where that cost does not matter.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && process.stdout.isTTY === true);
  const destination =
    opts.destination ??
    (pretty
      ? PinoPretty({
          colorize: process.stdout.isTTY === true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
        })
      : pino.destination({ dest: 1, sync: false }));
  return pino(
    {
      name: opts.name,
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    destination,
  );
}
