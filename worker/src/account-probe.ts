/**
 * The probe of a held account: one cheap request (a one-word answer on the provider's smallest
 * model) run exactly as a job runs (same flags, scratch directory, environment, process-group
 * kill), to learn whether the account serves again before its workers take real jobs on it.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config, GenerateJobData } from '@cli-bridge/shared';
import type { ProbeOutcome } from './account-gate.js';
import type { WorkerAccount } from './accounts.js';
import type { CliAdapter } from './cli/adapter.js';
import { buildCliEnv } from './cli/cli-env.js';
import { CliFailure } from './cli/cli-failure.js';
import { runCli } from './cli/run-cli.js';
import { recordRun, SCRATCH_PREFIX } from './orphans.js';

/** The probe's prompt: the shortest answer that proves the account serves. */
export const PROBE_PROMPT = 'Reply with the single word OK.';

export interface ProbeDeps {
  adapter: CliAdapter;
  config: Pick<
    Config,
    'KILL_GRACE_MS' | 'CLI_ENV_PASSTHROUGH' | 'USAGE_LIMIT_COOLDOWN_MS' | 'CODEX_DEFAULT_MODEL'
  >;
  baseEnv: Record<string, string | undefined>;
  tmpRoot?: string;
  now?: () => number;
}

export function createAccountProbe(deps: ProbeDeps) {
  const now = deps.now ?? Date.now;
  return async (account: WorkerAccount, signal: AbortSignal): Promise<ProbeOutcome> => {
    const data: GenerateJobData = {
      v: 1,
      provider: account.provider,
      keyName: 'account-probe',
      systemPrompt: '',
      userPrompt: PROBE_PROMPT,
      // The cheapest model each CLI knows by name.
      model: account.provider === 'claude' ? 'haiku' : deps.config.CODEX_DEFAULT_MODEL,
      stream: false,
      submittedAt: now(),
    };
    const privateDir = await mkdtemp(join(deps.tmpRoot ?? tmpdir(), SCRATCH_PREFIX));
    try {
      const workDir = join(privateDir, 'work');
      await mkdir(workDir, { mode: 0o700 });
      const env = { ...deps.baseEnv, ...account.env };
      const inv = await deps.adapter.prepare(data, { workDir, privateDir }, env);
      const run = await runCli({
        bin: inv.bin,
        args: inv.args,
        stdin: inv.stdin,
        cwd: workDir,
        env: buildCliEnv({
          provider: account.provider,
          base: deps.baseEnv,
          passthrough: deps.config.CLI_ENV_PASSTHROUGH,
          extra: { ...inv.env, ...account.env },
        }),
        timeoutMs: inv.timeoutMs,
        maxBufferBytes: inv.maxBufferBytes,
        killGraceMs: deps.config.KILL_GRACE_MS,
        signal,
        // Its record matters only if the worker dies mid-probe; a write that loses the race with
        // the directory's removal below is of no consequence.
        onSpawn: (pid) => void recordRun(privateDir, pid).catch(() => {}),
      });
      try {
        const result = deps.adapter.parse(run, data);
        return { status: 'ok', costMicros: result.cost_micros };
      } catch (err) {
        if (!(err instanceof CliFailure)) throw err;
        if (err.kind !== 'usage_limit') return { status: 'error', message: err.message };
        return {
          status: 'held',
          until: err.opts.resetAt ?? now() + deps.config.USAGE_LIMIT_COOLDOWN_MS,
          reason: err.opts.holdReason ?? 'usage_limit',
          message: err.message,
          costMicros: err.opts.costMicros ?? 0,
        };
      }
    } finally {
      await rm(privateDir, { recursive: true, force: true });
    }
  };
}
