/**
 * The warm pool (worker/src/cli/warm-pool.ts, cli-spawner.ts) through the whole bridge with the
 * fake claude: after a job, a process for the same key waits on stdin; the next job of that key
 * takes it (its record shows it started before the request was sent), one process per job; a
 * warm process that died is never used; the memory cap; none outlives its worker; 0 turns it off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerInfo } from '@cli-bridge/shared';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { childrenOf } from './helpers/procs.js';
import { isAlive, recordWith, waitFor } from './helpers/records.js';

const recordDir = tempDir('warm-pool');
const h = createHarness('warmpool', { FAKE_CLI_RECORD_DIR: recordDir });
let url = '';
let key = '';
const auth = () => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  url = (await h.startApi()).url;
  key = await h.createKey(url);
});
afterAll(() => h.cleanup());

type Pool = NonNullable<WorkerInfo['warmPool']>;

/** The warm pool figures of a worker's latest heartbeat. */
async function poolOf(workerId: string): Promise<Pool | undefined> {
  const raw = await h.redis.get(h.keys.worker(workerId));
  return raw ? (JSON.parse(raw) as WorkerInfo).warmPool : undefined;
}

const waitPool = async (workerId: string, ok: (p: Pool) => boolean, what: string) => {
  let last: Pool | undefined;
  try {
    return await waitFor(
      async () => {
        last = await poolOf(workerId);
        return last && ok(last) ? last : undefined;
      },
      10_000,
      what,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last pool figures: ${JSON.stringify(last)}`);
  }
};

/** Fake claude processes (waiting or running) under a worker process. */
const fakeClis = (workerPid: number) => childrenOf(workerPid).filter((c) => c.cmdline.includes('claude.mjs'));

let n = 0;
async function generate(systemPrompt: string) {
  const tag = `warm-${++n}-${Math.random().toString(36).slice(2, 8)}`;
  const sentAt = Date.now();
  const res = await postJson(`${url}/generate`, { systemPrompt, userPrompt: tag }, auth());
  expect(res.status, res.text).toBe(200);
  expect(res.json.content[0].text).toBe(`Echo: ${tag}`);
  const rec = await recordWith(recordDir, tag);
  return { tag, sentAt, rec };
}

describe('warm pool', () => {
  it('a job of the same key takes a waiting process; each process serves one job', async () => {
    const w = await h.spawnWorker({
      WARM_POOL_MAX: '4',
      WORKER_PROVIDERS: 'claude',
      TMPDIR: tempDir('warm-a'),
    });
    try {
      const first = await generate('You are warm.');
      // Started before the first request: cold.
      expect(first.rec.startedAt).toBeGreaterThanOrEqual(first.sentAt);
      const seen = new Set([first.rec.pid]);
      for (let i = 1; i <= 3; i++) {
        await waitPool(w.workerId, (p) => p.size === 1 && p.hits === i - 1, 'a warm process waiting');
        const [waiting] = fakeClis(w.proc.pid!);
        const next = await generate('You are warm.');
        // The process that was waiting before the request was sent ran it: a warm hit, with the
        // job's own prompt only.
        expect(next.rec.pid).toBe(waiting?.pid);
        expect(next.rec.stdin).toBe(next.tag);
        expect(next.rec.systemPrompt).toBe('You are warm.');
        expect(seen.has(next.rec.pid), 'a process serves one job').toBe(false);
        seen.add(next.rec.pid);
        // It ran the job and exited: never handed out again.
        await waitFor(() => !isAlive(next.rec.pid), 5_000, 'the used process to exit');
      }
      const pool = await waitPool(w.workerId, (p) => p.hits === 3, 'three hits');
      expect(pool.misses).toBe(1);
      // Another system prompt is another key: a miss, served cold.
      const other = await generate('You are someone else.');
      expect(other.rec.startedAt).toBeGreaterThanOrEqual(other.sentAt);
      await waitPool(w.workerId, (p) => p.misses === 2 && p.size === 2, 'a second key warmed');
    } finally {
      await w.stop();
    }
  }, 60_000);

  it('a warm process that died while waiting is discarded; the job spawns cold', async () => {
    const w = await h.spawnWorker({
      WARM_POOL_MAX: '4',
      WORKER_PROVIDERS: 'claude',
      TMPDIR: tempDir('warm-b'),
    });
    try {
      await generate('Dies waiting.');
      await waitPool(w.workerId, (p) => p.size === 1, 'a warm process waiting');
      const [waiting] = fakeClis(w.proc.pid!);
      expect(waiting, 'the waiting fake claude').toBeDefined();
      process.kill(waiting!.pid, 'SIGKILL');
      await waitPool(w.workerId, (p) => p.discarded === 1 && p.size === 0, 'the dead process discarded');
      const next = await generate('Dies waiting.');
      expect(next.rec.pid).not.toBe(waiting!.pid);
      expect(next.rec.startedAt).toBeGreaterThanOrEqual(next.sentAt);
      const pool = await waitPool(w.workerId, (p) => p.misses === 2, 'the second job counted a miss');
      expect(pool.hits).toBe(0);
    } finally {
      await w.stop();
    }
  }, 60_000);

  it('keeps no process past WARM_POOL_MAX_RSS_MB (measured from /proc)', async () => {
    // A fake claude is a Node process of some 40 MB: 1 MiB admits none once it is measured.
    const w = await h.spawnWorker({
      WARM_POOL_MAX: '4',
      WARM_POOL_MAX_RSS_MB: '1',
      WORKER_PROVIDERS: 'claude',
      TMPDIR: tempDir('warm-c'),
    });
    try {
      await generate('Too big.');
      await waitPool(w.workerId, (p) => p.evictions === 1 && p.size === 0, 'the process evicted for memory');
      // Now that its size is known, no new one is started: the next job runs cold.
      const next = await generate('Too big.');
      expect(next.rec.startedAt).toBeGreaterThanOrEqual(next.sentAt);
      const pool = await waitPool(w.workerId, (p) => p.misses === 2, 'a second miss');
      expect(pool).toMatchObject({ hits: 0, evictions: 1, size: 0 });
      expect(fakeClis(w.proc.pid!)).toEqual([]);
    } finally {
      await w.stop();
    }
  }, 60_000);

  it('no warm process outlives its worker, even after SIGKILL', async () => {
    const w = await h.spawnWorker({
      WARM_POOL_MAX: '4',
      WORKER_PROVIDERS: 'claude',
      TMPDIR: tempDir('warm-d'),
    });
    try {
      await generate('Outlive me.');
      await waitPool(w.workerId, (p) => p.size === 1, 'a warm process waiting');
      const [waiting] = fakeClis(w.proc.pid!);
      expect(waiting).toBeDefined();
      await w.stop('SIGKILL');
      await waitFor(() => !isAlive(waiting!.pid), 5_000, 'the warm process to die with its worker');
    } finally {
      await w.stop();
    }
  }, 60_000);

  it('a graceful stop kills the waiting processes too', async () => {
    const w = await h.spawnWorker({
      WARM_POOL_MAX: '4',
      WORKER_PROVIDERS: 'claude',
      TMPDIR: tempDir('warm-e'),
    });
    try {
      await generate('Stop me.');
      await waitPool(w.workerId, (p) => p.size === 1, 'a warm process waiting');
      const [waiting] = fakeClis(w.proc.pid!);
      expect(waiting).toBeDefined();
      expect(await w.stop()).toBe(0);
      expect(isAlive(waiting!.pid)).toBe(false);
    } finally {
      await w.stop();
    }
  }, 60_000);

  it('WARM_POOL_MAX=0 turns it off: every job spawns cold, nothing waits', async () => {
    const w = await h.spawnWorker({
      WARM_POOL_MAX: '0',
      WORKER_PROVIDERS: 'claude',
      TMPDIR: tempDir('warm-f'),
    });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await generate('Off.');
        expect(r.rec.startedAt).toBeGreaterThanOrEqual(r.sentAt);
        await waitFor(() => !isAlive(r.rec.pid), 5_000, 'the CLI to exit');
        expect(fakeClis(w.proc.pid!)).toEqual([]);
      }
      // A heartbeat written after the jobs: the pool never held anything.
      const before = Date.now();
      await waitFor(
        async () => {
          const raw = await h.redis.get(h.keys.worker(w.workerId));
          return raw && (JSON.parse(raw) as WorkerInfo).lastBeat > before;
        },
        5_000,
        'a fresh heartbeat',
      );
      expect(await poolOf(w.workerId)).toEqual({
        size: 0,
        starting: 0,
        hits: 0,
        misses: 0,
        evictions: 0,
        discarded: 0,
        rssMb: 0,
      });
      expect(fakeClis(w.proc.pid!)).toEqual([]);
    } finally {
      await w.stop();
    }
  }, 60_000);
});
