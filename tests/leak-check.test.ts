/**
 * The harness's leak check (tests/helpers/leak-check.ts) fails when something is left behind: a
 * child process, a writer that puts keys back under a deleted prefix, an open Redis connection of
 * the prefix; and stays quiet when everything was closed, also while another harness of the file
 * is still open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { closeRedis, createLogger, createRedis, redisReady } from '@cli-bridge/shared';
import { groupReaper, startWorker } from '@cli-bridge/worker';
import { Redis } from 'ioredis';
import { REDIS_URL, testEnv, uniquePrefix } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { checkForLeaks, cleanupAll, LeakError } from './helpers/leak-check.js';
import { deletePrefix } from './helpers/prefix.js';
import { hasExited, procStat } from './helpers/procfs.js';
import { isAlive } from './helpers/records.js';

const logger = createLogger({ level: 'silent', name: 'test' });

/** Undone after each test, whether it passed or not, so one test's leak never fails the next. */
const undo: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of undo.splice(0).reverse()) await fn();
});

/** A child process this test leaves running until the end of the test. */
function leaveChild(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  undo.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  return child;
}

/** The checker's client and a prefix of its own, as a harness has them. */
function checker() {
  const prefix = uniquePrefix('leakcheck');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  undo.push(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });
  return { prefix, redis, check: () => checkForLeaks({ redis, prefix, recheckMs: 150, settleMs: 1_000 }) };
}

describe('checkForLeaks', () => {
  it('passes when nothing is left', async () => {
    await checker().check();
  });

  it('fails on a child process still running', async () => {
    const child = leaveChild('sleep', ['30']);
    const err = await checker()
      .check()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeakError);
    expect((err as Error).message).toContain(`child process still running: ${child.pid} sleep 30`);
  });

  it('waits (bounded) for a child that is already on its way out', async () => {
    const child = leaveChild('sleep', ['0.2']);
    await checker().check();
    expect(hasExited(procStat(child.pid!))).toBe(true); // exited, reaped or not
  });

  it('fails on a key that re-appears under the deleted prefix (a timer still writing)', async () => {
    const c = checker();
    const writer = new Redis(REDIS_URL, { connectionName: 'leakcheck-writer' });
    const timer = setInterval(() => void writer.set(`${c.prefix}:heartbeat`, String(Date.now())), 50);
    undo.push(async () => {
      clearInterval(timer);
      await writer.quit();
    });
    await writer.set(`${c.prefix}:heartbeat`, '0');
    await deletePrefix(c.redis, c.prefix);
    await expect(c.check()).rejects.toThrow(
      `1 key(s) re-appeared after the prefix was deleted (something still writes): ${c.prefix}:heartbeat`,
    );
  });

  it('fails on a Redis connection named after the prefix (as BullMQ names its own)', async () => {
    const c = checker();
    const conn = new Redis(REDIS_URL, { connectionName: `${c.prefix}:Y2xhdWRl` });
    undo.push(() => conn.quit());
    await conn.ping();
    await expect(c.check()).rejects.toThrow(`Redis connection still open: ${c.prefix}:Y2xhdWRl`);
  });

  it('fails on a bridge client still open (cli-bridge:<prefix>:<name>:<role>)', async () => {
    const c = checker();
    const conn = createRedis({ url: REDIS_URL, role: 'producer', name: 'leaky', prefix: c.prefix, logger });
    undo.push(() => closeRedis(conn));
    await redisReady(conn);
    await expect(c.check()).rejects.toThrow(
      `Redis connection still open: cli-bridge:${c.prefix}:leaky:producer (127.0.0.1:${conn.stream.localPort})`,
    );
  });

  it("leaves another harness's bridge process (its own REDIS_PREFIX) to that harness", async () => {
    const mine = checker();
    const other = checker();
    const child = spawn('sleep', ['30'], {
      stdio: 'ignore',
      env: { ...process.env, REDIS_PREFIX: other.prefix },
    });
    undo.push(async () => {
      child.kill('SIGKILL');
      await once(child, 'exit');
    });
    await mine.check();
    await expect(other.check()).rejects.toThrow(`child process still running: ${child.pid} sleep 30`);
  });
});

describe('harness cleanup', () => {
  it('fails when the file left a child process running', async () => {
    const h = createHarness('leakcheck');
    await h.startApi();
    const child = leaveChild('sleep', ['30']);
    await expect(h.cleanup()).rejects.toThrow(`child process still running: ${child.pid} sleep 30`);
  });

  it('fails when a worker it did not start is still running on its prefix', async () => {
    const h = createHarness('leakcheck');
    const worker = await startWorker({
      config: h.config,
      logger,
      providers: ['claude'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...testEnv(h.prefix) },
      hostname: 'test-host',
      probeVersions: false,
    });
    undo.push(async () => {
      await worker.close({ drainMs: 0 });
      const redis = new Redis(REDIS_URL);
      await deletePrefix(redis, h.prefix);
      await redis.quit();
    });
    const err = await h.cleanup().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeakError);
    const message = (err as Error).message;
    expect(message).toMatch(
      `re-appeared after the prefix was deleted (something still writes): ${h.prefix}:`,
    );
    expect(message).toContain(`Redis connection still open: ${h.prefix}:Y2xhdWRl`); // BullMQ's
    expect(message).toContain(`Redis connection still open: cli-bridge:${h.prefix}:worker:producer`);
  });

  it("passes after CLI runs, leaving the process's one group reaper running (by design)", async () => {
    const h = createHarness('leakcheck');
    const { url } = await h.startApi();
    await h.startWorker(['claude']);
    const key = await h.createKey(url);
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'hi' },
      { authorization: `Bearer ${key}` },
    );
    expect(res.status).toBe(200);
    await h.cleanup();
    expect(isAlive(groupReaper().pid!)).toBe(true); // it ends with this process
  });

  it('cleanupAll cleans up every harness even when the first fails, then throws', async () => {
    const first = createHarness('leakcheck');
    const second = createHarness('leakcheck');
    const child = leaveChild('sleep', ['30']);
    const api = await second.spawnApi();
    await expect(cleanupAll([first, second])).rejects.toThrow(`child process still running: ${child.pid}`);
    expect(isAlive(api.proc.pid!)).toBe(false); // the second harness was still cleaned up
  });

  it('passes when all is closed, also while another harness of the file is still open', async () => {
    const first = createHarness('leakcheck');
    const second = createHarness('leakcheck');
    await first.startApi();
    await first.startWorker(['claude']);
    await second.startApi();
    await first.cleanup(); // the second's API holds connections and that is fine
    await second.cleanup();
  });
});
