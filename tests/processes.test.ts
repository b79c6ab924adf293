/**
 * The spine as separate OS processes: one API and two workers on a real Redis, fake CLIs that
 * record their runs. Concurrency bounds, graceful hand-back on SIGTERM, recovery after SIGKILL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, postJson } from './helpers/harness.js';
import { tempDir } from './helpers/env.js';
import { readRecords, waitFor, maxOverlap, type FakeRecord } from './helpers/records.js';

const recordDir = tempDir('proc-records');
const h = createHarness('processes', {
  FAKE_CLI_RECORD_DIR: recordDir,
  WORKER_CONCURRENCY_CLAUDE: '2',
  WORKER_LOCK_DURATION_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '1000',
});
let url = '';
let key = '';
const auth = () => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  const api = await h.spawnApi();
  url = api.url;
  key = await h.createKey(url);
});
afterAll(() => h.cleanup());

describe('API and workers as separate processes', () => {
  it("answers concurrent requests correctly without exceeding any worker's concurrency", async () => {
    const [w1, w2] = await Promise.all([h.spawnWorker(), h.spawnWorker()]);
    const n = 12;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        postJson(
          `${url}/generate`,
          { systemPrompt: '', userPrompt: `request-${i} @@fake delay_ms=300@@` },
          auth(),
        ),
      ),
    );
    results.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.json.content[0].text).toBe(`Echo: request-${i}`);
    });
    const recs = readRecords(recordDir).filter((r) => /request-\d+/.test(r.stdin));
    expect(recs).toHaveLength(n);
    const byWorker = new Map<number, FakeRecord[]>();
    for (const r of recs) byWorker.set(r.ppid, [...(byWorker.get(r.ppid) ?? []), r]);
    expect(new Set(byWorker.keys())).toEqual(new Set([w1.proc.pid, w2.proc.pid]));
    for (const runs of byWorker.values()) expect(maxOverlap(runs)).toBeLessThanOrEqual(2);
    expect(maxOverlap(recs)).toBeGreaterThan(2); // both workers really ran at once
    await Promise.all([w1.stop(), w2.stop()]);
  });

  it('shows live workers in /ready and answers 503 when no worker serves the provider', async () => {
    const ready = await (await fetch(`${url}/ready`)).json();
    expect(ready).toMatchObject({ status: 'ok', redis: 'up', providers: { claude: { workers: 0 } } });
    const res = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'nobody home' }, auth());
    expect(res.status).toBe(503);
    expect(res.json.error.type).toBe('unavailable');

    const w = await h.spawnWorker({ WORKER_PROVIDERS: 'claude' });
    const after = (await (await fetch(`${url}/ready`)).json()) as any;
    expect(after.providers).toEqual({
      claude: { workers: 1, ready: true },
      codex: { workers: 0, ready: false },
    });
    await w.stop();
  });

  it('on SIGTERM lets a running job finish within the drain deadline', async () => {
    const w = await h.spawnWorker();
    const pending = postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'drain-me @@fake delay_ms=800@@' },
      auth(),
    );
    await waitFor(
      () => readRecords(recordDir).some((r) => r.stdin.includes('drain-me')),
      5_000,
      'the CLI to start',
    );
    expect(await w.stop('SIGTERM')).toBe(0);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.json.content[0].text).toBe('Echo: drain-me');
  });

  it('past the drain deadline kills the CLI and hands the job back to another worker', async () => {
    const w1 = await h.spawnWorker({ SHUTDOWN_TIMEOUT_MS: '300' });
    const pending = postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'hand-back @@fake delay_ms=2500@@' },
      auth(),
    );
    await waitFor(
      () => readRecords(recordDir).some((r) => r.stdin.includes('hand-back')),
      5_000,
      'the CLI to start',
    );
    expect(await w1.stop('SIGTERM')).toBe(0);
    const first = readRecords(recordDir).find((r) => r.stdin.includes('hand-back'))!;
    expect(first.endedAt).toBeDefined(); // killed, not left running
    const w2 = await h.spawnWorker();
    const res = await pending;
    expect(res.status).toBe(200);
    const runs = readRecords(recordDir).filter((r) => r.stdin.includes('hand-back'));
    expect(runs.map((r) => r.ppid)).toEqual([w1.proc.pid, w2.proc.pid]);
    await w2.stop();
  });

  it('loses no job when a worker is SIGKILLed: another worker takes the stalled job', async () => {
    const w1 = await h.spawnWorker();
    const pending = postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'sigkill-me @@fake delay_ms=1500@@' },
      auth(),
    );
    await waitFor(
      () => readRecords(recordDir).some((r) => r.stdin.includes('sigkill-me')),
      5_000,
      'the CLI to start',
    );
    await w1.stop('SIGKILL');
    const w2 = await h.spawnWorker();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.json.content[0].text).toBe('Echo: sigkill-me');
    const runs = readRecords(recordDir).filter((r) => r.stdin.includes('sigkill-me'));
    expect(runs.at(-1)!.ppid).toBe(w2.proc.pid);
    await w2.stop();
  });
});
