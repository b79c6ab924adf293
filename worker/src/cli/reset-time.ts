/**
 * Reads the reset time out of a usage-limit message. The CLIs print a wall-clock time of day
 * ("resets 4:39am (UTC)", "try again at 4:39 AM."); workers run them with TZ=UTC, so it is
 * the next such UTC time after `now`. Returns undefined when there is no time in the message.
 */
export function parseResetTime(message: string, now: number): number | undefined {
  const m = /(?:resets|try again at)\s+(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?/i.exec(message);
  if (!m) return undefined;
  let hour = Number(m[1]) % 12;
  if (m[3]!.toLowerCase() === 'p') hour += 12;
  const minute = m[2] === undefined ? 0 : Number(m[2]);
  if (minute > 59) return undefined;
  const d = new Date(now);
  let at = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), hour, minute);
  if (at <= now) at += 86_400_000;
  return at;
}

/** The usage-limit messages of both CLIs (subscription exhausted, not a per-minute 429). */
export function isUsageLimitMessage(message: string): boolean {
  return /hit your (session |usage |weekly |daily |opus )?limit|usage limit/i.test(message);
}
