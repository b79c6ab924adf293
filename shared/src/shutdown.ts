/** Process lifecycle shared by every entry point: exit codes, signals, bounded shutdown. */
import type { Logger } from './logger.js';

/**
 * Exit code of a worker that found no CLI to serve (EX_CONFIG from sysexits.h): `npm start`
 * keeps the API up without it.
 */
export const EXIT_NO_CLI = 78;

export interface ShutdownOptions {
  logger: Logger;
  /** Deadline for `close` (ms); past it the process exits with code 1. */
  timeoutMs: number;
  /** Ordered, idempotent cleanup (e.g. stop intake, drain, close connections). */
  close: () => Promise<void>;
  /** Runs before the forced exit of a second signal or a passed deadline (e.g. kill children). */
  onForce?: () => void;
  exit?: (code: number) => void;
}

/**
 * SIGTERM/SIGINT run `close` once, bounded by a deadline; a second signal forces exit.
 * Returns the function that triggers the same shutdown (for fatal errors), with the exit code
 * to end with once `close` is done (default 0).
 */
export function handleShutdownSignals(opts: ShutdownOptions): (why: string, exitCode?: number) => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const force = () => {
    opts.onForce?.();
    exit(1);
  };
  let shuttingDown = false;
  const shutdown = (why: string, exitCode = 0) => {
    if (shuttingDown) {
      opts.logger.warn({ why }, 'second signal: exiting now');
      force();
      return;
    }
    shuttingDown = true;
    opts.logger.info({ why, timeoutMs: opts.timeoutMs }, 'shutting down');
    const deadline = setTimeout(() => {
      opts.logger.error('shutdown deadline passed: exiting');
      force();
    }, opts.timeoutMs);
    deadline.unref();
    opts
      .close()
      .then(() => {
        clearTimeout(deadline);
        opts.logger.info('shutdown complete');
        exit(exitCode);
      })
      .catch((err: unknown) => {
        opts.logger.error({ err }, 'shutdown failed');
        exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // A child of `npm start`'s launcher runs in a process group of its own (so a terminal's Ctrl-C
  // reaches only the launcher, which stops its children once, in order) and holds an IPC channel
  // to it: when the launcher is gone, however it died, the channel closes and the child stops too.
  if (process.send) process.once('disconnect', () => shutdown('launcher exited'));
  return shutdown;
}

/**
 * Runs one cleanup step, bounded: resolves when `step` settles or after `ms`, whichever comes
 * first, and never throws (errors go to `onError`). BullMQ's close() waits for Redis; when Redis
 * is gone it would wait forever.
 */
export async function closeWithin(
  step: () => Promise<unknown>,
  ms: number,
  onError: (err: unknown) => void = () => {},
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      step().catch(onError),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
