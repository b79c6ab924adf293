/**
 * A fleet loses no accepted job when a worker goes away, with separate OS processes:
 * - SIGTERM (graceful drain): the worker stops taking jobs, lets running ones finish within
 *   SHUTDOWN_TIMEOUT_MS, then kills its CLIs and hands their jobs back; another worker runs them.
 *   A stream that already sent text fails clearly instead (a rerun would repeat the text).
 * - a second signal ends a draining worker at once (its CLIs die with it; the job runs elsewhere);
 * - kill -9 (crash): every job ends completed on the other worker (or failed with a reason), none
 *   stays running, every lease is released, and the dead worker's orphaned CLI process groups and
 *   scratch directories are removed by the next worker that starts on the box.
 */
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCRATCH_PREFIX } from '@cli-bridge/worker';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { watchdogOf } from './helpers/procs.js';
import { isAlive, readRecords, waitFor } from './helpers/records.js';
import { readSse } from './helpers/sse.js';

const recordDir = tempDir('drain-records');
const h = createHarness('drain', {
  FAKE_CLI_RECORD_DIR: recordDir,
  WORKER_CONCURRENCY_CLAUDE: '10',
  WORKER_LOCK_DURATION_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '1000',
});
let url = '';
let key = '';
let keyId = '';
const auth = () => ({ authorization: `Bearer ${key}` });
const runsOf = (marker: string) => readRecords(recordDir).filter((r) => r.stdin.includes(marker));

beforeAll(async () => {
  url = (await h.spawnApi()).url;
  key = await h.createKey(url, 'fleet');
  keyId = await h.keyId('fleet');
});
afterAll(() => h.cleanup());

describe('graceful drain (SIGTERM)', () => {
  it('answers 20 sync requests in flight: finished ones on the draining worker, the rest elsewhere', async () => {
    // w1's drain deadline falls between the short and the long jobs.
    const w1 = await h.spawnWorker({ SHUTDOWN_TIMEOUT_MS: '1000' });
    const pending = Array.from({ length: 20 }, (_, i) =>
      postJson(
        `${url}/generate`,
        // Half finish within the drain deadline; the other half outlast it.
        { systemPrompt: '', userPrompt: `drain-${i}. @@fake delay_ms=${i % 2 ? 4000 : 300}@@` },
        auth(),
      ),
    );
    // w1 runs its ten; the other ten wait until w2 comes up.
    await waitFor(() => runsOf('drain-').length === 10, 10_000, 'w1 to run ten CLIs');
    const w2 = await h.spawnWorker();
    await waitFor(() => runsOf('drain-').length === 20, 10_000, 'w2 to run the other ten');
    await waitFor(
      () => runsOf('drain-').filter((r) => r.ppid === w1.proc.pid && !r.endedAt).length >= 5,
      10_000,
      'w1 to have long runs',
    );
    const t0 = Date.now();
    expect(await w1.stop('SIGTERM')).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1_000 + 500 + 3_000); // deadline + kill grace + margin

    const answers = await Promise.all(pending);
    answers.forEach((a, i) => {
      expect(a.status, JSON.stringify(a.json)).toBe(200);
      expect(a.json.content[0].text).toBe(`Echo: drain-${i}.`);
    });
    // Every job that w1 was still running at its deadline was killed there and ran again on w2.
    const killed = runsOf('drain-').filter((r) => r.ppid === w1.proc.pid && r.signal);
    expect(killed.length).toBeGreaterThan(0);
    for (const k of killed) {
      const marker = k.stdin.match(/drain-\d+\./)![0];
      const again = runsOf(marker).filter((r) => r.ppid === w2.proc.pid);
      expect(again, marker).toHaveLength(1);
      expect(again[0]!.exitCode).toBe(0);
    }
    // Jobs w1 finished within its deadline were not run twice.
    for (const r of runsOf('drain-').filter((x) => x.ppid === w1.proc.pid && !x.signal)) {
      expect(runsOf(r.stdin.match(/drain-\d+\./)![0])).toHaveLength(1);
    }
    expect(await h.redis.zcard(h.keys.leases(keyId))).toBe(0);
    await w2.stop();
  }, 60_000);

  it('fails a stream that already sent text instead of running it again', async () => {
    const w1 = await h.spawnWorker({ SHUTDOWN_TIMEOUT_MS: '300' });
    let signalled = false;
    const stream = readSse(`${url}/generate`, {
      method: 'POST',
      headers: auth(),
      body: {
        systemPrompt: '',
        userPrompt: 'streamed-drain @@fake chunk_delay_ms=400 reply=one_two_three_four_five_six_seven@@',
        stream: true,
      },
      onEvent: (e) => {
        if (e.event === 'text' && !signalled) {
          signalled = true;
          void w1.stop('SIGTERM');
        }
      },
    });
    const res = await stream;
    expect(res.status).toBe(200);
    const names = res.events.map((e) => e.event);
    expect(names).toContain('text');
    expect(names.slice(-2)).toEqual(['error', 'done']);
    expect(res.events.at(-2)!.data.error).toMatchObject({
      type: 'unavailable',
      message: 'The worker shut down mid-stream',
    });
    expect(runsOf('streamed-drain')).toHaveLength(1);
    await w1.exited;
  }, 30_000);
});

describe('a second signal', () => {
  it('ends a draining worker at once; its CLI dies with it and the job runs elsewhere', async () => {
    const w1 = await h.spawnWorker({ SHUTDOWN_TIMEOUT_MS: '20000' });
    const pending = postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'second-signal @@fake delay_ms=6000@@' },
      auth(),
    );
    const run = await waitFor(() => runsOf('second-signal')[0], 5_000, 'the CLI to start');
    w1.proc.kill('SIGTERM');
    await waitFor(() => w1.logs.some((l) => l.msg === 'worker closing'), 5_000, 'the drain to start');
    expect(w1.proc.exitCode).toBeNull(); // draining: it would wait up to 20 s
    const t0 = Date.now();
    expect(await w1.stop('SIGTERM')).toBe(1);
    expect(Date.now() - t0).toBeLessThan(2_000);
    await waitFor(() => !isAlive(run.pid), 3_000, 'the CLI to die with its worker');
    const w2 = await h.spawnWorker();
    const res = await pending;
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(runsOf('second-signal').at(-1)!.ppid).toBe(w2.proc.pid);
    await w2.stop();
  }, 40_000);
});

describe('crash (kill -9)', () => {
  it('ends every one of 10 running jobs, releases the leases and cleans the orphans up', async () => {
    // A private TMPDIR: workers of other test files sweep the shared /tmp.
    const tmp = tempDir('drain-tmp');
    const w1 = await h.spawnWorker({ TMPDIR: tmp });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await postJson(
        `${url}/jobs`,
        { provider: 'claude', systemPrompt: '', userPrompt: `crash-${i}. @@fake delay_ms=8000@@` },
        auth(),
      );
      expect(res.status).toBe(202);
      ids.push(res.json.id);
    }
    await waitFor(() => runsOf('crash-').length === 10, 10_000, 'w1 to run all ten');
    const w2 = await h.spawnWorker({ TMPDIR: tmp });
    const orphans = runsOf('crash-');
    expect(orphans.filter((r) => r.endedAt)).toEqual([]); // all still running
    // Ten runs' scratch directories, and the spare made ahead of w1's next job.
    const scratch = () => readdirSync(tmp).filter((n) => n.startsWith(SCRATCH_PREFIX));
    await waitFor(() => scratch().length === 11, 2_000, 'the spare scratch directory');
    expect(scratch()).toHaveLength(11);

    // The whole box's worker side dies at once: the worker and its CLI watchdog.
    process.kill(w1.proc.pid!, 'SIGSTOP');
    process.kill(watchdogOf(w1.proc.pid!)!, 'SIGKILL');
    await w1.stop('SIGKILL');
    for (const r of orphans) expect(isAlive(r.pid)).toBe(true);

    // The next worker starting on the box kills the orphaned groups and removes their directories.
    const w3 = await h.spawnWorker({ TMPDIR: tmp, WORKER_PROVIDERS: 'codex' });
    await waitFor(() => orphans.every((r) => !isAlive(r.pid)), 5_000, 'the orphans to be killed');
    for (const r of orphans) expect(existsSync(r.cwd)).toBe(false);

    // Every job ends: another worker takes each stalled job over once its lock expires.
    const views = await Promise.all(
      ids.map((id) =>
        waitFor(
          async () => {
            const v = (await (await fetch(`${url}/jobs/${id}`, { headers: auth() })).json()) as {
              status: string;
              error?: { type: string; message: string };
            };
            return ['completed', 'failed', 'cancelled'].includes(v.status) ? v : undefined;
          },
          30_000,
          `job ${id} to end`,
        ),
      ),
    );
    for (const v of views) {
      if (v.status === 'failed') expect(v.error?.message).toBeTruthy();
      else expect(v.status).toBe('completed');
    }
    expect(views.filter((v) => v.status === 'completed').length).toBe(10);
    for (let i = 0; i < 10; i++) {
      expect(runsOf(`crash-${i}.`).at(-1)!.ppid).toBe(w2.proc.pid);
    }
    expect(await h.redis.zcard(h.keys.leases(keyId))).toBe(0);
    await Promise.all([w2.stop(), w3.stop()]);
    // The dead worker's spare went with its runs' directories; the live workers' with their close.
    expect(scratch()).toHaveLength(0);
  }, 60_000);
});
