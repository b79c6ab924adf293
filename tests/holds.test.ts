/**
 * The hold model (shared/src/holds.ts) against a real Redis: a provider is exhausted only while
 * every LIVE account has an active hold; a hold past its time no longer counts (its probe is due)
 * but stays until lifted; a lift that raced a newer hold leaves the newer one.
 */
import { createHolds } from '@cli-bridge/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { createHarness } from './helpers/harness.js';

const h = createHarness('holds');
let clock = Date.parse('2026-12-02T12:00:00Z');
const holds = createHolds({ redis: h.redis, keys: h.keys, heartbeatMs: 1_000, now: () => clock });
afterAll(() => h.cleanup());

describe('holds', () => {
  it('exhausted: every live account held, until the earliest reset', async () => {
    expect(await holds.exhausted('claude')).toBeUndefined(); // no live account: not "exhausted"
    await holds.announce('claude', ['a', 'b']);
    await holds.set('claude', 'a', { until: clock + 60_000, reason: 'usage_limit' });
    expect(await holds.exhausted('claude')).toBeUndefined(); // b serves
    await holds.set('claude', 'b', { until: clock + 30_000, reason: 'extra_usage_exhausted' });
    expect(await holds.exhausted('claude')).toEqual({ until: clock + 30_000 });
    expect(await holds.exhausted('codex')).toBeUndefined();

    // b's reset passes: it is due for its probe, so the provider is no longer exhausted, but the
    // hold stays (the admin view still shows it) until the probe or a person lifts it.
    clock += 31_000;
    expect(await holds.exhausted('claude')).toBeUndefined();
    expect((await holds.get('claude', 'b'))?.reason).toBe('extra_usage_exhausted');

    // An account no worker announces any more (3 beats) does not keep the provider serving.
    clock -= 31_000;
    await holds.announce('claude', ['a']);
    clock += 2_500;
    await holds.announce('claude', ['a']);
    await holds.clear('claude', 'b');
    expect((await holds.liveAccounts('claude')).sort()).toEqual(['a', 'b']);
    clock += 1_000; // b last announced 3.5 s ago
    await holds.announce('claude', ['a']);
    expect(await holds.liveAccounts('claude')).toEqual(['a']);
    expect(await holds.exhausted('claude')).toEqual({ until: Date.parse('2026-12-02T12:01:00Z') });
    expect((await holds.accounts('claude')).map((x) => [x.name, x.hold?.reason ?? null])).toEqual([
      ['a', 'usage_limit'],
    ]);
  });

  it('clearIf lifts only the hold it read; clear without an account lifts them all', async () => {
    const old = await holds.set('codex', 'x', { until: clock + 1_000, reason: 'usage_limit' });
    const renewed = await holds.set('codex', 'x', {
      until: clock + 9_000,
      reason: 'usage_limit',
      setAt: clock + 1,
    });
    expect(await holds.clearIf('codex', 'x', old)).toBe(false);
    expect(await holds.get('codex', 'x')).toEqual(renewed);
    expect(await holds.clearIf('codex', 'x', renewed)).toBe(true);
    await holds.set('codex', 'x', { until: clock + 1_000, reason: 'usage_limit' });
    await holds.set('codex', 'y', { until: clock + 1_000, reason: 'credit_stop' });
    expect(await holds.clear('codex')).toBe(2);
    expect((await holds.list('codex')).size).toBe(0);
  });
});
