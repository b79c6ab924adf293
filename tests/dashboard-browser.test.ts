/**
 * The dashboard in a real browser (headless Chromium through playwright-core) against a running
 * bridge with the fake CLIs: login (a wrong key refused), keys (create, a real request with the
 * shown key, its usage on the page, edit, reset, revoke), logs, queues (pause, a waiting job seen
 * and cancelled, resume), workers, and a key holder's /dashboard/me. Every page is watched for
 * console errors and CSP violations; a screenshot of each lands in test-results/screenshots/.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, ROOT } from './helpers/env.js';
import { CHROMIUM, launchBrowser, watchedPage, type WatchedPage } from './helpers/browser.js';
import { createHarness, postJson } from './helpers/harness.js';
import { createHolds } from '@cli-bridge/shared';

const built = existsSync(join(ROOT, 'dashboard/dist/index.html'));
const h = createHarness('dashui');
let url = '';
let browser: Browser;
let context: BrowserContext;
let w: WatchedPage;
/** The raw key the page showed once. */
let shownKey = '';

/** Ends a step: nothing went wrong in the browser since the last one. */
const noProblems = () => expect(w.take()).toEqual([]);
const text = (selector: string) => w.page.locator(selector);

beforeAll(async () => {
  if (!built) throw new Error('dashboard/dist is missing: run `npm run build` (npm test does it first)');
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (.ci/run installs it)`);
  url = (await h.startApi()).url;
  await h.startWorker(['claude']);
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  w = await watchedPage(context);
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await h.cleanup();
});

describe('admin dashboard', () => {
  it('refuses a wrong admin key', async () => {
    await w.page.goto(`${url}/dashboard`);
    await w.page.fill('input[name=key]', ADMIN_KEY.replace(/.$/, '!'));
    await w.page.click('button[type=submit]');
    await expect.poll(() => text('[role=alert]').textContent()).toBe('Invalid admin key');
    await w.screenshot('login');
    // The browser reports the refused login (401) as a failed resource: that one is expected.
    const problems = w.take();
    expect(problems.every((p) => /401/.test(p) && /\/admin\/session/.test(p))).toBe(true);
    // Nothing was kept: no cookie, no storage.
    expect(await context.cookies()).toEqual([]);
  });

  it('logs in with the admin key: an HttpOnly session cookie, the key kept nowhere', async () => {
    await w.page.fill('input[name=key]', ADMIN_KEY);
    await w.page.click('button[type=submit]');
    await w.page.getByRole('heading', { name: 'Overview' }).waitFor();
    const cookies = await context.cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([['cb_admin', true, 'Strict']]);
    expect(cookies[0]!.value).not.toContain(ADMIN_KEY);
    const stored = await w.page.evaluate<string>('JSON.stringify({ ...localStorage, ...sessionStorage })');
    expect(stored).not.toContain(ADMIN_KEY);
    expect(await w.page.evaluate<string>('document.cookie')).toBe('');
    noProblems();
  });

  it('creates a key and shows it once; the key works for a real request', async () => {
    await w.page.click('a[href="#/keys"]');
    await text('text=No keys yet').waitFor();
    await w.page.click('button:has-text("New key")');
    const dialog = w.page.locator('dialog[open]');
    await dialog.locator('input[name=name]').fill('alice');
    await dialog.locator('input[name=maxRequestsPerDay]').fill('5');
    await dialog.locator('button[type=submit]').click();
    const raw = w.page.locator('#raw-key');
    await raw.waitFor();
    shownKey = await raw.inputValue();
    expect(shownKey).toMatch(/^cbk_/);
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await w.page.click('dialog[open] button:has-text("Copy")');
    await w.page.locator('dialog[open] button:has-text("Copied")').waitFor();
    expect(await w.page.evaluate<string>('navigator.clipboard.readText()')).toBe(shownKey);
    await w.page.click('dialog[open] button:has-text("Done")');
    await w.page.locator('tr[data-key=alice]').waitFor();

    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: 'Be brief.', userPrompt: 'Say hi' },
      { authorization: `Bearer ${shownKey}` },
    );
    expect(res.status).toBe(200);
    noProblems();
  });

  it('shows the usage change by itself (auto-refresh) under an open dialog, edits a limit, resets', async () => {
    const row = w.page.locator('tr[data-key=alice]');
    const today = row.locator('.usage[title="Requests today"] .usage-num');
    // A dialog opened and half filled in before the refresh...
    await row.locator('button:has-text("Edit")').click();
    const dialog = w.page.locator('dialog[open]');
    await dialog.locator('input[name=maxRequestsPerDay]').fill('9');
    // ...the refresh brings the request's usage (no reload, no click)...
    await expect.poll(() => today.textContent(), { timeout: 15_000, interval: 250 }).toBe('1 / 5');
    // ...and leaves the dialog open with what was typed.
    expect(await dialog.count()).toBe(1);
    expect(await dialog.locator('input[name=maxRequestsPerDay]').inputValue()).toBe('9');
    await dialog.locator('button[type=submit]').click();
    await expect.poll(() => today.textContent()).toBe('1 / 9');
    expect(await w.page.locator('dialog[open]').count()).toBe(0);
    await w.screenshot('keys');

    await row.locator('button:has-text("Reset")').click();
    await w.page.click('dialog[open] button:has-text("Reset usage")');
    await expect.poll(() => today.textContent()).toBe('0 / 9');
    noProblems();
  });

  it('shows one key: its chart and its recent requests', async () => {
    await w.page.click('tr[data-key=alice] a');
    await w.page.getByRole('heading', { name: 'Key: alice' }).waitFor();
    await w.page.locator('table.logs tbody tr').first().waitFor();
    expect(await w.page.locator('table.logs tbody tr').count()).toBe(1);
    await w.screenshot('key');
    noProblems();
  });

  it('filters the logs, keeping the filter in the URL', async () => {
    await w.page.click('a[href="#/logs"]');
    await w.page.selectOption('select[name=key]', 'alice');
    await w.page.selectOption('select[name=status]', 'completed');
    await w.page.locator('table.logs tbody tr').first().waitFor();
    expect(w.page.url()).toContain('key=alice');
    await w.page.selectOption('select[name=status]', 'failed');
    await text('text=No requests yet').waitFor();
    await w.page.selectOption('select[name=status]', '');
    await w.page.locator('table.logs tbody tr').first().waitFor();
    await w.screenshot('logs');
    noProblems();
  });

  it('pauses a queue, shows a waiting job and cancels it, resumes the queue', async () => {
    await w.page.click('a[href="#/queues"]');
    const claude = w.page.locator('article[data-provider=claude]');
    await claude.locator('button:has-text("Pause")').click();
    await claude.locator('.badge:has-text("paused")').waitFor();

    const job = await postJson(
      `${url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: 'wait for me' },
      { authorization: `Bearer ${shownKey}` },
    );
    expect(job.status).toBe(202);
    const row = w.page.locator(`tr[data-job="${job.json.id}"]`);
    await row.waitFor({ timeout: 15_000 });
    await w.screenshot('queues');
    await row.locator('button:has-text("Cancel")').click();
    await w.page.click('dialog[open] button:has-text("Cancel job")');
    await row.waitFor({ state: 'detached' });
    const status = await fetch(`${url}/jobs/${job.json.id}`, {
      headers: { authorization: `Bearer ${shownKey}` },
    }).then((r) => r.json() as Promise<{ status: string }>);
    expect(status.status).toBe('cancelled');

    await claude.locator('button:has-text("Resume")').click();
    await claude.locator('.badge:has-text("running")').waitFor();

    // A finished job's own page: its answer's start.
    await w.page.click('[role=tab]:has-text("completed")');
    await w.page.locator('table.jobs tbody tr a').first().click();
    await w.page.getByRole('heading', { name: /^Job / }).waitFor();
    await w.page.locator('pre.preview').waitFor();
    expect(await w.page.locator('dl.detail').textContent()).toContain('alice');
    await w.screenshot('job');
    noProblems();
  });

  it('retries a failed job, then removes it', async () => {
    const job = await postJson(
      `${url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: '@@fake mode=error-401@@' },
      { authorization: `Bearer ${shownKey}` },
    );
    expect(job.status).toBe(202);
    const statusOf = () =>
      fetch(`${url}/jobs/${job.json.id}`, { headers: { authorization: `Bearer ${shownKey}` } })
        .then((r) => r.json() as Promise<{ status: string }>)
        .then((j) => j.status);
    await expect.poll(statusOf, { timeout: 10_000 }).toBe('failed');

    await w.page.click('a[href="#/queues"]');
    await w.page.click('[role=tab]:has-text("failed")');
    const row = w.page.locator(`tr[data-job="${job.json.id}"]`);
    await row.waitFor();
    expect(await row.locator('.err-text').textContent()).toMatch(/\S/);
    await row.locator('button:has-text("Retry")').click();
    await w.page.click('dialog[open] button:has-text("Retry")');
    await w.page.locator('dialog[open]').waitFor({ state: 'detached' });
    // It ran again (and failed again: same prompt): back in the failed list.
    await expect.poll(statusOf, { timeout: 10_000 }).toBe('failed');
    await w.page.click('[role=tab]:has-text("waiting")');
    await w.page.click('[role=tab]:has-text("failed")');
    await row.locator('button:has-text("Remove")').click();
    await w.page.click('dialog[open] button:has-text("Remove")');
    await row.waitFor({ state: 'detached' });
    noProblems();
  });

  it('shows a provider hold with a countdown and the held account, and clears it', async () => {
    // What a worker that met the subscription's usage limit leaves: its account's hold (the
    // worker's only account, so the whole provider is held).
    const holds = createHolds({ redis: h.redis, keys: h.keys, heartbeatMs: h.config.WORKER_HEARTBEAT_MS });
    await holds.set('claude', 'default', { until: Date.now() + 600_000, reason: 'usage_limit' });
    await w.page.click('a[href="#/overview"]');
    const badge = w.page.locator('tr:has(a:has-text("claude")) .badge');
    await expect.poll(() => badge.textContent()).toMatch(/^on hold, resets in (9m|10m 00s)/);
    await w.page.click('a[href="#/queues"]');
    const claude = w.page.locator('article[data-provider=claude]');
    await claude.locator('.hold time').waitFor();
    await claude.locator('li[data-account=default] .badge:has-text("held")').waitFor();
    await w.screenshot('queues-held');
    await claude.locator('button:has-text("Clear hold")').click();
    await claude.locator('.hold').waitFor({ state: 'detached' });
    await claude.locator('li[data-account=default] .badge:has-text("serving")').waitFor();
    expect(await holds.get('claude', 'default')).toBeUndefined();
    noProblems();
  });

  it('lists the running worker', async () => {
    await w.page.click('a[href="#/workers"]');
    const row = w.page.locator('table.workers tbody tr').first();
    await row.waitFor();
    expect(await row.textContent()).toContain('test-host');
    expect(await row.locator('.badge').textContent()).toBe('live');
    await w.screenshot('workers');
    noProblems();
  });

  it('shows the overview with data, and fits a narrow screen', async () => {
    await w.page.click('a[href="#/overview"]');
    await w.page.locator('.tile').first().waitFor();
    await w.page.locator('figure.chart canvas').first().waitFor();
    await w.screenshot('overview');
    await w.page.setViewportSize({ width: 390, height: 844 });
    await w.page.click('a[href="#/keys"]');
    await w.page.locator('tr[data-key=alice]').waitFor();
    expect(await w.page.evaluate<boolean>('document.documentElement.scrollWidth <= innerWidth')).toBe(true);
    await w.screenshot('keys-narrow');
    await w.page.setViewportSize({ width: 1280, height: 900 });
    noProblems();
  });
});

describe('a key holder page', () => {
  it('shows only that key: its usage against its limits and its own requests', async () => {
    // Another key's traffic, which alice's page must not show.
    const bob = await h.createKey(url, 'bob');
    expect(
      (
        await postJson(
          `${url}/generate`,
          { systemPrompt: '', userPrompt: 'bob here' },
          { authorization: `Bearer ${bob}` },
        )
      ).status,
    ).toBe(200);

    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    try {
      const me = await watchedPage(ctx);
      await me.page.goto(`${url}/dashboard/me`);
      await me.page.fill('input[name=key]', shownKey);
      await me.page.click('button[type=submit]');
      await me.page.getByRole('heading', { name: 'Usage of alice' }).waitFor();
      const cookies = await ctx.cookies();
      expect(cookies.map((c) => [c.name, c.path, c.httpOnly])).toEqual([['cb_me', '/me', true]]);
      // The same numbers the admin API has for alice (since the reset: the cancelled job, the
      // failed one and its retry), and alice's log entries, no more.
      const adminHeaders = { authorization: `Bearer ${ADMIN_KEY}` };
      const alice = (await fetch(`${url}/admin/keys/alice`, { headers: adminHeaders }).then((r) =>
        r.json(),
      )) as any;
      const aliceLogs = (await fetch(`${url}/admin/logs?key=alice`, { headers: adminHeaders }).then((r) =>
        r.json(),
      )) as any;
      expect(alice.usage.today.requests).toBe(3);
      expect(aliceLogs.logs.length).toBe(4);
      expect(await me.page.locator('.usage[title="Requests today"] .usage-num').textContent()).toBe('3 / 9');
      await me.page.locator('table.logs tbody tr').first().waitFor();
      expect(await me.page.locator('table.logs tbody tr').count()).toBe(aliceLogs.logs.length);
      const body = (await me.page.textContent('body'))!;
      expect(body).not.toContain('bob');
      await me.screenshot('me');
      // The admin pages stay closed to this browser.
      const admin = await me.page.request.get(`${url}/admin/keys`);
      expect(admin.status()).toBe(401);
      expect(me.take()).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});

describe('paging the logs', () => {
  it('pages through one key, and a refresh keeps the page', async () => {
    // 26 requests of one key: two pages of 25.
    const pagedKey = await h.createKey(url, 'bob2');
    const submits = Array.from({ length: 26 }, (_, i) =>
      postJson(
        `${url}/jobs`,
        { provider: 'claude', systemPrompt: '', userPrompt: `n${i}` },
        { authorization: `Bearer ${pagedKey}` },
      ),
    );
    for (const r of await Promise.all(submits)) expect(r.status).toBe(202);
    const logged = () =>
      fetch(`${url}/admin/logs?key=bob2&limit=100`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
        .then((r) => r.json())
        .then((j: any) => j.logs.length as number);
    await expect.poll(logged, { timeout: 20_000, interval: 200 }).toBe(26);

    await w.page.click('a[href="#/logs"]');
    await w.page.selectOption('select[name=key]', 'bob2');
    const pager = w.page.locator('nav.pager span');
    await expect.poll(() => pager.textContent()).toBe('Page 1');
    expect(await w.page.locator('table.logs tbody tr').count()).toBe(25);
    await w.page.click('nav.pager button:has-text("Older")');
    await expect.poll(() => pager.textContent()).toBe('Page 2');
    // The second page's answer replaces the first page's rows when it arrives.
    await expect.poll(() => w.page.locator('table.logs tbody tr').count()).toBe(1);
    expect(await w.page.locator('nav.pager button:has-text("Older")').isDisabled()).toBe(true);
    expect(w.page.url()).toMatch(/key=bob2.*page=2|page=2.*key=bob2/);
    // The next refresh (a new answer from /admin/logs) leaves the page where it is.
    await w.page.waitForResponse((r) => r.url().includes('/admin/logs?key=bob2'), { timeout: 15_000 });
    expect(await pager.textContent()).toBe('Page 2');
    noProblems();
  });
});

describe('revoking', () => {
  it('revokes a key after a confirmation', async () => {
    await w.page.click('a[href="#/keys"]');
    const row = w.page.locator('tr[data-key=alice]');
    await row.locator('button:has-text("Revoke")').click();
    await w.page.click('dialog[open] button:has-text("Revoke")');
    await row.waitFor({ state: 'detached' });
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'x' },
      { authorization: `Bearer ${shownKey}` },
    );
    expect(res.status).toBe(401);
    noProblems();
  });

  it('would see a CSP violation (the watch itself works)', async () => {
    // An inline style attribute and an inline script: both refused by the page's policy.
    await w.page.evaluate<void>(`
      document.body.setAttribute('style', 'color: red');
      const s = document.createElement('script');
      s.textContent = 'window.ranInline = true';
      document.body.append(s);
    `);
    await expect.poll(() => w.problems.filter((p) => p.startsWith('csp:')).length).toBe(2);
    expect(await w.page.evaluate<unknown>('window.ranInline')).toBeUndefined();
    w.take();
  });

  it('logs out', async () => {
    await w.page.click('button:has-text("Log out")');
    await w.page.locator('input[name=key]').waitFor();
    expect(await context.cookies()).toEqual([]);
    noProblems();
  });
});
