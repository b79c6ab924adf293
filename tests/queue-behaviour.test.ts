/**
 * Queue-level behaviour of the sync routes: a client that leaves while its job is still queued
 * takes the job with it; the sync wait timeout answers 504 with a job id while the job goes on;
 * a usage limit on the only account holds it and refuses new work with 429.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, postJson } from './helpers/harness.js';
import { tempDir } from './helpers/env.js';
import { readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('queue-records');
const h = createHarness('queue', {
  FAKE_CLI_RECORD_DIR: recordDir,
  WORKER_CONCURRENCY_CLAUDE: '1',
  WORKER_CONCURRENCY_CODEX: '1',
  SYNC_WAIT_TIMEOUT_MS: '1500',
});
let url = '';
let key = '';
const auth = () => ({ authorization: `Bearer ${key}` });
const queue = () => h.redis;

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude', 'codex'], { FAKE_CLI_RECORD_DIR: recordDir });
  key = await h.createKey(url);
});
afterAll(() => h.cleanup());

describe('sync generate and the queue', () => {
  it('removes a queued job when its client disconnects', async () => {
    // Occupy the only claude slot with an async job (no sync wait to time out).
    const busy = await postJson(
      `${url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: 'occupy @@fake delay_ms=2500@@' },
      auth(),
    );
    expect(busy.status).toBe(202);
    await waitFor(
      () => readRecords(recordDir).some((r) => r.stdin.includes('occupy')),
      5_000,
      'the first CLI',
    );
    const ac = new AbortController();
    const leaving = fetch(`${url}/generate`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ systemPrompt: '', userPrompt: 'leaver' }),
      signal: ac.signal,
    }).catch(() => undefined);
    const waitKey = `${h.prefix}:claude:wait`;
    await waitFor(async () => (await queue().llen(waitKey)) === 1, 5_000, 'the second job to queue');
    ac.abort();
    await leaving;
    await waitFor(async () => (await queue().llen(waitKey)) === 0, 5_000, 'the abandoned job to be removed');
    // The abandoned job never ran.
    expect(readRecords(recordDir).some((r) => r.stdin.includes('leaver'))).toBe(false);
  });

  it('answers 504 with the job id when the wait passes SYNC_WAIT_TIMEOUT_MS; the job goes on', async () => {
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'slowpoke @@fake delay_ms=2500@@' },
      auth(),
    );
    expect(res.status).toBe(504);
    expect(res.json.error).toMatchObject({ type: 'timeout', job_id: expect.any(String) });
    const jobKey = `${h.prefix}:claude:${res.json.error.job_id}`;
    await waitFor(
      async () => (await queue().hget(jobKey, 'returnvalue')) !== null,
      5_000,
      'the job to complete',
    );
    expect(JSON.parse((await queue().hget(jobKey, 'returnvalue'))!).text).toBe('Echo: slowpoke');
  });

  it('holds the only account on a usage limit and refuses new work with 429 provider_exhausted', async () => {
    const started = Date.now();
    const first = await postJson(
      `${url}/generate-codex`,
      { systemPrompt: '', userPrompt: '@@fake mode=usage-limit reset_in_s=300@@' },
      auth(),
    );
    // The job is not failed: it waits in the queue for the reset. Its caller hears so at once
    // (the reset is past the sync wait), with the job id and the reset time, not after a 504.
    expect(first.status).toBe(429);
    expect(first.json.error).toMatchObject({ type: 'provider_exhausted', job_id: expect.any(String) });
    expect(Date.now() - started).toBeLessThan(1_500);
    const resetIn = Date.parse(first.json.error.resets_at) - Date.now();
    expect(resetIn).toBeGreaterThan(200_000);
    expect(resetIn).toBeLessThanOrEqual(361_000);
    const jobKey = `${h.prefix}:codex:${first.json.error.job_id}`;
    expect(await queue().hget(jobKey, 'failedReason')).toBeNull();
    expect(await queue().lpos(`${h.prefix}:codex:wait`, first.json.error.job_id)).not.toBeNull();
    const next = await postJson(
      `${url}/generate-codex`,
      { systemPrompt: '', userPrompt: 'after the limit' },
      auth(),
    );
    expect(next.status).toBe(429);
    expect(next.json.error.type).toBe('provider_exhausted');
    const retryAfter = Number(next.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(200);
    expect(retryAfter).toBeLessThanOrEqual(361);
    // /ready says codex cannot serve now, and until when; claude still can.
    const ready = (await (await fetch(`${url}/ready`)).json()) as any;
    expect(ready.providers.codex).toMatchObject({ workers: 1, ready: false });
    const heldFor = Date.parse(ready.providers.codex.held_until) - Date.now();
    expect(heldFor).toBeGreaterThan(200_000);
    expect(heldFor).toBeLessThanOrEqual(361_000);
    expect(ready.providers.claude).toEqual({ workers: 1, ready: true });
    // Claude is not affected.
    expect(
      (await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'claude still fine' }, auth()))
        .status,
    ).toBe(200);
  });
});
