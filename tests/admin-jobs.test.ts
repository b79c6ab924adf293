/**
 * The admin job routes: any key's jobs by state, provider and key, paged newest first with an
 * opaque cursor; one job with its answer's start and usage; retry of a failed job (admitted
 * again like a new request of its key); cancel or removal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { waitFor } from './helpers/records.js';

const h = createHarness('adminjobs');
let url = '';
let keyA = '';
let keyB = '';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const call = async (
  method: string,
  path: string,
  headers: Record<string, string> = admin,
  body?: unknown,
) => {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
};
const as = (key: string) => ({ authorization: `Bearer ${key}` });
const generate = (key: string, userPrompt: string) =>
  postJson(`${url}/generate`, { systemPrompt: '', userPrompt }, as(key));
const submit = async (key: string, userPrompt: string, provider = 'claude') => {
  const res = await postJson(`${url}/jobs`, { provider, systemPrompt: '', userPrompt }, as(key));
  expect(res.status).toBe(202);
  return String(res.json.id);
};
const adminJob = (id: string) => call('GET', `/admin/jobs/${id}`);
const untilState = (id: string, state: string) =>
  waitFor(
    async () => {
      const r = await adminJob(id);
      return r.status === 200 && r.json.state === state ? r.json : undefined;
    },
    10_000,
    `job ${id} ${state}`,
  );
/**
 * A sync generate that fails (502), once BullMQ records the job as failed: the answer can come a
 * moment before that record (the worker's reply precedes BullMQ's own completion).
 */
const failedGenerate = async (key: string, userPrompt: string) => {
  const res = await generate(key, userPrompt);
  expect(res.status).toBe(502);
  await untilState(res.json.error.job_id, 'failed');
  return res;
};
const requestsToday = async (name: string) =>
  (await call('GET', `/admin/keys/${name}`)).json.usage.today.requests as number;

const completed: string[] = [];
let failedId = '';
let waitingId = '';

beforeAll(async () => {
  url = (await h.startApi()).url;
  // Claude only: Codex jobs wait in their queue, as no worker serves them.
  await h.startWorker(['claude']);
  keyA = await h.createKey(url, 'jobs-a');
  keyB = await h.createKey(url, 'jobs-b');
  for (const [key, prompt] of [
    [keyA, 'first'],
    [keyB, 'second'],
    [keyA, 'third @@fake in=20 out=30 cost=0.002@@'],
  ] as const) {
    const res = await generate(key, prompt);
    expect(res.status).toBe(200);
    completed.push(res.json.job_id);
  }
  const failed = await generate(keyB, '@@fake mode=error-401@@');
  expect(failed.status).toBe(502);
  failedId = failed.json.error.job_id;
  waitingId = await submit(keyA, 'no worker for codex', 'codex');
  // A sync answer can come a moment before BullMQ has recorded the job's end (the worker replies
  // first): the listings below expect the records.
  for (const id of completed) await untilState(id, 'completed');
  await untilState(failedId, 'failed');
});
afterAll(() => h.cleanup());

describe('GET /admin/jobs', () => {
  it('lists a state newest first, every key, as JobSummary', async () => {
    const res = await call('GET', '/admin/jobs?state=completed');
    expect(res.status).toBe(200);
    expect(res.json.next_cursor).toBeNull();
    expect(res.json.jobs.map((j: any) => j.id)).toEqual([...completed].reverse());
    const third = res.json.jobs[0];
    expect(third).toEqual({
      id: completed[2],
      provider: 'claude',
      state: 'completed',
      key: 'jobs-a',
      model: 'sonnet',
      created_at: expect.any(String),
      started_at: expect.any(String),
      finished_at: expect.any(String),
      wait_ms: expect.any(Number),
      run_ms: expect.any(Number),
      attempts: 1,
      error: null,
    });
    expect(Date.parse(third.finished_at)).toBeGreaterThanOrEqual(Date.parse(third.started_at));
    expect(third.run_ms).toBe(Date.parse(third.finished_at) - Date.parse(third.started_at));
  });

  it('gives a failed job its error, a waiting one no times', async () => {
    const failed = (await call('GET', '/admin/jobs?state=failed')).json.jobs;
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ id: failedId, key: 'jobs-b', state: 'failed' });
    expect(failed[0].error).toEqual({ type: expect.any(String), message: expect.any(String) });
    const waiting = (await call('GET', '/admin/jobs?state=waiting')).json.jobs;
    expect(waiting).toEqual([
      expect.objectContaining({
        id: waitingId,
        provider: 'codex',
        state: 'waiting',
        started_at: null,
        finished_at: null,
        wait_ms: null,
        run_ms: null,
        error: null,
      }),
    ]);
  });

  it('filters by provider and key, and lists every state without one', async () => {
    const codex = (await call('GET', '/admin/jobs?provider=codex')).json.jobs;
    expect(codex.map((j: any) => j.id)).toEqual([waitingId]);
    const b = (await call('GET', '/admin/jobs?key=jobs-b')).json.jobs;
    expect(b.map((j: any) => j.id).sort()).toEqual([completed[1], failedId].sort());
    const bCompleted = (await call('GET', '/admin/jobs?key=jobs-b&state=completed')).json.jobs;
    expect(bCompleted.map((j: any) => j.id)).toEqual([completed[1]]);
    expect((await call('GET', '/admin/jobs?key=nobody')).json).toEqual({ jobs: [], next_cursor: null });
    const all = (await call('GET', '/admin/jobs')).json.jobs.map((j: any) => j.id);
    expect(all.sort()).toEqual([...completed, failedId, waitingId].sort());
  });

  it('pages with an opaque cursor: every job once, in the order of one long page', async () => {
    for (const query of ['state=completed', '', 'key=jobs-a']) {
      const whole = (await call('GET', `/admin/jobs?limit=200&${query}`)).json;
      expect(whole.next_cursor).toBeNull();
      const paged: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 20; pages++) {
        const c: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
        const res = await call('GET', `/admin/jobs?limit=1&${query}${c}`);
        expect(res.status).toBe(200);
        expect(res.json.jobs.length).toBeLessThanOrEqual(1);
        paged.push(...res.json.jobs.map((j: any) => j.id));
        cursor = res.json.next_cursor;
        if (cursor === null) break;
        expect(typeof cursor).toBe('string');
      }
      expect(cursor, query).toBeNull();
      expect(paged, query).toEqual(whole.jobs.map((j: any) => j.id));
    }
  });

  it('refuses bad input with 400 naming the parameter, and an unknown provider with 404', async () => {
    const firstPage = (await call('GET', '/admin/jobs?state=completed&limit=1')).json;
    for (const [query, field] of [
      ['state=done', 'state'],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['limit=x', 'limit'],
      ['key=has%20space', 'key'],
      ['cursor=not-a-cursor', 'cursor'],
      [`cursor=${Buffer.from('{"q":1}').toString('base64url')}`, 'cursor'],
      // A cursor of another query.
      [`state=failed&cursor=${encodeURIComponent(firstPage.next_cursor)}`, 'cursor'],
      ['colour=red', 'colour'],
    ] as const) {
      const res = await call('GET', `/admin/jobs?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.json.error, query).toMatchObject({ type: 'invalid_request', field });
    }
    const res = await call('GET', '/admin/jobs?provider=gemini');
    expect(res.status).toBe(404);
    expect(res.json.error.type).toBe('not_found');
  });
});

describe('GET /admin/jobs/:id', () => {
  it('adds the start of the answer and the usage of a completed job', async () => {
    const res = await adminJob(completed[2]!);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: completed[2], state: 'completed', key: 'jobs-a' });
    expect(res.json.result_preview).toBe('Echo: third');
    expect(res.json.usage).toMatchObject({ input_tokens: 20, output_tokens: 30, cost_usd: 0.002 });
  });

  it('has no preview or usage for a job that did not complete', async () => {
    const res = await adminJob(failedId);
    expect(res.json).toMatchObject({ state: 'failed', result_preview: null, usage: null });
  });

  it('cuts the preview at 500 characters', async () => {
    const res = await generate(keyA, 'y'.repeat(600) + ' @@fake reply=' + 'z'.repeat(700) + '@@');
    expect(res.status).toBe(200);
    const job = await untilState(res.json.job_id, 'completed');
    expect(job.result_preview).toBe('z'.repeat(500));
  });

  it('answers 404 for an unknown or malformed id', async () => {
    for (const id of ['claude-00000000-0000-4000-8000-000000000000', 'nonsense', 'gemini-1']) {
      const res = await adminJob(id);
      expect(res.status, id).toBe(404);
      expect(res.json.error.type).toBe('not_found');
    }
  });
});

describe('POST /admin/jobs/:id/retry', () => {
  it('runs a cancelled job again under its id, admitted again: counted, settled and logged anew', async () => {
    const id = await submit(keyA, 'second chance @@fake delay_ms=1500@@');
    await untilState(id, 'active');
    const cancelled = await call('DELETE', `/admin/jobs/${id}`);
    expect(cancelled.json).toEqual({ id, removed: true, state_before: 'active' });
    const failed = await untilState(id, 'failed');
    expect(failed.error.type).toBe('cancelled');

    const before = await requestsToday('jobs-a');
    const res = await call('POST', `/admin/jobs/${id}/retry`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id, key: 'jobs-a', error: null });
    expect(['waiting', 'active', 'completed']).toContain(res.json.state);
    const done = await untilState(id, 'completed');
    expect(done.attempts).toBe(1);
    expect((await adminJob(id)).json.result_preview).toBe('Echo: second chance');
    // Its owner sees it completed too.
    const own = await call('GET', `/jobs/${id}`, as(keyA));
    expect(own.json).toMatchObject({ status: 'completed', result: { job_id: id } });
    expect(await requestsToday('jobs-a')).toBe(before + 1);
    const logs = (await call('GET', '/admin/logs?key=jobs-a&limit=50')).json.logs.filter(
      (l: any) => l.job_id === id,
    );
    expect(logs.map((l: any) => l.status)).toEqual(['completed', 'cancelled']);
  });

  it("meets the key's limits like a new request", async () => {
    const capped = await h.createKey(url, 'jobs-capped', { maxRequestsPerDay: 1 });
    const failed = await failedGenerate(capped, '@@fake mode=error-401@@');
    const res = await call('POST', `/admin/jobs/${failed.json.error.job_id}/retry`);
    expect(res.status).toBe(429);
    expect(res.json.error).toMatchObject({ type: 'limit_exceeded', limit: 'maxRequestsPerDay' });
    expect((await adminJob(failed.json.error.job_id)).json.state).toBe('failed');
  });

  it("reserves the key's cost bound of now: the new run gets it as its budget", async () => {
    const raw = await h.createKey(url, 'jobs-dollar');
    const failed = await failedGenerate(raw, '@@fake mode=error-401@@');
    const id = failed.json.error.job_id;
    const data = async () => JSON.parse((await h.redis.hget(`${h.prefix}:claude:${id}`, 'data'))!);
    expect((await data()).costBoundMicros).toBeUndefined();
    expect((await call('PATCH', '/admin/keys/jobs-dollar', admin, { maxCostPerDay: 5 })).status).toBe(200);
    expect((await call('POST', `/admin/jobs/${id}/retry`)).status).toBe(200);
    // CLAUDE_COST_BOUND_USD (default 1 USD), reserved against the key's new dollar limit.
    expect((await data()).costBoundMicros).toBe(1_000_000);
    await untilState(id, 'failed');
  });

  it('answers 409 for a job whose key was revoked, or that is not failed; 404 for an unknown one', async () => {
    const doomed = await h.createKey(url, 'jobs-doomed');
    const failed = await failedGenerate(doomed, '@@fake mode=error-401@@');
    expect((await call('DELETE', '/admin/keys/jobs-doomed')).status).toBe(200);
    const revoked = await call('POST', `/admin/jobs/${failed.json.error.job_id}/retry`);
    expect(revoked.status).toBe(409);
    expect(revoked.json.error.type).toBe('conflict');

    for (const id of [completed[0]!, waitingId]) {
      const res = await call('POST', `/admin/jobs/${id}/retry`);
      expect(res.status, id).toBe(409);
      expect(res.json.error.type).toBe('conflict');
    }
    expect((await call('POST', '/admin/jobs/claude-00000000-0000-4000-8000-000000000000/retry')).status).toBe(
      404,
    );
  });
});

describe('DELETE /admin/jobs/:id', () => {
  it('cancels a waiting job through the client cancel path: settled and logged as cancelled', async () => {
    const id = await submit(keyB, 'never runs', 'codex');
    const res = await call('DELETE', `/admin/jobs/${id}`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id, removed: true, state_before: 'waiting' });
    expect((await adminJob(id)).status).toBe(404);
    expect((await call('GET', `/jobs/${id}`, as(keyB))).json).toMatchObject({
      status: 'cancelled',
      error: { type: 'cancelled' },
    });
    const logs = (await call('GET', '/admin/logs?key=jobs-b')).json.logs;
    expect(logs.find((l: any) => l.job_id === id)).toMatchObject({ status: 'cancelled' });
  });

  it('kills a running job (state_before active); it ends cancelled', async () => {
    const id = await submit(keyB, '@@fake mode=hang@@');
    await untilState(id, 'active');
    const res = await call('DELETE', `/admin/jobs/${id}`);
    expect(res.json).toEqual({ id, removed: true, state_before: 'active' });
    expect((await untilState(id, 'failed')).error.type).toBe('cancelled');
  });

  it('removes a finished job; then it is 404', async () => {
    const id = completed[1]!;
    const res = await call('DELETE', `/admin/jobs/${id}`);
    expect(res.json).toEqual({ id, removed: true, state_before: 'completed' });
    expect((await adminJob(id)).status).toBe(404);
    expect((await call('GET', `/jobs/${id}`, as(keyB))).status).toBe(404);
    expect((await call('DELETE', `/admin/jobs/${id}`)).status).toBe(404);
  });
});
