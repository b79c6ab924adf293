/**
 * The spawner (worker/src/cli/cli-spawner.ts) with the fake claude, no Redis: a job of a key that
 * has a waiting process runs on it; one whose waiting process died after it was taken (between
 * take and run) still gets its answer from a cold spawn in the same directories; a job that never
 * ran gives its process back.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, loadConfig, type GenerateJobData } from '@cli-bridge/shared';
import {
  createClaudeAdapter,
  createCliSpawner,
  SCRATCH_PREFIX,
  type CliSpawner,
  type SpawnAccount,
} from '@cli-bridge/worker';
import { FAKE_CLAUDE, tempDir } from './helpers/env.js';
import { childrenOf } from './helpers/procs.js';
import { isAlive, waitFor } from './helpers/records.js';

const logger = createLogger({ level: 'silent', name: 'test' });
const config = loadConfig({ WARM_POOL_MAX: '4', CLAUDE_BIN: FAKE_CLAUDE });
const adapter = createClaudeAdapter({
  bin: FAKE_CLAUDE,
  timeoutMs: 10_000,
  maxBufferBytes: 1e6,
  maxRetries: 0,
});
const spawners: CliSpawner[] = [];
afterEach(async () => {
  for (const s of spawners.splice(0)) await s.close();
});

function spawner(cfg = config, tmpRoot = tempDir('spawner')) {
  const s = createCliSpawner({
    config: cfg,
    baseEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
    logger,
    tmpRoot,
  });
  spawners.push(s);
  return s;
}

const job = (userPrompt: string): GenerateJobData => ({
  v: 1,
  provider: 'claude',
  keyName: 'k',
  systemPrompt: 'Be brief.',
  userPrompt,
  model: 'sonnet',
  stream: false,
  submittedAt: Date.now(),
});

const DEFAULT = { name: 'default', env: {} };

/** Opens, runs and releases one job; returns its answer and whether it ran warm. */
async function answer(
  s: CliSpawner,
  prompt: string,
  beforeRun?: () => Promise<void>,
  account: SpawnAccount = DEFAULT,
) {
  const data = job(prompt);
  const cli = await s.open(adapter, data, account);
  try {
    await beforeRun?.();
    const run = await cli.run({ killGraceMs: 500 });
    return { text: adapter.parse(run, data).text, warm: cli.warm };
  } finally {
    await cli.release();
  }
}

const waitingFake = () => childrenOf(process.pid).filter((c) => c.cmdline.includes('claude.mjs'));

/** The scratch directories under `root` (the spawner's, by their prefix). */
const scratchDirs = (root: string) => readdirSync(root).filter((n) => n.startsWith(SCRATCH_PREFIX));

describe('cli spawner', () => {
  it('a cold job takes the scratch directory made ahead of it; close removes the spare', async () => {
    const root = tempDir('spawner-spare');
    const s = spawner(loadConfig({ WARM_POOL_MAX: '0', CLAUDE_BIN: FAKE_CLAUDE }), root);
    const first = await s.open(adapter, job('one'), DEFAULT);
    // The first job made its own; a spare for the next is on its way.
    await waitFor(() => scratchDirs(root).length === 2, 2_000, 'the spare directory');
    const spareDir = scratchDirs(root).find((n) => !first.invocation.args.join(' ').includes(n))!;
    await first.release();
    const second = await s.open(adapter, job('two'), DEFAULT);
    // The second job runs in the spare (its system-prompt file is there), and a new spare comes.
    expect(second.invocation.args.join(' ')).toContain(spareDir);
    await second.run({ killGraceMs: 500 });
    await second.release();
    await s.close();
    spawners.splice(spawners.indexOf(s), 1);
    expect(scratchDirs(root)).toEqual([]);
  });

  it('runs a job on the process waiting for its key, then keeps another ready', async () => {
    const s = spawner();
    expect(await answer(s, 'one')).toEqual({ text: 'Echo: one', warm: false });
    await waitFor(() => s.stats().size === 1, 5_000, 'a warm process');
    expect(await answer(s, 'two')).toEqual({ text: 'Echo: two', warm: true });
    await waitFor(() => s.stats().size === 1, 5_000, 'the next warm process');
    expect(s.stats()).toMatchObject({ hits: 1, misses: 1 });
  });

  it('a warm process that dies after it was taken: the job is answered by a cold spawn', async () => {
    const s = spawner();
    await answer(s, 'first');
    await waitFor(() => s.stats().size === 1, 5_000, 'a warm process');
    const res = await answer(s, 'second', async () => {
      const [w] = waitingFake();
      process.kill(w!.pid, 'SIGKILL');
      await waitFor(() => !isAlive(w!.pid), 5_000, 'the taken process to die');
    });
    expect(res).toEqual({ text: 'Echo: second', warm: true });
  });

  it("an account's warm process serves only that account, started with its config directory", async () => {
    const s = spawner();
    const work = { name: 'work', env: { CLAUDE_CONFIG_DIR: tempDir('acct-work') } };
    const home = { name: 'home', env: { CLAUDE_CONFIG_DIR: tempDir('acct-home') } };
    await answer(s, 'w1', undefined, work);
    await waitFor(() => s.stats().size === 1, 5_000, "work's warm process");
    const [waiting] = waitingFake();
    const env = readFileSync(`/proc/${waiting!.pid}/environ`, 'utf8').split('\0');
    expect(env).toContain(`CLAUDE_CONFIG_DIR=${work.env.CLAUDE_CONFIG_DIR}`);
    // Same job key, other account: cold; the work account's process still waits for its own.
    expect((await answer(s, 'h1', undefined, home)).warm).toBe(false);
    expect((await answer(s, 'w2', undefined, work)).warm).toBe(true);
  });

  it('a job that never ran gives its warm process back', async () => {
    const s = spawner();
    await answer(s, 'first');
    await waitFor(() => s.stats().size === 1, 5_000, 'a warm process');
    const cli = await s.open(adapter, job('not run'), DEFAULT);
    expect(cli.warm).toBe(true);
    await cli.release();
    expect(s.stats()).toMatchObject({ size: 1, hits: 0 });
    expect(await answer(s, 'third')).toEqual({ text: 'Echo: third', warm: true });
  });
});
