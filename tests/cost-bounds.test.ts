/**
 * Dollar limits under concurrency: each admitted request reserves a cost bound
 * (CLAUDE_COST_BOUND_USD / CODEX_COST_BOUND_USD) that counts against the key's dollar limits
 * until it is settled, and Claude runs get --max-budget-usd at that bound. Spend never passes a
 * limit by more than one request's bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readRecords } from './helpers/records.js';

const recordDir = tempDir('cost-records');
const BOUND = '0.0005';
const h = createHarness('cost-bounds', { FAKE_CLI_RECORD_DIR: recordDir, CLAUDE_COST_BOUND_USD: BOUND });
let url = '';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude'], { FAKE_CLI_RECORD_DIR: recordDir, WORKER_CONCURRENCY_CLAUDE: '16' });
});
afterAll(() => h.cleanup());

async function spentToday(name: string): Promise<number> {
  return ((await (await fetch(`${url}/admin/keys/${name}`, { headers: admin })).json()) as any).usage.today
    .cost_usd;
}

describe('dollar limits under concurrency', () => {
  it('admits no more than the limit allows, 40 requests at once, and ends within one bound of it', async () => {
    const key = await h.createKey(url, 'tight', { maxCostPerDay: 0.001 });
    const auth = { authorization: `Bearer ${key}` };
    const burst = async () =>
      Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          postJson(
            `${url}/generate`,
            { systemPrompt: '', userPrompt: `c${i} @@fake cost=0.0004 delay_ms=200@@` },
            auth,
          ),
        ),
      );
    // Waves until the key is refused outright.
    let admitted = 0;
    for (let wave = 0; wave < 6; wave++) {
      const results = await burst();
      const ok = results.filter((r) => r.status === 200).length;
      for (const r of results.filter((r) => r.status !== 200)) {
        expect(r.status).toBe(429);
        expect(r.json.error).toMatchObject({ type: 'limit_exceeded', limit: 'maxCostPerDay' });
      }
      admitted += ok;
      if (ok === 0) break;
    }
    // Without reservations the first wave alone would admit all 40 ($0.016, 16x the limit).
    const spent = await spentToday('tight');
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(0.001 + Number(BOUND) + 1e-9);
    expect(admitted).toBeLessThanOrEqual(3);
  });

  it('gives Claude --max-budget-usd at the bound, and bills an answer that cost more as a failure', async () => {
    const key = await h.createKey(url, 'bounded', { maxCostPerMonth: 5 });
    const auth = { authorization: `Bearer ${key}` };
    const ok = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'cheap one' }, auth);
    expect(ok.status).toBe(200);
    const rec = readRecords(recordDir).find((r) => r.stdin === 'cheap one')!;
    expect(
      rec.argv.slice(rec.argv.indexOf('--max-budget-usd'), rec.argv.indexOf('--max-budget-usd') + 2),
    ).toEqual(['--max-budget-usd', '0.000500']);
    const over = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'dear one @@fake cost=0.002@@' },
      auth,
    );
    expect(over.status).toBe(429);
    expect(over.json.error.type).toBe('limit_exceeded');
    expect(over.json.error.message).toMatch(/cost bound/);
    // What the model did is paid for.
    const usage = ((await (await fetch(`${url}/usage`, { headers: auth })).json()) as any).usage.today;
    expect(usage.cost_usd).toBeCloseTo(0.00023 + 0.002, 9);
    expect(usage.errors).toBe(1);
  });

  it('drops a reservation left behind by a job that vanished, instead of blocking the key', async () => {
    const key = await h.createKey(url, 'leftover', { maxCostPerDay: 0.01 });
    const id = await h.keyId('leftover');
    // A job that never settled and holds neither a lease nor a queued place reserved it all.
    await h.redis.hset(h.keys.costReservations(id), 'claude-vanished', 50_000, '=', 50_000);
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'after the leftover' },
      {
        authorization: `Bearer ${key}`,
      },
    );
    expect(res.status).toBe(200);
    expect(await h.redis.hget(h.keys.costReservations(id), 'claude-vanished')).toBeNull();
    // Settled: nothing stays reserved.
    expect(await h.redis.hget(h.keys.costReservations(id), '=')).toBe('0');
  });

  it('passes no budget to the CLI for a key without dollar limits', async () => {
    const key = await h.createKey(url, 'open');
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'no budget here' },
      {
        authorization: `Bearer ${key}`,
      },
    );
    expect(res.status).toBe(200);
    expect(readRecords(recordDir).find((r) => r.stdin === 'no budget here')!.argv).not.toContain(
      '--max-budget-usd',
    );
  });
});

describe('queued jobs', () => {
  it('caps a key at maxQueued (default MAX_QUEUED_PER_KEY) and a provider at MAX_QUEUED_PER_PROVIDER', async () => {
    const capped = await h.startApi({ MAX_QUEUED_PER_KEY: '3', MAX_QUEUED_PER_PROVIDER: '5' });
    const submit = (key: string, p: string) =>
      postJson(
        `${capped.url}/jobs`,
        { provider: 'codex', systemPrompt: '', userPrompt: p },
        {
          authorization: `Bearer ${key}`,
        },
      );
    // No codex worker here: jobs stay queued.
    const a = await h.createKey(capped.url, 'queue-a');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await submit(a, `a${i}`)).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    const refused = await submit(a, 'a-more');
    expect(refused.json.error).toMatchObject({ type: 'limit_exceeded', limit: 'maxQueued', limit_value: 3 });
    // A key's own maxQueued wins over the default.
    const b = await h.createKey(capped.url, 'queue-b', { maxQueued: 10 });
    expect((await submit(b, 'b0')).status).toBe(202);
    expect((await submit(b, 'b1')).status).toBe(202);
    // 5 waiting for codex now: the provider is full for everyone.
    const full = await submit(b, 'b2');
    expect(full.status).toBe(503);
    expect(full.json.error.type).toBe('unavailable');
    expect(full.json.error.message).toMatch(/queue is full/);
    // Cancelling frees a place.
    const jobs = (
      (await (await fetch(`${capped.url}/jobs`, { headers: { authorization: `Bearer ${a}` } })).json()) as any
    ).jobs;
    await fetch(`${capped.url}/jobs/${jobs[0].id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${a}` },
    });
    expect((await submit(a, 'a-again')).status).toBe(202);
  });
});
