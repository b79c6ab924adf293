/**
 * A CLI never outlives its worker: when a worker process is killed with SIGKILL (no shutdown, no
 * restart, no other worker starting), its CLI's whole process group (the CLI and the `sleep`
 * grandchild the fake's hang mode starts in it) is gone within moments, long before the CLI's
 * own timeout.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { watchdogOf } from './helpers/procs.js';
import { isAlive, readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('dies-with-worker');
// A CLI timeout far beyond the test: only the worker's death can end the run.
const h = createHarness('dieswithworker', {
  FAKE_CLI_RECORD_DIR: recordDir,
  CLAUDE_TIMEOUT_MS: '600000',
  CODEX_TIMEOUT_MS: '600000',
});
afterAll(() => h.cleanup());

describe('a CLI and its process group die with their worker', () => {
  it.each(['claude', 'codex'] as const)('%s: SIGKILL of the worker kills the CLI group', async (provider) => {
    const url = (await h.startApi()).url;
    const key = await h.createKey(url);
    // A private TMPDIR: a worker of another test file starting meanwhile sweeps the shared /tmp
    // and would kill these orphans too, proving nothing.
    const worker = await h.spawnWorker({ WORKER_PROVIDERS: provider, TMPDIR: tempDir('dies-tmp') });
    const tag = `die-with-${provider}`;
    const sent = await postJson(
      `${url}/jobs`,
      { provider, systemPrompt: '', userPrompt: `${tag} @@fake mode=hang@@` },
      { authorization: `Bearer ${key}` },
    );
    expect(sent.status, sent.text).toBe(202);
    const rec = await waitFor(
      () => readRecords(recordDir).find((r) => r.stdin.includes(tag)),
      5_000,
      'the CLI to start',
    );
    expect(rec.ppid).toBe(worker.proc.pid);
    expect(rec.pgid).toBe(rec.pid); // its own group, with the sleep in it
    expect(isAlive(rec.pid)).toBe(true);
    expect(isAlive(rec.grandchildPid!)).toBe(true);
    const watchdog = watchdogOf(worker.proc.pid!);

    const killedAt = Date.now();
    await worker.stop('SIGKILL');
    await waitFor(
      () => !isAlive(rec.pid) && !isAlive(rec.grandchildPid!),
      3_000,
      'the CLI and its grandchild to die',
    );
    const tookMs = Date.now() - killedAt;
    expect(tookMs).toBeLessThan(3_000);
    // The worker's watchdog did it, and is done too.
    expect(watchdog).toBeDefined();
    await waitFor(() => !isAlive(watchdog!), 2_000, 'the watchdog to exit');
  });
});
