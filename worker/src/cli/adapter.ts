import type { GenerateJobData, GenerateResult, Provider } from '@cli-bridge/shared';
import type { CliRun } from './run-cli.js';

export interface CliInvocation {
  bin: string;
  args: string[];
  stdin: string;
  /** Provider settings added to the minimal environment. */
  env: Record<string, string>;
  timeoutMs: number;
  maxBufferBytes: number;
}

export interface JobDirs {
  /** The CLI's cwd: fresh and empty. */
  workDir: string;
  /** Private to the bridge (0700), beside workDir: the system prompt file goes here. */
  privateDir: string;
}

/** How one CLI is run and read. Parsers throw `CliFailure` for anything but a good answer. */
export interface CliAdapter {
  readonly provider: Provider;
  readonly bin: string;
  /** How long one run may take (ms): every invocation's `timeoutMs`. */
  readonly timeoutMs: number;
  /** `env`: the worker's environment (the CLI gets a filtered copy of it), to find its config. */
  prepare(
    data: GenerateJobData,
    dirs: JobDirs,
    env?: Record<string, string | undefined>,
  ): Promise<CliInvocation>;
  /** What the CLI reads on stdin for this job (also what a warm process is given). */
  stdinOf(data: GenerateJobData): string;
  /**
   * Warm pool: what fixes a process of this CLI at start-up for this job, beyond provider and
   * account (model, flags, a system prompt read from a file): two jobs with the same key can use
   * each other's warm processes. Absent, or undefined for a job: never warmed.
   */
  warmKey?(data: GenerateJobData): string | undefined;
  parse(run: CliRun, data: GenerateJobData): GenerateResult;
  /** Streaming: the text delta carried by one stdout line, if any. */
  textDelta?(line: string): string | undefined;
}
