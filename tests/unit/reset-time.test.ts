import { describe, expect, it } from 'vitest';
import { isUsageLimitMessage, parseResetTime } from '@cli-bridge/worker';

const at = (iso: string) => Date.parse(iso);

describe('parseResetTime', () => {
  const now = at('2026-11-28T04:30:00Z');

  it('reads Claude and Codex times of day as the next such UTC time', () => {
    expect(parseResetTime("You've hit your session limit · resets 4:39am (UTC)", now)).toBe(
      at('2026-11-28T04:39:00Z'),
    );
    expect(parseResetTime('…or try again at 4:39 AM.', now)).toBe(at('2026-11-28T04:39:00Z'));
    expect(parseResetTime('resets 1am (UTC)', now)).toBe(at('2026-11-29T01:00:00Z'));
    expect(parseResetTime('resets 12pm (UTC)', now)).toBe(at('2026-11-28T12:00:00Z'));
    expect(parseResetTime('resets 12am (UTC)', now)).toBe(at('2026-11-29T00:00:00Z'));
  });

  it('treats a just-passed time as within the minute, not tomorrow (times are truncated)', () => {
    const justAfter = at('2026-11-28T04:39:40Z');
    expect(parseResetTime('resets 4:39am (UTC)', justAfter)).toBe(justAfter + 60_000);
  });

  it('reads dated forms', () => {
    expect(parseResetTime('resets Dec 2, 8am (UTC)', now)).toBe(at('2026-12-02T08:00:00Z'));
    expect(parseResetTime('try again at Nov 29th, 2026 4:39 AM.', now)).toBe(at('2026-11-29T04:39:00Z'));
    expect(parseResetTime('resets Jan 3, 8am (UTC)', now)).toBe(at('2027-01-03T08:00:00Z'));
  });

  it('returns undefined when there is no time', () => {
    expect(parseResetTime('API Error: Request rejected (429)', now)).toBeUndefined();
  });
});

describe('isUsageLimitMessage', () => {
  it('tells a subscription limit from a per-minute rate limit', () => {
    expect(isUsageLimitMessage("You've hit your session limit · resets 4:39am (UTC)")).toBe(true);
    expect(isUsageLimitMessage('You’ve hit your usage limit. Upgrade to Pro')).toBe(true);
    expect(
      isUsageLimitMessage(
        'API Error: Request rejected (429) · Number of request tokens has exceeded your per-minute rate limit',
      ),
    ).toBe(false);
  });
});
