/**
 * Reads the reset time out of a usage-limit message. The CLIs print a wall-clock time
 * ("resets 4:39am (UTC)", "resets Oct 12, 8am (UTC)", "try again at 4:39 AM.",
 * "try again at Nov 29th, 2026 4:39 AM."); workers run them with TZ=UTC, so it is read as UTC.
 * The printed time is truncated to the minute, so a time up to a couple of minutes in the past
 * means "within the minute", not "tomorrow". Returns undefined when the message has no time.
 */
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const RESET =
  /(?:resets|try again at)\s+(?:([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(\d{4}),?\s+)?)?(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\b/i;
/** How far in the past a printed time may be and still mean "now" (truncation, clock skew). */
const JUST_PASSED_MS = 2 * 60_000;
const DAY_MS = 86_400_000;

/** Older Claude Code: "Claude AI usage limit reached|1759000000" (epoch seconds). */
const EPOCH_RESET = /usage limit reached\|(\d{10})\b/i;

export function parseResetTime(message: string, now: number): number | undefined {
  const e = EPOCH_RESET.exec(message);
  if (e) return Math.max(Number(e[1]) * 1000, now + 1_000);
  const m = RESET.exec(message);
  if (!m) return undefined;
  const [, mon, day, year, h, min, ampm] = m;
  const hour = (Number(h) % 12) + (ampm!.toLowerCase() === 'p' ? 12 : 0);
  const minute = min === undefined ? 0 : Number(min);
  if (minute > 59) return undefined;
  const today = new Date(now);
  let at: number;
  if (mon !== undefined) {
    const month = MONTHS.indexOf(mon.toLowerCase());
    if (month < 0) return undefined;
    const y = year === undefined ? today.getUTCFullYear() : Number(year);
    at = Date.UTC(y, month, Number(day), hour, minute);
    if (year === undefined && at < now - DAY_MS) at = Date.UTC(y + 1, month, Number(day), hour, minute);
  } else {
    at = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), hour, minute);
    if (at <= now - JUST_PASSED_MS) at += DAY_MS;
  }
  // Truncated to the minute: the real reset is somewhere in that minute.
  return at <= now ? now + 60_000 : at;
}

/**
 * Claude's reply when the month's Agent SDK credit ("extra usage") is spent:
 * `API Error: 400 You're out of extra usage. Add more at claude.ai/settings/usage and keep going.`
 * No reset time: it renews on the 1st (or when more is bought).
 */
export function isExtraUsageExhausted(message: string): boolean {
  return /out of extra usage/i.test(message);
}

/** The usage-limit messages of both CLIs (subscription exhausted, not a per-minute 429). */
export function isUsageLimitMessage(message: string): boolean {
  return /hit your (session |usage |weekly |daily |opus )?limit|usage limit/i.test(message);
}
