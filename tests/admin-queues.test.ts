/**
 * The admin queue routes: counts per provider (with or without a worker), pause and resume,
 * and a subscription hold shown and lifted by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('adminq-records');
const h = createHarness('adminq', { FAKE_CLI_RECORD_DIR: recordDir });
let url = '';
let key = '';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const call = async (method: string, path: string, headers: Record<string, string> = admin) => {
  const res = await fetch(`${url}${path}`, { method, headers });
  return { status: res.status, json: (await res.json()) as any };
};
const user = () => ({ authorization: `Bearer ${key}` });
const submit = (userPrompt: string) =>
  postJson(`${url}/jobs`, { provider: 'claude', systemPrompt: '', userPrompt }, user());
const jobStatus = async (id: string) => (await call('GET', `/jobs/${id}`, user())).json.status as string;
const claudeQueue = async () =>
  (await call('GET', '/admin/queues')).json.queues.find((q: any) => q.provider === 'claude');

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude'], { FAKE_CLI_RECORD_DIR: recordDir });
  key = await h.createKey(url, 'queue-user');
});
afterAll(() => h.cleanup());

describe('GET /admin/queues', () => {
  it('has one entry per provider, a provider without a worker included', async () => {
    const res = await call('GET', '/admin/queues');
    expect(res.status).toBe(200);
    const zero = { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 };
    // The worker serves its own login: one Claude account, `default`, with its month's spend.
    const spend = {
      month: expect.any(String),
      spent_usd: 0,
      runs: 0,
      credit_usd: null,
      remaining_usd: null,
      used_share: null,
      stop_share: null,
      projected_exhaustion_at: null,
      renews_at: expect.any(String),
    };
    expect(res.json).toEqual({
      queues: [
        {
          provider: 'claude',
          counts: zero,
          paused: false,
          workers: 1,
          hold: null,
          accounts: [{ name: 'default', hold: null, credit: spend }],
        },
        { provider: 'codex', counts: zero, paused: false, workers: 0, hold: null, accounts: [] },
      ],
    });
  });

  it('counts finished jobs by state', async () => {
    expect((await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'ok' }, user())).status).toBe(
      200,
    );
    const failed = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: '@@fake mode=error-401@@' },
      user(),
    );
    expect(failed.status).toBe(502);
    expect((await claudeQueue()).counts).toMatchObject({ completed: 1, failed: 1, waiting: 0, active: 0 });
  });
});

describe('pause and resume', () => {
  it('a paused queue keeps new jobs waiting; resumed, they run', async () => {
    const paused = await call('POST', '/admin/queues/claude/pause');
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ provider: 'claude', paused: true, workers: 1, hold: null });
    const job = await submit('held back by the pause');
    expect(job.status).toBe(202);
    expect((await claudeQueue()).counts.waiting).toBe(1);
    expect(await jobStatus(job.json.id)).toBe('queued');

    const resumed = await call('POST', '/admin/queues/claude/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.json.paused).toBe(false);
    await waitFor(async () => (await jobStatus(job.json.id)) === 'completed', 10_000, 'job after resume');
    expect((await claudeQueue()).counts.waiting).toBe(0);
  });

  it('answers 404 for an unknown provider', async () => {
    for (const path of ['pause', 'resume', 'clear-hold']) {
      const res = await call('POST', `/admin/queues/gemini/${path}`);
      expect(res.status, path).toBe(404);
      expect(res.json.error.type).toBe('not_found');
    }
  });
});

describe('holds', () => {
  it('shows the hold a usage limit set, and clear-hold lifts it', { timeout: 60_000 }, async () => {
    const before = Date.now();
    const job = await submit('@@fake mode=usage-limit reset_in_s=600@@');
    expect(job.status).toBe(202);
    const held = await waitFor(async () => (await claudeQueue()).hold, 10_000, 'a hold');
    expect(held.reason).toEqual(expect.any(String));
    const until = Date.parse(held.until);
    // The fake CLI's reset is 600 s from its run (the worker holds at least that long).
    expect(until).toBeGreaterThan(before + 500_000);
    expect(until).toBeLessThan(Date.now() + 700_000);

    // The worker hands the job back to the queue, and does not run it again while the hold lasts
    // (it looks at the queue every second: watch a few seconds' worth of its heartbeats).
    await waitFor(async () => (await jobStatus(job.json.id)) === 'waiting_for_reset', 10_000, 'hand-back');
    const runs = () => readRecords(recordDir).filter((r) => r.stdin.includes('mode=usage-limit')).length;
    const beatAt = async () => Date.parse((await call('GET', '/admin/workers')).json.workers[0].last_beat);
    const from = await beatAt();
    await waitFor(async () => (await beatAt()) - from >= 3_000, 10_000, 'three seconds of heartbeats');
    expect(runs()).toBe(1);
    expect(await jobStatus(job.json.id)).toBe('waiting_for_reset');
    // The held job would meet the limit again once the hold goes: cancel it first.
    expect((await call('DELETE', `/jobs/${job.json.id}`, user())).status).toBe(200);
    const cleared = await call('POST', '/admin/queues/claude/clear-hold');
    expect(cleared.status).toBe(200);
    expect(cleared.json).toMatchObject({ provider: 'claude', hold: null, paused: false });
    expect((await claudeQueue()).hold).toBeNull();
    // The provider serves again at once: the worker asleep on the hold looks again within a
    // second (BullMQ alone would sleep up to 30 s).
    const start = Date.now();
    expect((await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'ok' }, user())).status).toBe(
      200,
    );
    expect(Date.now() - start).toBeLessThan(10_000);
  });
});
