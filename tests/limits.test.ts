/**
 * Limits that hold under concurrency: exact admission counts (one API or two), the concurrency
 * bound on live CLIs, cost and token limits, exact usage sums in micro-dollars, and settlement of
 * every outcome exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readRecords, waitFor, maxOverlap } from './helpers/records.js';

const recordDir = tempDir('limit-records');
const h = createHarness('limits', {
  FAKE_CLI_RECORD_DIR: recordDir,
  WORKER_CONCURRENCY_CLAUDE: '8',
  WORKER_CONCURRENCY_CODEX: '4',
  JOB_ATTEMPTS: '2',
  CLAUDE_TIMEOUT_MS: '1500',
});
let url = '';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };

async function keyWith(limits: Record<string, unknown>) {
  const name = `k${Math.random().toString(36).slice(2, 10)}`;
  return { name, key: await h.createKey(url, name, limits) };
}
const gen = (key: string, userPrompt: string, path = '/generate') =>
  postJson(`${url}${path}`, { systemPrompt: '', userPrompt }, { authorization: `Bearer ${key}` });
const keyInfo = async (name: string): Promise<any> =>
  (await fetch(`${url}/admin/keys/${name}`, { headers: admin })).json();
const logsOf = async (name: string) =>
  (
    (await (await fetch(`${url}/admin/logs?key=${name}&limit=500`, { headers: admin })).json()) as {
      logs: any[];
    }
  ).logs;

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude', 'codex'], { FAKE_CLI_RECORD_DIR: recordDir });
});
afterAll(() => h.cleanup());

describe('request limits under concurrency', () => {
  it('admits exactly 50 of 200 concurrent requests against maxRequestsPerDay 50', async () => {
    const { name, key } = await keyWith({ maxRequestsPerDay: 50 });
    const toMidnight = () => {
      const d = new Date();
      return (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - Date.now()) / 1000;
    };
    const [before, started] = [toMidnight(), Date.now()];
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => gen(key, `burst-${i}`)));
    const elapsedS = (Date.now() - started) / 1000;
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(50);
    expect(refused).toHaveLength(150);
    expect(refused[0]!.json.error).toMatchObject({
      type: 'limit_exceeded',
      message: 'Daily request limit reached (50/day)',
      limit: 'maxRequestsPerDay',
      limit_value: 50,
    });
    // Seconds to the next UTC midnight, as of the moment of refusal (somewhere in the burst).
    const retryAfter = Number(refused[0]!.headers.get('retry-after'));
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(before) + 1);
    expect(retryAfter).toBeGreaterThanOrEqual(Math.floor(before - elapsedS) - 1);
    expect((await keyInfo(name)).usage.today.requests).toBe(50);
  }, 60_000);

  it('admits exactly 50 when two API processes share one Redis', async () => {
    const [a, b] = await Promise.all([h.spawnApi(), h.spawnApi()]);
    const { name, key } = await keyWith({ maxRequestsPerDay: 50 });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        postJson(
          `${i % 2 ? a.url : b.url}/generate`,
          { systemPrompt: '', userPrompt: `twin-${i}` },
          { authorization: `Bearer ${key}` },
        ),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(50);
    expect(results.filter((r) => r.status === 429 && r.json.error.type === 'limit_exceeded')).toHaveLength(
      150,
    );
    expect((await keyInfo(name)).usage.today.requests).toBe(50);
    await Promise.all([a.stop(), b.stop()]);
  }, 60_000);

  it('never runs more than maxConcurrent CLIs of one key at once; the rest get 429', async () => {
    const { key } = await keyWith({ maxConcurrent: 2 });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => gen(key, `conc-${i} @@fake delay_ms=600@@`)),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(2);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(4);
    expect(refused[0]!.json.error.message).toBe('Concurrency limit reached (2 at once)');
    expect(refused[0]!.headers.get('retry-after')).toBe('1');
    const runs = readRecords(recordDir).filter((r) => r.stdin.includes('conc-'));
    expect(maxOverlap(runs)).toBeLessThanOrEqual(2);
    // Slots come back when the jobs settle.
    expect((await gen(key, 'after the burst')).status).toBe(200);
  });

  it('enforces the per-minute limit', async () => {
    // The limit counts per clock minute: a run that straddles a minute boundary starts over.
    const minute = () => Math.floor(Date.now() / 60_000);
    let third: Awaited<ReturnType<typeof gen>>;
    for (;;) {
      const { key } = await keyWith({ maxRequestsPerMinute: 2 });
      const startedIn = minute();
      expect((await gen(key, 'm1')).status).toBe(200);
      expect((await gen(key, 'm2')).status).toBe(200);
      third = await gen(key, 'm3');
      if (minute() === startedIn) break;
    }
    expect(third.status).toBe(429);
    expect(third.json.error.message).toBe('Per-minute request limit reached (2/minute)');
    expect(Number(third.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  });

  it('refuses a provider the key may not use with 403', async () => {
    const { key } = await keyWith({ allowedProviders: ['claude'] });
    expect((await gen(key, 'ok')).status).toBe(200);
    const res = await gen(key, 'nope', '/generate-codex');
    expect(res.status).toBe(403);
    expect(res.json.error).toMatchObject({ type: 'forbidden', message: 'This key may not use codex' });
  });
});

describe('token and cost limits, exact accounting', () => {
  it('refuses the next request once daily cost reaches the limit; sums are exact micro-dollars', async () => {
    const { name, key } = await keyWith({ maxCostPerDay: 0.01 });
    for (let i = 0; i < 3; i++) {
      expect(
        (await gen(key, `spend-${i} @@fake cost=0.004 in=10 out=5 cache_read=2 cache_create=1@@`)).status,
      ).toBe(200);
    }
    const refused = await gen(key, 'one too many');
    expect(refused.status).toBe(429);
    expect(refused.json.error.message).toBe('Daily cost limit reached ($0.01/day)');
    const { usage } = await keyInfo(name);
    expect(usage.today).toEqual({
      requests: 3, // a refused request is not counted
      errors: 0,
      input_tokens: 30,
      output_tokens: 15,
      cache_creation_input_tokens: 3,
      cache_read_input_tokens: 6,
      tokens: 54,
      cost_usd: 0.012,
    });
    expect(usage.month.cost_usd).toBe(0.012);
    expect(usage.total.tokens).toBe(54);
  });

  it('counts cache tokens against maxTokensPerMonth', async () => {
    const { key } = await keyWith({ maxTokensPerMonth: 100 });
    expect((await gen(key, 't1 @@fake in=20 out=10 cache_read=20@@')).status).toBe(200); // 50
    expect((await gen(key, 't2 @@fake in=20 out=10 cache_create=20@@')).status).toBe(200); // 100
    const res = await gen(key, 't3');
    expect(res.status).toBe(429);
    expect(res.json.error.message).toBe('Monthly token limit reached (100 tokens/month)');
  });

  it('prices Codex runs from the table and adds them exactly', async () => {
    const { name, key } = await keyWith({ maxCostPerMonth: 100 });
    for (let i = 0; i < 3; i++) {
      expect((await gen(key, `cx-${i} @@fake in=1000 cached=400 out=100@@`, '/generate-codex')).status).toBe(
        200,
      );
    }
    // each: 600 × 1.25 + 400 × 0.125 + 100 × 10 = 750 + 50 + 1000 = 1800 micro-dollars
    expect((await keyInfo(name)).usage.today.cost_usd).toBe(0.0054);
  });
});

describe('settlement: every outcome once', () => {
  it('settles a failed CLI once, with its error in the log', async () => {
    const { name, key } = await keyWith({});
    expect((await gen(key, '@@fake mode=max-turns@@')).status).toBe(502);
    const logs = await logsOf(name);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      status: 'failed',
      error_type: 'provider_error',
      key: name,
      provider: 'claude',
    });
    expect(logs[0].usage.output_tokens).toBe(7); // what the failed run consumed is billed
    const { usage } = await keyInfo(name);
    expect(usage.today).toMatchObject({ requests: 1, errors: 1, output_tokens: 7 });
  });

  it('settles a transient failure once after all its attempts', async () => {
    const { name, key } = await keyWith({});
    expect((await gen(key, 'again @@fake mode=error-529@@')).status).toBe(502);
    expect(readRecords(recordDir).filter((r) => r.stdin.includes('again')).length).toBe(2);
    const logs = await logsOf(name);
    expect(logs).toHaveLength(1);
    expect((await keyInfo(name)).usage.today).toMatchObject({ requests: 1, errors: 1 });
  });

  it('settles a timed-out run once and releases its slot', async () => {
    const { name, key } = await keyWith({ maxConcurrent: 1 });
    const res = await gen(key, 'too slow @@fake mode=hang@@');
    expect(res.status).toBe(504);
    const logs = await logsOf(name);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ status: 'failed', error_type: 'timeout' });
    expect((await keyInfo(name)).active).toBe(0);
    expect((await gen(key, 'next one')).status).toBe(200);
  });

  it('settles a job cancelled while queued (client gone) once, billing nothing', async () => {
    const { name, key } = await keyWith({});
    // Fill every claude slot of the worker so the next job stays queued.
    const blockers = Array.from({ length: 8 }, (_, i) => gen(key, `block-${i} @@fake delay_ms=800@@`));
    await waitFor(
      () => readRecords(recordDir).filter((r) => r.stdin.includes('block-') && !r.endedAt).length === 8,
      5_000,
      'the blockers',
    );
    const ac = new AbortController();
    const gone = fetch(`${url}/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ systemPrompt: '', userPrompt: 'cancel me' }),
      signal: ac.signal,
    }).catch(() => undefined);
    await waitFor(
      async () => (await h.redis.llen(`${h.prefix}:claude:wait`)) === 1,
      5_000,
      'the job to queue',
    );
    ac.abort();
    await gone;
    await Promise.all(blockers);
    const logs = await waitFor(
      async () => {
        const l = await logsOf(name);
        return l.length === 9 ? l : undefined;
      },
      5_000,
      'nine log entries',
    );
    const cancelled = logs.filter((l) => l.status === 'cancelled');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0].usage).toEqual({
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    expect((await keyInfo(name)).active).toBe(0);
  });
});
