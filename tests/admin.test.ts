/**
 * The admin API, every endpoint and validation error, against an API running as its own process
 * so that its log output can be searched for the raw key (which must never appear after creation).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';

const h = createHarness('admin');
let api: Awaited<ReturnType<typeof h.spawnApi>>;
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const call = async (
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = admin,
) => {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
};

beforeAll(async () => {
  api = await h.spawnApi({ LOG_LEVEL: 'debug' });
  await h.startWorker(['claude']);
});
afterAll(() => h.cleanup());

describe('admin authentication', () => {
  it('refuses a missing, wrong or same-length-but-different admin key', async () => {
    expect((await call('GET', '/admin/keys', undefined, {})).status).toBe(401);
    expect((await call('GET', '/admin/keys', undefined, { authorization: 'Bearer nope' })).status).toBe(401);
    const sameLength = ADMIN_KEY.slice(0, -1) + (ADMIN_KEY.endsWith('x') ? 'y' : 'x');
    const res = await call('GET', '/admin/keys', undefined, { authorization: `Bearer ${sameLength}` });
    expect(res.status).toBe(401);
    expect(res.json.error.type).toBe('unauthorized');
  });

  it('does not accept a user key on admin routes', async () => {
    const created = await call('POST', '/admin/keys', { name: 'not-admin' });
    expect(
      (await call('GET', '/admin/keys', undefined, { authorization: `Bearer ${created.json.key}` })).status,
    ).toBe(401);
  });
});

describe('keys', () => {
  let raw = '';

  it('creates a key with limits and shows the raw key once', async () => {
    const res = await call('POST', '/admin/keys', {
      name: 'alice_1',
      maxRequestsPerDay: 5,
      maxCostPerMonth: 2.5,
      allowedProviders: ['claude'],
    });
    expect(res.status).toBe(201);
    raw = res.json.key;
    expect(raw).toMatch(/^cbk_[A-Za-z0-9_-]{43}$/);
    expect(res.json).toMatchObject({
      name: 'alice_1',
      created_at: expect.any(String),
      maxRequestsPerDay: 5,
      maxRequestsPerMonth: 0,
      maxTokensPerMonth: 0,
      maxCostPerDay: 0,
      maxCostPerMonth: 2.5,
      maxConcurrent: 0,
      maxRequestsPerMinute: 0,
      allowedProviders: ['claude'],
    });
    expect(res.text).not.toContain('hash');
  });

  it('refuses duplicates (409) and bad input (400, naming the field)', async () => {
    expect((await call('POST', '/admin/keys', { name: 'alice_1' })).status).toBe(409);
    for (const [body, field] of [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'a'.repeat(51) }, 'name'],
      [{ name: 'has space' }, 'name'],
      [{ name: 'x:y' }, 'name'],
      [{ name: 'neg', maxRequestsPerDay: -1 }, 'maxRequestsPerDay'],
      [{ name: 'str', maxCostPerDay: 'ten' }, 'maxCostPerDay'],
      [{ name: 'frac', maxConcurrent: 1.5 }, 'maxConcurrent'],
      [{ name: 'prov', allowedProviders: ['gemini'] }, 'allowedProviders.0'],
      // Would round to 0 micro-dollars, which means unlimited.
      [{ name: 'tiny', maxCostPerDay: 0.0000004 }, 'maxCostPerDay'],
    ] as const) {
      const res = await call('POST', '/admin/keys', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error).toMatchObject({ type: 'invalid_request', field });
    }
    const smallest = await call('POST', '/admin/keys', { name: 'smallest', maxCostPerMonth: 0.000001 });
    expect(smallest.status).toBe(201);
    expect(smallest.json.maxCostPerMonth).toBe(0.000001);
    expect((await call('PATCH', '/admin/keys/smallest', { maxCostPerDay: 1e-9 })).json.error).toMatchObject({
      field: 'maxCostPerDay',
    });
    const typo = await call('POST', '/admin/keys', { name: 'typo', maxRequestPerDay: 3 });
    expect(typo.status).toBe(400);
    expect(typo.json.error.message).toMatch(/maxRequestPerDay/);
  });

  it('lists keys with limits and usage today and this month, never the hash or raw key', async () => {
    await postJson(
      `${api.url}/generate`,
      { systemPrompt: '', userPrompt: 'count me @@fake in=3 out=4@@' },
      { authorization: `Bearer ${raw}` },
    );
    const res = await call('GET', '/admin/keys');
    expect(res.status).toBe(200);
    const alice = res.json.keys.find((k: any) => k.name === 'alice_1');
    expect(alice).toMatchObject({
      maxRequestsPerDay: 5,
      usage: { today: { requests: 1, tokens: 7 }, month: { requests: 1 } },
      active: 0,
    });
    expect(res.text).not.toContain(raw);
  });

  it('shows one key with its total usage; 404 for an unknown one', async () => {
    const res = await call('GET', '/admin/keys/alice_1');
    expect(res.json.usage.total).toMatchObject({ requests: 1, input_tokens: 3, output_tokens: 4 });
    expect((await call('GET', '/admin/keys/nobody')).status).toBe(404);
    expect((await call('GET', '/admin/keys/bad%20name')).status).toBe(404);
  });

  it('updates limits (validated, unknown fields refused); 404 for an unknown key', async () => {
    const res = await call('PATCH', '/admin/keys/alice_1', { maxRequestsPerDay: 0, maxConcurrent: 3 });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ maxRequestsPerDay: 0, maxConcurrent: 3, maxCostPerMonth: 2.5 });
    expect((await call('PATCH', '/admin/keys/alice_1', { maxConcurrent: -2 })).status).toBe(400);
    const unknown = await call('PATCH', '/admin/keys/alice_1', { name: 'rename' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toMatchObject({ field: 'name', message: 'Unknown field: name' });
    expect((await call('PATCH', '/admin/keys/nobody', { maxConcurrent: 1 })).status).toBe(404);
  });

  it('resets usage', async () => {
    const res = await call('POST', '/admin/keys/alice_1/reset-usage');
    expect(res.status).toBe(200);
    expect(res.json.usage.today.requests).toBe(0);
    expect(res.json.usage.total.tokens).toBe(0);
    expect((await call('POST', '/admin/keys/nobody/reset-usage')).status).toBe(404);
  });

  it('reads logs newest first, with a key filter and a bounded limit', async () => {
    for (const p of ['first', 'second']) {
      await postJson(
        `${api.url}/generate`,
        { systemPrompt: '', userPrompt: p },
        { authorization: `Bearer ${raw}` },
      );
    }
    const res = await call('GET', '/admin/logs?key=alice_1&limit=2');
    expect(res.status).toBe(200);
    expect(res.json.logs).toHaveLength(2);
    const [newest, older] = res.json.logs;
    expect(Date.parse(newest.time)).toBeGreaterThanOrEqual(Date.parse(older.time));
    expect(newest).toMatchObject({
      key: 'alice_1',
      provider: 'claude',
      model: 'sonnet',
      status: 'completed',
      job_id: expect.any(String),
      prompt_chars: 6,
      duration_ms: expect.any(Number),
      queue_wait_ms: expect.any(Number),
      cost_usd: 0.00023,
      usage: {
        input_tokens: 11,
        output_tokens: 7,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
    expect(newest.prompt).toBeUndefined(); // LOG_PROMPT_CHARS = 0
    expect((await call('GET', '/admin/logs')).json.logs.length).toBeGreaterThanOrEqual(3);
    for (const bad of [
      'limit=0',
      'limit=501',
      'limit=abc',
      'key=bad%20name',
      'offset=-1',
      'status=done',
      'provider=gemini',
    ]) {
      expect((await call('GET', `/admin/logs?${bad}`)).status, bad).toBe(400);
    }
  });

  it('filters logs by status, provider and model on the server, and pages with next_offset', async () => {
    const auth = { authorization: `Bearer ${raw}` };
    const sent = [
      { userPrompt: 'ok one', model: 'sonnet' },
      { userPrompt: 'bad one @@fake mode=error-401@@', model: 'sonnet' },
      { userPrompt: 'ok two', model: 'haiku' },
      { userPrompt: 'bad two @@fake mode=error-401@@', model: 'haiku' },
      { userPrompt: 'ok three', model: 'haiku' },
    ];
    for (const s of sent) await postJson(`${api.url}/generate`, { systemPrompt: '', ...s }, auth);
    const get = async (q: string) => (await call('GET', `/admin/logs?key=alice_1&${q}`)).json;

    const failed = await get('status=failed');
    expect(failed.logs.map((l: { status: string }) => l.status)).toEqual(['failed', 'failed']);
    expect(failed.next_offset).toBeNull();
    const haikuOk = await get('status=completed&model=HAIK');
    expect(haikuOk.logs).toHaveLength(2);
    expect(haikuOk.logs.every((l: { model: string }) => l.model === 'haiku')).toBe(true);
    expect((await get('provider=codex')).logs).toEqual([]);

    // Paging through the completed ones, 2 at a time: every entry once, newest first.
    const completed = (await get('status=completed&limit=500')).logs.map((l: { job_id: string }) => l.job_id);
    expect(completed.length).toBeGreaterThanOrEqual(5);
    const paged: string[] = [];
    for (let offset: number | null = 0; offset !== null;) {
      const page = await get(`status=completed&limit=2&offset=${offset}`);
      paged.push(...page.logs.map((l: { job_id: string }) => l.job_id));
      offset = page.next_offset;
    }
    expect(paged).toEqual(completed);
    expect((await call('GET', '/admin/logs?key=nobody')).json).toEqual({ logs: [], next_offset: null });
  });

  it('revokes a key: it stops working at once', async () => {
    expect((await call('DELETE', '/admin/keys/alice_1')).json).toEqual({
      name: 'alice_1',
      id: expect.stringMatching(/^k_[0-9a-f]{24}$/),
      revoked: true,
    });
    const res = await postJson(
      `${api.url}/generate`,
      { systemPrompt: '', userPrompt: 'x' },
      { authorization: `Bearer ${raw}` },
    );
    expect(res.status).toBe(401);
    expect((await call('DELETE', '/admin/keys/alice_1')).status).toBe(404);
    // The name is free again.
    expect((await call('POST', '/admin/keys', { name: 'alice_1' })).status).toBe(201);
  });

  it('never wrote the raw key or the admin key to a log line', () => {
    const all = JSON.stringify(api.logs);
    expect(api.logs.length).toBeGreaterThan(5);
    expect(all).not.toContain(raw);
    expect(all).not.toContain(ADMIN_KEY);
  });
});

describe('GET /usage', () => {
  it('shows the caller its own limits, usage and what remains', async () => {
    const created = await call('POST', '/admin/keys', {
      name: 'bob',
      maxRequestsPerDay: 10,
      maxCostPerDay: 1,
    });
    const auth = { authorization: `Bearer ${created.json.key}` };
    await postJson(`${api.url}/generate`, { systemPrompt: '', userPrompt: 'hello @@fake cost=0.25@@' }, auth);
    const res = await call('GET', '/usage', undefined, auth);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      key: 'bob',
      limits: { maxRequestsPerDay: 10, maxCostPerDay: 1, maxTokensPerMonth: 0 },
      usage: { today: { requests: 1, cost_usd: 0.25 }, month: { requests: 1 } },
      remaining: {
        requests_today: 9,
        cost_today_usd: 0.75,
        tokens_this_month: null,
        requests_this_month: null,
      },
    });
    expect((await call('GET', '/usage', undefined, {})).status).toBe(401);
  });
});
