/**
 * After a worker dies without its shutdown (SIGKILL) and its group reaper is gone too (killed
 * with it: tests/cli-dies-with-worker.test.ts covers the reaper), its CLI runs on in its own
 * process group and its scratch directory stays. The next worker starting on the box kills that
 * group and removes the directory, and never touches the runs of live workers.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cli-bridge/shared';
import { SCRATCH_PREFIX, sweepOrphans } from '@cli-bridge/worker';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { watchdogOf } from './helpers/procs.js';
import { isAlive, readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('orphan-records');
const h = createHarness('orphans', { FAKE_CLI_RECORD_DIR: recordDir });
afterAll(() => h.cleanup());

describe('orphaned CLIs', () => {
  it("the next worker kills a dead worker's CLI group and removes its scratch dir", async () => {
    const url = (await h.startApi()).url;
    const key = await h.createKey(url);
    // A private TMPDIR: workers of other test files sweep the shared /tmp and could clean up first.
    const tmp = tempDir('orphan-tmp');
    const w1 = await h.spawnWorker({ WORKER_PROVIDERS: 'claude', TMPDIR: tmp });
    await postJson(
      `${url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: 'orphan-me @@fake mode=hang@@' },
      { authorization: `Bearer ${key}` },
    );
    const rec = await waitFor(
      () => readRecords(recordDir).find((r) => r.stdin.includes('orphan-me')),
      5_000,
      'the CLI to start',
    );
    // Its watchdog too, or it would kill the CLI group as soon as the worker dies; the worker
    // stopped first, so that it cannot start another.
    process.kill(w1.proc.pid!, 'SIGSTOP');
    process.kill(watchdogOf(w1.proc.pid!)!, 'SIGKILL');
    await w1.stop('SIGKILL');
    const scratch = dirname(rec.cwd);
    expect(isAlive(rec.pid)).toBe(true); // orphaned, still running
    expect(isAlive(rec.grandchildPid!)).toBe(true);
    expect(existsSync(scratch)).toBe(true);

    const w2 = await h.spawnWorker({ WORKER_PROVIDERS: 'codex', TMPDIR: tmp });
    await waitFor(() => !isAlive(rec.pid) && !isAlive(rec.grandchildPid!), 3_000, 'the orphans to be killed');
    expect(existsSync(scratch)).toBe(false);
    // Log lines are written asynchronously: wait for it rather than read once.
    await waitFor(
      () => w2.logs.some((l) => l.msg === 'cleaned up after a worker that died'),
      2_000,
      'the log line',
    );
    expect(w2.logs.some((l) => l.msg === 'cleaned up after a worker that died')).toBe(true);
    await w2.stop();
  });

  it('leaves the runs of live workers, and directories it cannot attribute, alone', () => {
    const root = mkdtempSync(join(tmpdir(), 'cb-sweep-'));
    const live = mkdtempSync(join(root, SCRATCH_PREFIX));
    writeFileSync(join(live, 'run.json'), JSON.stringify({ workerPid: process.pid, pgid: process.pid }));
    const unknown = mkdtempSync(join(root, SCRATCH_PREFIX));
    const dead = mkdtempSync(join(root, SCRATCH_PREFIX));
    // A dead worker whose recorded group id is this very process: its cwd is elsewhere, so
    // it must survive (a reused id never kills a stranger).
    writeFileSync(join(dead, 'run.json'), JSON.stringify({ workerPid: 2 ** 22 + 7, pgid: process.pid }));
    const result = sweepOrphans(root, createLogger({ level: 'silent', name: 't' }));
    expect(result).toEqual({ killed: 0, removed: 1 });
    expect(existsSync(live)).toBe(true);
    expect(existsSync(unknown)).toBe(true);
    expect(existsSync(dead)).toBe(false);
  });

  it("removes a dead worker's spare scratch dir (made ahead, nothing ran in it); keeps a live one's", () => {
    const root = mkdtempSync(join(tmpdir(), 'cb-sweep-'));
    const live = mkdtempSync(join(root, SCRATCH_PREFIX));
    writeFileSync(join(live, 'run.json'), JSON.stringify({ workerPid: process.pid }));
    const dead = mkdtempSync(join(root, SCRATCH_PREFIX));
    writeFileSync(join(dead, 'run.json'), JSON.stringify({ workerPid: 2 ** 22 + 7 }));
    const result = sweepOrphans(root, createLogger({ level: 'silent', name: 't' }));
    expect(result).toEqual({ killed: 0, removed: 1 });
    expect(existsSync(live)).toBe(true);
    expect(existsSync(dead)).toBe(false);
  });
});
