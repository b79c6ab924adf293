/**
 * GET /admin/stats: per-day requests, failures, tokens and cost, overall and per key name, from
 * the rollup settlement writes once per job (completed, failed or cancelled), bounded in Redis.
 */
import { createSettlement, lastDays, utcDay, ZERO_USAGE } from '@cli-bridge/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';

const h = createHarness('adminstats');
let url = '';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const call = async (method: string, path: string) => {
  const res = await fetch(`${url}${path}`, { method, headers: admin });
  return { status: res.status, json: (await res.json()) as any };
};
const generate = (key: string, userPrompt: string) =>
  postJson(`${url}/generate`, { systemPrompt: '', userPrompt }, { authorization: `Bearer ${key}` });

/** The totals the request log gives for `entries`, in the shape of a stats row (no date). */
function fromLogs(entries: any[]) {
  const sum = (f: (e: any) => number) => entries.reduce((n, e) => n + f(e), 0);
  const u = (e: any, f: string) => Number(e.usage[f] ?? 0);
  return {
    requests: entries.length,
    failures: entries.filter((e) => e.status === 'failed').length,
    input_tokens: sum((e) => u(e, 'input_tokens')),
    output_tokens: sum((e) => u(e, 'output_tokens')),
    cache_tokens: sum((e) => u(e, 'cache_creation_input_tokens') + u(e, 'cache_read_input_tokens')),
    cost_usd: sum((e) => Math.round(e.cost_usd * 1e6)) / 1e6,
  };
}
/** Rows summed over their days (a run that straddles UTC midnight spreads over two). */
function total(rows: any[]) {
  const out = { requests: 0, failures: 0, input_tokens: 0, output_tokens: 0, cache_tokens: 0, cost_usd: 0 };
  for (const r of rows) for (const f of Object.keys(out) as (keyof typeof out)[]) out[f] += r[f];
  out.cost_usd = Math.round(out.cost_usd * 1e6) / 1e6;
  return out;
}

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude']);
  const a = await h.createKey(url, 'stats-a');
  const b = await h.createKey(url, 'stats-b');
  expect((await generate(a, 'one @@fake in=3 out=4 cache_read=5 cache_create=6 cost=0.01@@')).status).toBe(
    200,
  );
  expect((await generate(a, 'two @@fake in=30 out=40 cost=0.25@@')).status).toBe(200);
  expect((await generate(b, '@@fake mode=error-401@@')).status).toBe(502);
  // Cancelled while queued (no Codex worker): a request, not a failure.
  const queued = await postJson(
    `${url}/jobs`,
    { provider: 'codex', systemPrompt: '', userPrompt: 'never runs' },
    { authorization: `Bearer ${b}` },
  );
  expect((await call('DELETE', `/admin/jobs/${queued.json.id}`)).status).toBe(200);
});
afterAll(() => h.cleanup());

describe('GET /admin/stats', () => {
  it('has every day, oldest first, ending today; totals match the request log, overall and per key', async () => {
    const res = await call('GET', '/admin/stats?days=3');
    const today = utcDay(Date.now());
    expect(res.status).toBe(200);
    expect(res.json.days.map((d: any) => d.date)).toEqual(lastDays(3, Date.now()));
    expect(res.json.days.at(-1).date).toBe(today);
    for (const row of res.json.days)
      expect(Object.keys(row).sort()).toEqual(
        ['cache_tokens', 'cost_usd', 'date', 'failures', 'input_tokens', 'output_tokens', 'requests'].sort(),
      );
    const logs = (await call('GET', '/admin/logs?limit=500')).json.logs;
    expect(logs).toHaveLength(4);
    expect(total(res.json.days)).toEqual(fromLogs(logs));
    expect(total(res.json.days)).toMatchObject({ requests: 4, failures: 1, cache_tokens: 11 });

    expect(Object.keys(res.json.keys).sort()).toEqual(['stats-a', 'stats-b']);
    for (const name of ['stats-a', 'stats-b']) {
      const rows = res.json.keys[name];
      expect(rows.map((d: any) => d.date)).toEqual(res.json.days.map((d: any) => d.date));
      expect(total(rows)).toEqual(fromLogs(logs.filter((l: any) => l.key === name)));
    }
    expect(total(res.json.keys['stats-a'])).toMatchObject({ requests: 2, input_tokens: 33, cost_usd: 0.26 });
  });

  it('defaults to 30 days, zeros included, and refuses a bad range with 400', async () => {
    const res = await call('GET', '/admin/stats');
    expect(res.json.days).toHaveLength(30);
    expect(res.json.days[0]).toEqual({
      date: lastDays(30, Date.now())[0],
      requests: 0,
      failures: 0,
      input_tokens: 0,
      output_tokens: 0,
      cache_tokens: 0,
      cost_usd: 0,
    });
    expect((await call('GET', '/admin/stats?days=90')).json.days).toHaveLength(90);
    for (const [query, field] of [
      ['days=0', 'days'],
      ['days=91', 'days'],
      ['days=1.5', 'days'],
      ['days=many', 'days'],
      ['day=3', 'day'],
    ]) {
      const bad = await call('GET', `/admin/stats?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.json.error).toMatchObject({ type: 'invalid_request', field });
    }
  });

  it('counts a job once, however often its settlement is repeated', async () => {
    const settlement = createSettlement({
      redis: h.redis,
      keys: h.keys,
      logMaxEntries: 100,
      jobTtlS: 60,
      logPromptChars: 0,
    });
    const keyId = await h.keyId('stats-a');
    const job = {
      id: 'claude-00000000-0000-4000-8000-0000000000aa',
      timestamp: Date.now(),
      data: {
        v: 1 as const,
        provider: 'claude' as const,
        keyName: 'stats-a',
        keyId,
        systemPrompt: '',
        userPrompt: 'twice',
        model: 'sonnet',
        stream: false,
        submittedAt: Date.now(),
      },
    };
    const before = total((await call('GET', '/admin/stats?days=2')).json.days).requests;
    const spent = { usage: { ...ZERO_USAGE, input_tokens: 7 }, costMicros: 1 };
    expect(await settlement.close(job, { status: 'completed' }, spent)).toBe(true);
    expect(await settlement.close(job, { status: 'completed' }, spent)).toBe(false);
    const after = total((await call('GET', '/admin/stats?days=2')).json.days);
    expect(after.requests).toBe(before + 1);
  });

  it('keeps each day for about 100 days', async () => {
    const ttl = await h.redis.ttl(h.keys.statsDay(utcDay(Date.now())));
    expect(ttl).toBeGreaterThan(99 * 86_400);
    expect(ttl).toBeLessThanOrEqual(100 * 86_400);
  });

  it("drops a revoked key's rows; its jobs stay in the overall rows", async () => {
    const before = total((await call('GET', '/admin/stats?days=2')).json.days);
    expect((await call('DELETE', '/admin/keys/stats-b')).status).toBe(200);
    const res = await call('GET', '/admin/stats?days=2');
    expect(Object.keys(res.json.keys)).toEqual(['stats-a']);
    expect(total(res.json.days)).toEqual(before);
  });
});
