/**
 * Where a job gets its CLI process: the one place the warm pool hooks into the spawn path.
 * `open()` takes a waiting process of the job's key from the pool (a hit) or prepares a cold one
 * (a fresh scratch directory, made ahead of the job, and the adapter's files); `run()` gives it the prompt (cold: spawns it
 * first); `release()` removes the scratch directory (in the background) and asks the pool to keep
 * a process ready for the next job of the same key. Both paths spawn with the same argv, cwd and environment.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config, GenerateJobData, Logger, Provider } from '@cli-bridge/shared';
import type { CliAdapter, CliInvocation, JobDirs } from './adapter.js';
import { buildCliEnv } from './cli-env.js';
import { runCli, startCli, type CliRun, type CliRunOptions } from './run-cli.js';
import { createWarmPool, type WarmPool, type WarmPoolStats, type WarmProcess } from './warm-pool.js';
import { recordRun, SCRATCH_PREFIX } from '../orphans.js';

/**
 * The account a CLI runs as (worker/src/accounts.ts): its name is part of the warm key, so a
 * process started for one account never serves another, and its env (the account's config
 * directory) goes to every spawn, cold or warm.
 */
export interface SpawnAccount {
  name: string;
  env: Record<string, string>;
}

export type SpawnerConfig = Pick<
  Config,
  | 'CLI_ENV_PASSTHROUGH'
  | 'WARM_POOL_MAX'
  | 'WARM_POOL_PER_KEY'
  | 'WARM_POOL_MAX_RSS_MB'
  | 'WARM_POOL_IDLE_MS'
  | 'WORKER_CONCURRENCY_CLAUDE'
  | 'WORKER_CONCURRENCY_CODEX'
>;

export interface CliSpawnerDeps {
  config: SpawnerConfig;
  /** The worker's environment, filtered per run by `buildCliEnv`. */
  baseEnv: Record<string, string | undefined>;
  logger: Logger;
  /** Parent of the per-job scratch directories (default: the OS temp dir). */
  tmpRoot?: string;
  /** Running + waiting CLIs per provider stay within this (default WORKER_CONCURRENCY_*). */
  concurrency?: (provider: Provider) => number;
}

/** What `run` needs beyond the invocation: cancellation, streaming, the spawn hook. */
export type SpawnRunOptions = Pick<CliRunOptions, 'signal' | 'onStdoutLine' | 'killGraceMs'> & {
  /** Called with the CLI's pid once it runs the job (a warm process: when it is handed the prompt). */
  onSpawn?: (pid: number) => void;
};

export interface OpenedCli {
  readonly invocation: CliInvocation;
  /** True when a warm process serves the job. */
  readonly warm: boolean;
  run(opts: SpawnRunOptions): Promise<CliRun>;
  /**
   * Idempotent: starts removing the scratch directory (not waited for); a warm process never run
   * goes back to the pool.
   */
  release(): Promise<void>;
}

interface WarmMeta {
  dirs: JobDirs;
  invocation: CliInvocation;
}

export interface CliSpawner {
  open(adapter: CliAdapter, data: GenerateJobData, account: SpawnAccount): Promise<OpenedCli>;
  stats(): WarmPoolStats;
  /** Kills the waiting processes. Idempotent. */
  close(): Promise<void>;
}

export function createCliSpawner(deps: CliSpawnerDeps): CliSpawner {
  const { config } = deps;
  const running = new Map<Provider, number>();
  const concurrency =
    deps.concurrency ??
    ((p: Provider) => (p === 'claude' ? config.WORKER_CONCURRENCY_CLAUDE : config.WORKER_CONCURRENCY_CODEX));
  const pool: WarmPool<WarmMeta> = createWarmPool<WarmMeta>({
    maxTotal: config.WARM_POOL_MAX,
    perKey: config.WARM_POOL_PER_KEY,
    maxRssBytes: config.WARM_POOL_MAX_RSS_MB * 1024 * 1024,
    idleMs: config.WARM_POOL_IDLE_MS,
    concurrency,
    busy: (p) => running.get(p) ?? 0,
    logger: deps.logger,
  });

  /** Scratch directories being removed in the background (close() waits for them). */
  const removing = new Set<Promise<void>>();
  /**
   * Removes a job's scratch directory off the job's critical path: the job completes (and its
   * client hears of it) without waiting for the `rm -r` (~1.4 ms p50, ~5 ms p95 in the stage
   * trace). A worker that dies first leaves it to the next worker's orphan sweep.
   */
  function removeLater(dir: string): void {
    const p = rm(dir, { recursive: true, force: true })
      .catch((err: unknown) => deps.logger.warn({ err, dir }, 'could not remove a scratch directory'))
      .finally(() => removing.delete(p));
    removing.add(p);
  }

  async function makeDirs(): Promise<JobDirs> {
    const privateDir = await mkdtemp(join(deps.tmpRoot ?? tmpdir(), SCRATCH_PREFIX));
    const workDir = join(privateDir, 'work');
    try {
      await mkdir(workDir, { mode: 0o700 });
      // Marked as this worker's at once: a spare left by a worker that died is swept too.
      await recordRun(privateDir);
    } catch (err) {
      await rm(privateDir, { recursive: true, force: true });
      throw err;
    }
    return { privateDir, workDir };
  }

  /** Records a spawned CLI's group for the orphan sweep, off the spawn's critical path. */
  const noteRun = (dir: string, pid: number) =>
    void recordRun(dir, pid).catch((err: unknown) =>
      deps.logger.warn({ err, dir }, 'could not record a CLI run for the orphan sweep'),
    );

  /**
   * One scratch directory made ahead of the next cold job, so that job does not wait for the
   * `mkdtemp` and `mkdir` (part of the ~1.3 ms "scratch dir" stage of the trace, BENCHMARKS.md);
   * taking it starts the next. If making it failed, the job makes its own (and hears why).
   */
  let spare: Promise<JobDirs | undefined> | undefined;
  let closed = false;
  const makeSpare = () =>
    makeDirs().catch((err: unknown) => {
      deps.logger.warn({ err }, 'could not make a scratch directory ahead');
      return undefined;
    });
  async function takeDirs(): Promise<JobDirs> {
    const ready = spare;
    spare = closed ? undefined : makeSpare();
    return (await ready) ?? makeDirs();
  }

  const envFor = (provider: Provider, inv: CliInvocation, account: SpawnAccount) =>
    buildCliEnv({
      provider,
      base: deps.baseEnv,
      passthrough: config.CLI_ENV_PASSTHROUGH,
      extra: { ...inv.env, ...account.env },
    });
  /** The adapter reads the account's config (codex: its config.toml's MCP servers). */
  const prepare = (adapter: CliAdapter, data: GenerateJobData, dirs: JobDirs, account: SpawnAccount) =>
    adapter.prepare(data, dirs, { ...deps.baseEnv, ...account.env });

  /** A process for `data`'s key, started now and left waiting on stdin. */
  async function startWarm(
    adapter: CliAdapter,
    data: GenerateJobData,
    account: SpawnAccount,
  ): Promise<WarmProcess<WarmMeta>> {
    const dirs = await makeDirs();
    try {
      const invocation = await prepare(adapter, data, dirs, account);
      const cli = startCli({
        bin: invocation.bin,
        args: invocation.args,
        cwd: dirs.workDir,
        env: envFor(adapter.provider, invocation, account),
        onSpawn: (pid) => noteRun(dirs.privateDir, pid),
      });
      return {
        cli,
        meta: { dirs, invocation },
        async dispose() {
          await cli.kill();
          await rm(dirs.privateDir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      await rm(dirs.privateDir, { recursive: true, force: true });
      throw err;
    }
  }

  return {
    async open(adapter, data, account) {
      const provider = adapter.provider;
      const warmKey = adapter.warmKey?.(data);
      const key = warmKey === undefined ? undefined : `${provider}\n${account.name}\n${warmKey}`;
      const warm = key === undefined ? undefined : pool.take(key);
      let dirs: JobDirs;
      let invocation: CliInvocation;
      if (warm) {
        dirs = warm.meta.dirs;
        invocation = { ...warm.meta.invocation, stdin: adapter.stdinOf(data) };
      } else {
        dirs = await takeDirs();
        try {
          invocation = await prepare(adapter, data, dirs, account);
        } catch (err) {
          await rm(dirs.privateDir, { recursive: true, force: true });
          throw err;
        }
      }
      running.set(provider, (running.get(provider) ?? 0) + 1);
      let ran = false;
      let released: Promise<void> | undefined;
      return {
        invocation,
        warm: warm !== undefined,
        run(o) {
          ran = true;
          const limits = {
            stdin: invocation.stdin,
            timeoutMs: invocation.timeoutMs,
            maxBufferBytes: invocation.maxBufferBytes,
            killGraceMs: o.killGraceMs,
            signal: o.signal,
            onStdoutLine: o.onStdoutLine,
          };
          if (warm?.cli.alive()) {
            if (warm.cli.pid !== undefined) o.onSpawn?.(warm.cli.pid);
            return warm.cli.run(limits);
          }
          // Cold, or a warm process that died since it was taken (before its lease, say): a cold
          // spawn with the same invocation, in the same directories (its files are there).
          return runCli({
            ...limits,
            bin: invocation.bin,
            args: invocation.args,
            cwd: dirs.workDir,
            env: envFor(provider, invocation, account),
            onSpawn: (pid) => {
              noteRun(dirs.privateDir, pid);
              o.onSpawn?.(pid);
            },
          });
        },
        release() {
          released ??= (async () => {
            running.set(provider, (running.get(provider) ?? 1) - 1);
            if (warm && !ran) pool.putBack(key!, provider, warm);
            else removeLater(dirs.privateDir);
            if (key !== undefined) pool.fill(key, provider, () => startWarm(adapter, data, account));
          })();
          return released;
        },
      };
    },
    stats: () => pool.stats(),
    async close() {
      closed = true;
      const left = await spare;
      spare = undefined;
      if (left) removeLater(left.privateDir);
      await pool.close();
      while (removing.size > 0) await Promise.allSettled([...removing]);
    },
  };
}
