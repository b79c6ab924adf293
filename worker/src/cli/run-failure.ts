import { CliFailure } from './cli-failure.js';
import type { CliRun } from './run-cli.js';

/**
 * Failures that do not depend on what the CLI printed: it could not start, timed out, was
 * cancelled or printed too much. Returns undefined when the run ended on its own.
 */
export function runFailure(
  run: CliRun,
  name: string,
  limits: { timeoutMs: number; maxBufferBytes: number },
): CliFailure | undefined {
  switch (run.end) {
    case 'spawn_failed':
      return new CliFailure(
        'fatal',
        `${name} could not be started: ${run.spawnError?.message ?? 'unknown error'}`,
        { type: 'unavailable' },
      );
    case 'timeout':
      return new CliFailure('fatal', `${name} did not answer within ${limits.timeoutMs} ms`, {
        type: 'timeout',
      });
    case 'oversize':
      return new CliFailure('fatal', `${name} printed more than ${limits.maxBufferBytes} bytes`);
    case 'aborted':
      return new CliFailure('fatal', `${name} run was stopped (${String(run.abortReason ?? 'aborted')})`);
    case 'exited':
      return undefined;
  }
}

/** One readable line of stderr for an error message (the last non-empty one). */
export function stderrTail(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines.at(-1) ?? '').slice(0, 500);
}
