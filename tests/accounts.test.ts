/**
 * Several accounts per provider, each a fake CLI login in its own config directory: a worker in
 * its own OS process serves `first` and `second` of Claude and of Codex. `first` answers each
 * usage-limit form the CLIs print (Claude's session and weekly texts in JSON, its stream-json
 * `rate_limit_event`, "out of extra usage"; Codex's usage limit): no job fails, the job goes back
 * to the queue and runs on `second`, the hold of `first` is visible with its reset, a sync
 * request while every account is held gets 429 provider_exhausted at once, /ready says the
 * provider cannot serve; after a short reset the worker's probe lifts the hold by itself.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHolds, nextMonthStart, type Provider } from '@cli-bridge/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readRecords, waitFor, type FakeRecord } from './helpers/records.js';

const recordDir = tempDir('accounts-records');
const home = tempDir('accounts-home');
const dir = (provider: Provider, account: string) => join(home, `${provider}-${account}`);
for (const p of ['claude', 'codex'] as const)
  for (const a of ['first', 'second']) mkdirSync(dir(p, a), { recursive: true });

const h = createHarness('accounts', {
  FAKE_CLI_RECORD_DIR: recordDir,
  CLAUDE_ACCOUNTS: `first=${dir('claude', 'first')},second=${dir('claude', 'second')}:1`,
  CODEX_ACCOUNTS: `first=${dir('codex', 'first')}:1,second=${dir('codex', 'second')}:1`,
  WORKER_CONCURRENCY_CLAUDE: '1',
  ACCOUNT_HOLD_POLL_MS: '200',
  SYNC_WAIT_TIMEOUT_MS: '20000',
});
const holds = createHolds({ redis: h.redis, keys: h.keys, heartbeatMs: 500 });
let url = '';
let key = '';
let worker: Awaited<ReturnType<typeof h.spawnWorker>>;
const auth = () => ({ authorization: `Bearer ${key}` });
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const getJson = async (path: string, headers: Record<string, string> = auth()) => {
  const res = await fetch(`${url}${path}`, { headers });
  return (await res.json()) as any;
};

/** The fake CLIs of an account answer `mode` (see tests/fixtures/README.md) until reset. */
function fakeAccount(provider: Provider, account: string, cfg: Record<string, unknown> | null) {
  const file = join(dir(provider, account), 'fake-account.json');
  if (cfg) writeFileSync(file, JSON.stringify(cfg));
  else rmSync(file, { force: true });
}

/** How many times the worker logged that `account` of `provider` turned held (or free). */
const turned = (provider: Provider, account: string, held: boolean) =>
  worker.logs.filter(
    (l) =>
      l.provider === provider && l.account === account && l.held === held && l.component === 'account-gate',
  ).length;

/** Whether the worker has `account` paused now (it logs each change). */
const pausedInWorker = (provider: Provider, account: string) =>
  turned(provider, account, true) > turned(provider, account, false);

/** Holds `account` by hand (as another box would) and waits until the worker has paused it. */
async function holdByHand(provider: Provider, account: string, until: number) {
  await holds.set(provider, account, { until, reason: 'usage_limit' });
  await waitFor(() => pausedInWorker(provider, account), 5_000, `${account} paused`);
}

/** After each test: every hold lifted, every account serving, every fake answering normally. */
async function reset() {
  for (const p of ['claude', 'codex'] as const) {
    // Without ?account=, clear-hold lifts every account's hold.
    expect((await postJson(`${url}/admin/queues/${p}/clear-hold`, {}, admin)).json.accounts).toEqual([
      expect.objectContaining({ name: 'first', hold: null }),
      expect.objectContaining({ name: 'second', hold: null }),
    ]);
    for (const a of ['first', 'second']) {
      fakeAccount(p, a, null);
      await waitFor(() => !pausedInWorker(p, a), 5_000, `${p} ${a} serving`);
    }
  }
}

const runsOf = (marker: string): FakeRecord[] =>
  readRecords(recordDir).filter((r) => r.stdin.includes(marker));
const accountOf = (r: FakeRecord) => r.env.CLAUDE_CONFIG_DIR ?? r.env.CODEX_HOME;

beforeAll(async () => {
  url = (await h.startApi()).url;
  worker = await h.spawnWorker({ LOG_LEVEL: 'info' });
  key = await h.createKey(url, 'fleet');
});
afterEach(reset);
afterAll(() => h.cleanup());

interface Form {
  name: string;
  provider: Provider;
  /** Sync (/generate, JSON output) or async (POST /jobs: streamed, Claude's stream-json). */
  sync: boolean;
  fake: (now: number) => Record<string, unknown>;
  reason: string;
  /** The hold's expected end, and how far from it the hold may be (ms). */
  until: (now: number) => number;
  slackMs: number;
}

const HOUR = 3_600_000;
const forms: Form[] = [
  {
    name: 'claude: "You\'ve hit your session limit · resets 4:39am (UTC)"',
    provider: 'claude',
    sync: true,
    fake: (now) => ({ mode: 'usage-limit', reset_at: now + 3 * HOUR }),
    reason: 'usage_limit',
    until: (now) => now + 3 * HOUR,
    slackMs: 61_000, // printed to the minute
  },
  {
    name: 'claude: "You\'ve hit your weekly limit · resets Oct 12, 8am (UTC)"',
    provider: 'claude',
    sync: true,
    fake: (now) => ({ mode: 'usage-limit', limit: 'weekly', reset_at: now + 50 * HOUR }),
    reason: 'usage_limit',
    until: (now) => now + 50 * HOUR,
    slackMs: 61_000, // printed to the minute (":00" left out)
  },
  {
    name: 'claude stream-json: the rate_limit_event resetsAt (to the second)',
    provider: 'claude',
    sync: false,
    fake: (now) => ({ mode: 'usage-limit', reset_at: now + 2 * HOUR }),
    reason: 'usage_limit',
    until: (now) => now + 2 * HOUR,
    slackMs: 5_000,
  },
  {
    name: 'claude: "API Error: 400 You\'re out of extra usage" (until the 1st)',
    provider: 'claude',
    sync: true,
    fake: () => ({ mode: 'extra-usage' }),
    reason: 'extra_usage_exhausted',
    until: (now) => nextMonthStart(now),
    slackMs: 0,
  },
  {
    name: 'codex: "You’ve hit your usage limit … try again at 4:39 AM."',
    provider: 'codex',
    sync: true,
    fake: (now) => ({ mode: 'usage-limit', reset_at: now + 3 * HOUR }),
    reason: 'usage_limit',
    until: (now) => now + 3 * HOUR,
    slackMs: 61_000,
  },
];

describe('a usage limit on one account', () => {
  it.each(forms)('$name: no job fails, the job moves to the other account', async (form) => {
    const p = form.provider;
    const marker = `form-${forms.indexOf(form)}`;
    // `second` is held (by another box, say): the job can only go to `first`.
    await holdByHand(p, 'second', Date.now() + 100 * 24 * HOUR);
    const now = Date.now();
    fakeAccount(p, 'first', form.fake(now));
    const heldBefore = turned(p, 'first', true);

    let jobId: string;
    if (form.sync) {
      // Every account is then held past the sync wait: 429 at once, with the job and the reset.
      const t0 = Date.now();
      const res = await postJson(
        `${url}/${p === 'claude' ? 'generate' : 'generate-codex'}`,
        { systemPrompt: '', userPrompt: marker },
        auth(),
      );
      expect(res.status, res.text).toBe(429);
      expect(Date.now() - t0).toBeLessThan(3_000);
      expect(res.json.error).toMatchObject({
        type: 'provider_exhausted',
        job_id: expect.any(String),
        resets_at: expect.any(String),
      });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(60);
      jobId = res.json.error.job_id;
    } else {
      const res = await postJson(
        `${url}/jobs`,
        { provider: p, systemPrompt: '', userPrompt: marker },
        auth(),
      );
      expect(res.status).toBe(202);
      jobId = res.json.id;
    }
    await waitFor(() => turned(p, 'first', true) > heldBefore, 5_000, 'first held');

    // The hold of `first`, with its reset and why.
    const hold = (await holds.get(p, 'first'))!;
    expect(hold.reason).toBe(form.reason);
    expect(Math.abs(hold.until - form.until(now))).toBeLessThanOrEqual(form.slackMs);

    // The job waits for a reset, not failed; the provider is exhausted until the first reset.
    const view = await waitFor(async () => {
      const v = await getJson(`/jobs/${jobId}`);
      return v.status === 'waiting_for_reset' ? v : undefined;
    });
    expect(Date.parse(view.resets_at)).toBe(Math.min(hold.until, (await holds.get(p, 'second'))!.until));
    const listed = await getJson('/jobs?status=waiting_for_reset');
    expect(listed.jobs.map((j: any) => [j.id, j.resets_at])).toEqual([[jobId, view.resets_at]]);
    const ready = await getJson('/ready', {});
    expect(ready.providers[p]).toMatchObject({ ready: false, held_until: view.resets_at });
    // The admin view: the provider-wide hold (every account held) and each account's.
    const queue = (await getJson('/admin/queues', admin)).queues.find((q: any) => q.provider === p);
    expect(queue.hold).toMatchObject({ until: view.resets_at });
    expect(queue.accounts.map((a: any) => [a.name, a.hold?.reason ?? null])).toEqual([
      ['first', form.reason],
      ['second', 'usage_limit'],
    ]);
    expect(Date.parse(queue.accounts[0].hold.until)).toBe(hold.until);

    // A new sync request is refused at admission, at once.
    const t1 = Date.now();
    const refused = await postJson(
      `${url}/${p === 'claude' ? 'generate' : 'generate-codex'}`,
      { systemPrompt: '', userPrompt: `${marker} refused` },
      auth(),
    );
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatchObject({ type: 'provider_exhausted', resets_at: view.resets_at });
    expect(Date.now() - t1).toBeLessThan(1_000);

    // `second`'s hold is lifted by hand: the job runs there and completes.
    const cleared = await postJson(`${url}/admin/queues/${p}/clear-hold?account=second`, {}, admin);
    expect(cleared.status).toBe(200);
    expect(cleared.json.hold).toBeNull();
    expect(cleared.json.accounts.map((a: any) => [a.name, a.hold?.reason ?? null])).toEqual([
      ['first', form.reason],
      ['second', null],
    ]);
    const done = await waitFor(async () => {
      const v = await getJson(`/jobs/${jobId}`);
      return ['completed', 'failed'].includes(v.status) ? v : undefined;
    }, 10_000);
    expect(done.status).toBe('completed');
    expect(done.result.content[0].text).toBe(`Echo: ${marker}`);
    const runs = runsOf(marker).filter((r) => !r.stdin.includes('refused'));
    expect(runs.map((r) => [accountOf(r), r.mode])).toEqual([
      [dir(p, 'first'), form.fake(now).mode],
      [dir(p, 'second'), 'success'],
    ]);
  });

  it('bills nothing as a failure: the key sees only completed requests', async () => {
    const logs = await getJson('/admin/logs?key=fleet&limit=100', admin);
    const entries = logs.logs;
    expect(entries.length).toBe(forms.length);
    expect(entries.every((e: any) => e.status === 'completed')).toBe(true);
  });
});

describe('the probe after the reset', () => {
  it('lifts the hold by itself once the account answers again', async () => {
    await holdByHand('claude', 'second', Date.now() + 100 * 24 * HOUR);
    // `first` answers the limit for 2 s (stream-json gives the reset to the second: a whole one).
    const resetAt = Math.ceil((Date.now() + 2_000) / 1000) * 1000;
    fakeAccount('claude', 'first', { mode: 'usage-limit', reset_at: resetAt });
    const res = await postJson(
      `${url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: 'probe-me' },
      auth(),
    );
    expect(res.status).toBe(202);
    await waitFor(async () => (await holds.get('claude', 'first')) !== undefined, 5_000, 'first held');
    // After the reset one worker probes `first`; its success lifts the hold, and the job runs.
    const done = await waitFor(async () => {
      const v = await getJson(`/jobs/${res.json.id}`);
      return v.status === 'completed' ? v : undefined;
    }, 15_000);
    expect(done.result.content[0].text).toBe('Echo: probe-me');
    expect(await holds.get('claude', 'first')).toBeUndefined();
    const probes = runsOf('Reply with the single word OK.').filter(
      (r) => accountOf(r) === dir('claude', 'first'),
    );
    expect(probes.length).toBeGreaterThanOrEqual(1);
    expect(probes.at(-1)!.mode).toBe('success');
    const runs = runsOf('probe-me');
    expect(runs.map((r) => [accountOf(r), r.mode])).toEqual([
      [dir('claude', 'first'), 'usage-limit'],
      [dir('claude', 'first'), 'success'],
    ]);
  });
});

describe('several boxes serving the same accounts', () => {
  it('share the holds: a limit one box meets pauses the account on the other', async () => {
    const other = await h.spawnWorker({ LOG_LEVEL: 'info' });
    const turnedIn = (w: typeof other, account: string) =>
      w.logs
        .filter((l) => l.component === 'account-gate' && l.provider === 'claude' && l.account === account)
        .at(-1)?.held === true;
    try {
      await holdByHand('claude', 'second', Date.now() + 100 * 24 * HOUR);
      await waitFor(() => turnedIn(other, 'second'), 5_000, 'second paused on the other box');
      fakeAccount('claude', 'first', { mode: 'usage-limit', reset_at: Date.now() + 3 * HOUR });
      const res = await postJson(
        `${url}/jobs`,
        { provider: 'claude', systemPrompt: '', userPrompt: 'two-boxes' },
        auth(),
      );
      expect(res.status).toBe(202);
      // Whichever box ran it, both stop taking jobs on `first`.
      await waitFor(
        () => pausedInWorker('claude', 'first') && turnedIn(other, 'first'),
        5_000,
        'first paused on both',
      );
      const [run] = runsOf('two-boxes');
      expect([worker.proc.pid, other.proc.pid]).toContain(run!.ppid);
      await holds.clear('claude');
      await waitFor(
        async () => (await getJson(`/jobs/${res.json.id}`)).status === 'completed',
        10_000,
        'the job',
      );
    } finally {
      await other.stop();
    }
  });
});
