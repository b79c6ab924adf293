/**
 * The Agent SDK credit per Claude account: every run's reported cost is added to the account's
 * month in Redis; at CLAUDE_ACCOUNT_CREDIT_STOP_SHARE of its credit the account is held until the
 * 1st (reason `credit_stop`) and jobs go to the other account; with every account held, a sync
 * request is refused at once.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createAccountCredit, createHolds, nextMonthStart } from '@cli-bridge/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('credit-records');
const home = tempDir('credit-home');
const dir = (a: string) => join(home, a);
for (const a of ['solo', 'spare']) mkdirSync(dir(a));

const h = createHarness('credit', {
  FAKE_CLI_RECORD_DIR: recordDir,
  CLAUDE_ACCOUNTS: `solo=${dir('solo')}:1,spare=${dir('spare')}:1`,
  CLAUDE_ACCOUNT_CREDIT_USD: 'solo=1',
  CLAUDE_ACCOUNT_CREDIT_STOP_SHARE: '0.5',
  ACCOUNT_HOLD_POLL_MS: '200',
});
const holds = createHolds({ redis: h.redis, keys: h.keys, heartbeatMs: 500 });
const credit = createAccountCredit({ redis: h.redis, keys: h.keys });
let url = '';
let key = '';
let worker: Awaited<ReturnType<typeof h.spawnWorker>>;
const ask = (prompt: string) =>
  postJson(`${url}/generate`, { systemPrompt: '', userPrompt: prompt }, { authorization: `Bearer ${key}` });
const getJson = async (path: string) =>
  (await (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as any;
const paused = (account: string) =>
  worker.logs.filter((l) => l.component === 'account-gate' && l.account === account).at(-1)?.held === true;

beforeAll(async () => {
  url = (await h.startApi()).url;
  worker = await h.spawnWorker({ WORKER_PROVIDERS: 'claude', LOG_LEVEL: 'info' });
  key = await h.createKey(url);
});
afterAll(() => h.cleanup());

describe('the Agent SDK credit', () => {
  it('sums each run of an account; past the stop share the account is held until the 1st', async () => {
    // `spare` is held: every job goes to `solo`.
    await holds.set('claude', 'spare', { until: Date.now() + 3_600_000, reason: 'usage_limit' });
    await waitFor(() => paused('spare'), 5_000, 'spare paused');
    expect((await ask('first @@fake cost=0.3@@')).status).toBe(200);
    // The account's spend is recorded just after the answer goes out.
    await waitFor(async () => (await credit.spent('claude', 'solo')).runs === 1, 2_000, 'the spend');
    expect(await credit.spent('claude', 'solo')).toMatchObject({ costMicros: 300_000, runs: 1 });
    expect(await holds.get('claude', 'solo')).toBeUndefined();

    // $0.60 of $1 passes the 0.5 share: `solo` is held until the credit renews.
    expect((await ask('second @@fake cost=0.3@@')).status).toBe(200);
    await waitFor(async () => (await credit.spent('claude', 'solo')).runs === 2, 2_000, 'the spend');
    expect(await credit.spent('claude', 'solo')).toMatchObject({ costMicros: 600_000, runs: 2 });
    const hold = await waitFor(() => holds.get('claude', 'solo'), 5_000, 'solo held');
    expect(hold).toMatchObject({ reason: 'credit_stop', until: nextMonthStart(Date.now()) });
    expect(hold.message).toMatch(/spent \$0\.60 of its \$1 Agent SDK credit/);

    // The admin view: spend, what is left, the projection at this month's burn rate, the hold.
    const now = Date.now();
    const queue = (await getJson('/admin/queues')).queues.find((q: any) => q.provider === 'claude');
    const solo = queue.accounts.find((a: any) => a.name === 'solo');
    expect(solo.hold).toMatchObject({
      reason: 'credit_stop',
      until: new Date(nextMonthStart(now)).toISOString(),
    });
    expect(solo.credit).toMatchObject({
      spent_usd: 0.6,
      runs: 2,
      credit_usd: 1,
      remaining_usd: expect.closeTo(0.4, 9),
      used_share: 0.6,
      stop_share: 0.5,
    });
    const d = new Date(now);
    const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    const runsOut = now + 0.4 / (0.6 / (now - monthStart));
    if (runsOut < nextMonthStart(now)) {
      expect(Math.abs(Date.parse(solo.credit.projected_exhaustion_at) - runsOut)).toBeLessThan(60_000);
    } else expect(solo.credit.projected_exhaustion_at).toBeNull();
    // An account without a configured credit shows its spend only.
    expect(queue.accounts.find((a: any) => a.name === 'spare').credit).toMatchObject({ credit_usd: null });

    // Both held: refused at once, with when the first of them resets.
    const t0 = Date.now();
    const refused = await ask('third');
    expect(refused.status).toBe(429);
    expect(refused.json.error.type).toBe('provider_exhausted');
    expect(Date.now() - t0).toBeLessThan(1_000);

    // `spare` serves again: the next job runs there, and its spend is its own.
    await holds.clear('claude', 'spare');
    await waitFor(() => !paused('spare'), 5_000, 'spare serving');
    expect((await ask('fourth @@fake cost=0.1@@')).status).toBe(200);
    const fourth = readRecords(recordDir).find((r) => r.stdin.includes('fourth'))!;
    expect(fourth.env.CLAUDE_CONFIG_DIR).toBe(dir('spare'));
    await waitFor(async () => (await credit.spent('claude', 'spare')).runs === 1, 2_000, 'the spend');
    expect(await credit.spent('claude', 'spare')).toMatchObject({ costMicros: 100_000, runs: 1 });
  });
});
