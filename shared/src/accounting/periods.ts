/** UTC days and months: the periods of the day/month limits and counters. */

/** `YYYY-MM-DD` of `now` in UTC. */
export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

/** `YYYY-MM` of `now` in UTC. */
export function utcMonth(now: number): string {
  return new Date(now).toISOString().slice(0, 7);
}

/** Whole minutes since the epoch: the bucket of the per-minute limit. */
export function epochMinute(now: number): number {
  return Math.floor(now / 60_000);
}

/** Seconds until the next UTC midnight (at least 1). */
export function secondsToNextDay(now: number): number {
  const d = new Date(now);
  return Math.max(
    1,
    Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - now) / 1000),
  );
}

/** Seconds until the first instant of next UTC month (at least 1). */
export function secondsToNextMonth(now: number): number {
  const d = new Date(now);
  return Math.max(1, Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - now) / 1000));
}

/** Seconds until the next whole minute (at least 1). */
export function secondsToNextMinute(now: number): number {
  return Math.max(1, Math.ceil(((epochMinute(now) + 1) * 60_000 - now) / 1000));
}

/** Day counters live a little over a month, month counters a little over a year. */
export const DAY_COUNTER_TTL_S = 35 * 86_400;
export const MONTH_COUNTER_TTL_S = 400 * 86_400;
